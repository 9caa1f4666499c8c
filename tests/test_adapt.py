"""train --adapt (AdaBN): BatchNorm moving statistics re-estimated on frames, nothing else."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_cli


def _frames_dir(root, n=20, size=40, seed=5):
    """Device frames unlike the training shapes: dark, reddish, noisy."""
    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        img = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
        img[..., 0] += 120
        cv2.imwrite(str(root / "sub" / f"f{i}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def test_adapt_changes_batchnorm_statistics_and_nothing_else(trained_run, tmp_path):
    from edgeposinv.training.adapt import adapt_batchnorm, batchnorm_layers, load_frames
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.runs import load_keras_model, read_run

    model = load_keras_model(read_run(trained_run))
    frames = load_frames(_frames_dir(tmp_path / "frames"), 32)
    assert frames.shape == (20, 32, 32, 3)
    bns = batchnorm_layers(model)
    assert len(bns) == 4
    stat_ids = {id(v) for bn in bns for v in (bn.moving_mean, bn.moving_variance)}
    before = {id(v): v.numpy().copy() for v in model.weights}

    summary = adapt_batchnorm(model, frames, batch_size=8)

    assert summary["layers"] == 4 and summary["frames"] == 20 and summary["mean_shift_std"] > 0.1
    changed = [v.name for v in model.weights if not np.array_equal(v.numpy(), before[id(v)])]
    assert changed and all(id(v) in stat_ids for v in model.weights if v.name in changed)
    for v in model.weights:
        if id(v) not in stat_ids:
            assert np.array_equal(v.numpy(), before[id(v)]), f"{v.name} changed"
    for bn in bns:
        assert not np.allclose(bn.moving_mean.numpy(), before[id(bn.moving_mean)])
    # Each layer now normalises the frames exactly: inference output has mean beta, std gamma.
    for bn in bns:
        out = keras.Model(model.inputs, bn.output)(frames.astype(np.float32), training=False)
        out = out.numpy().reshape(-1, out.shape[-1])
        gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
        np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-3)
        var = bn.moving_variance.numpy()
        expected_std = np.abs(gamma) * np.sqrt(var / (var + bn.epsilon))
        np.testing.assert_allclose(out.std(axis=0), expected_std, rtol=1e-2, atol=1e-3)


@pytest.mark.slow
def test_train_adapt_records_it_and_refuses_a_missing_folder(shapes_dir, tmp_path):
    frames = _frames_dir(tmp_path / "frames")
    run = tmp_path / "run"
    done = run_cli(
        "train", str(shapes_dir), "--out", str(run), "--image-size", "32", "--epochs", "1",
        "--batch-size", "16", "--augment", "none", "--adapt", str(frames),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["adapt_dir"] == str(frames)
    assert config["result"]["adapt"]["frames"] == 20 and config["result"]["adapt"]["layers"] == 4

    missing = run_cli(
        "train", str(shapes_dir), "--out", str(tmp_path / "r2"), "--adapt", str(tmp_path / "nope"),
    )  # fmt: skip
    assert missing.returncode == 1
    assert "--adapt" in missing.stderr and "nope" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "r2").exists()
