"""Backbones: local pretrained weights by path, the offline 'imagenet' error, anti-aliasing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from edgeposinv.errors import ConfigError, ModelError

WEIGHTS = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"


def test_shared_pretrained_weights_load_by_path():
    import h5py

    from edgeposinv.training.models import build_model

    path = shared_path("weights", WEIGHTS)
    model = build_model("mobilenet_v2", 96, 3, weights=str(path), alpha=0.35)
    with h5py.File(path, "r") as f:
        stored = np.array(f["Conv1"]["Conv1"]["kernel:0"])
    np.testing.assert_allclose(model.get_layer("Conv1").get_weights()[0], stored)
    out = model(np.full((1, 96, 96, 3), 128.0, np.float32)).numpy()
    assert out.shape == (1, 3) and abs(out.sum() - 1) < 1e-5


def test_offline_imagenet_error_says_where_to_put_the_file(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    from edgeposinv.training.models import build_model

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    try:
        urllib.request.urlopen("https://storage.googleapis.com/", timeout=5)
        online = True
    except urllib.error.HTTPError:
        online = True
    except Exception:  # noqa: BLE001 - offline, as on the project's machines: the real path
        online = False
    if online:  # this machine can download: simulate an offline one

        def offline(*a, **k):
            raise OSError("network is unreachable (simulated offline machine)")

        monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelError) as e:
        build_model("mobilenet_v2", 96, 3, weights="imagenet", alpha=0.35)
    msg = str(e.value)
    assert (
        str(
            tmp_path
            / "models"
            / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
        )
        in msg
    )
    assert "set 'weights' to a local file" in msg and e.value.params == ("weights",)


def test_bad_weights_and_sizes_are_clear():
    from edgeposinv.training.models import build_model

    with pytest.raises(ConfigError, match="no such file"):
        build_model("mobilenet_v2", 96, 3, weights="/nonexistent/w.h5")
    with pytest.raises(ConfigError, match=r"\[96, 224\]"):
        build_model("mobilenet_v2", 64, 3, weights="none")
    with pytest.raises(ConfigError, match="alpha"):
        build_model("mobilenet_v2", 96, 3, weights="none", alpha=0.6)


def test_antialias_inserts_fixed_blurs_and_from_scratch_bn_momentum():
    from edgeposinv.training.backbones import FROM_SCRATCH_BN_MOMENTUM
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.models import build_model

    plain = build_model("mobilenet_v2", 96, 2, weights="none")
    aa = build_model("mobilenet_v2", 96, 2, weights="none", antialias=True)
    blurs = [layer for layer in aa.layers if layer.name.startswith("aa_blur")]
    n_strided = sum(tuple(getattr(layer, "strides", (1, 1))) == (2, 2) for layer in plain.layers)
    assert len(blurs) == n_strided >= 4
    assert all(not b.trainable for b in blurs)
    np.testing.assert_allclose(blurs[0].get_weights()[0][:, :, 0, 0].sum(), 1.0, rtol=1e-6)
    bns = [layer for layer in plain.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(b.momentum == FROM_SCRATCH_BN_MOMENTUM for b in bns)
    tiny = build_model("tiny", 32, 2, antialias=True)
    assert sum(layer.name.startswith("aa_blur") for layer in tiny.layers) == 3
    v3 = build_model("mobilenet_v3_small", 96, 2, weights="none", minimalistic=True, alpha=1.0)
    assert v3.output_shape == (None, 2)
