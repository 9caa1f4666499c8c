"""Near-duplicate groups from backbone features (``--near-duplicates features``): the
numeric linking (fast) and MobileNetV2-0.35 features on planted "same scene, different
moment" pairs that a perceptual hash misses (slow: builds the backbone)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_path
from test_honest_validation import _scene

from edgeposinv.data.duplicates import FEATURE_SIMILARITY, cluster, hash_images, link_similar
from edgeposinv.errors import ParameterError


def test_link_similar_joins_close_embeddings_within_a_class_only():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 64))
    x = np.concatenate([centres, centres[:4] + 0.05 * rng.normal(size=(4, 64))])
    strata = np.array([0] * 5 + [1] * 5 + [0, 0, 1, 1])
    # rows 12, 13: near copies of photos 2 and 3 (class 0) filed under class 1
    g = link_similar(x, strata, 0.85)
    assert g[0] == g[10] and g[1] == g[11] and g[0] != g[1] and g[0] is not None
    assert g[2] is None and g[3] is None and g[12] is None  # no link across classes
    assert all(g[i] is None for i in range(4, 10))


def test_union_of_hash_and_feature_groups():
    from edgeposinv.data.names import union_groups

    a = ["x", "x", None, None, None]
    b = [None, "y", "y", None, "z"]
    u = union_groups(a, b)
    assert u[0] == u[1] == u[2] and u[0] is not None
    assert u[3] is None and u[4] is None  # a group of one is no group


def test_near_duplicates_setting_maps_old_booleans_and_rejects_unknown():
    from edgeposinv.training.train import TrainConfig

    assert TrainConfig(near_duplicates=True).near_duplicates == "hash"
    assert TrainConfig(near_duplicates=False).near_duplicates == "off"
    assert TrainConfig(near_duplicates="hash+features").near_duplicates == "hash+features"
    with pytest.raises(ParameterError, match="near_duplicates"):
        TrainConfig(near_duplicates="clip")


def _moving_pair(rng: np.random.Generator, size: int = 160) -> list[np.ndarray]:
    """Two frames of one scene: a square moved by 12 px (7.5%) over a fixed background."""
    low = rng.integers(0, 255, (4, 4, 3)).astype(np.uint8)
    bg = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(3):
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        c = tuple(int(v) for v in rng.integers(10, size - 10, 2))
        cv2.circle(bg, c, int(rng.integers(10, 30)), colour, -1)
    colour = tuple(int(v) for v in rng.integers(0, 255, 3))
    x, y = (int(v) for v in rng.integers(40, size - 60, 2))
    frames = []
    for dx in (0, 12):
        img = bg.copy()
        cv2.rectangle(img, (x + dx, y), (x + dx + 30, y + 30), colour, -1)
        frames.append(img)
    return frames


@pytest.mark.slow
def test_features_join_moved_scenes_the_hash_misses_and_not_distinct_photos():
    from edgeposinv.data.dataset import LoadedImages  # noqa: F401 - the split input type
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.training.features import embed_images

    weights = shared_path(
        "weights", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    )
    rng = np.random.default_rng(0)
    images, source = [], []
    for k in range(8):
        images += _moving_pair(rng)
        source += [k, k]
    for k in range(24):
        images.append(_scene(rng))
        source.append(8 + k)
    source = np.array(source)
    x = np.stack([prepare(i, 96) for i in images])
    groups = link_similar(embed_images(x, 96, str(weights)), np.zeros(len(x)), FEATURE_SIMILARITY)
    joined = sum(groups[2 * k] is not None and groups[2 * k] == groups[2 * k + 1] for k in range(8))
    by_group: dict = {}
    for g, s in zip(groups, source):
        if g is not None:
            by_group.setdefault(g, set()).add(int(s))
    assert all(len(s) == 1 for s in by_group.values()), by_group  # no distinct photos joined
    hashed = cluster(hash_images(images))
    hash_joined = sum(hashed[2 * k] == hashed[2 * k + 1] for k in range(8))
    assert joined >= 6, joined  # measured: 7 of 8
    assert joined > hash_joined + 2, (joined, hash_joined)


def test_split_records_the_feature_grouping(tmp_path):
    """The plumbing, with a stand-in embedding (coarse pixels) so it needs no backbone."""
    from test_honest_validation import _bursty_dataset

    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.splits import split_loaded

    root = _bursty_dataset(tmp_path / "d", n_sources=6, copies=1)
    data = load_images(scan_dataset(root), 48, show_progress=False)

    def pixels(images: np.ndarray) -> np.ndarray:
        return np.stack([cv2.resize(i, (8, 8), interpolation=cv2.INTER_AREA) for i in images])

    def embed(images: np.ndarray) -> np.ndarray:
        return pixels(images).reshape(len(images), -1).astype(np.float32)

    _, hashed = split_loaded(data, 0.34, seed=0, near_duplicates="hash")
    plan, both = split_loaded(data, 0.34, seed=0, near_duplicates="hash+features", embed=embed)
    near = both["near_duplicates"]
    assert near["method"] == "perceptual_hash+backbone_features"
    assert near["features"]["min_cosine_similarity"] == FEATURE_SIMILARITY
    # the union keeps every hash cluster whole
    member = {f: tuple(c) for c in near["clusters"] for f in c}
    for c in hashed["near_duplicates"]["clusters"]:
        assert all(set(c) <= set(member[f]) for f in c)
    with pytest.raises(Exception, match="embedding"):
        split_loaded(data, 0.34, seed=0, near_duplicates="features")


@pytest.mark.slow
def test_train_cli_records_the_feature_grouping(tmp_path):
    """``train --near-duplicates hash+features`` (a tiny model; the features come from the
    shared MobileNetV2-0.35 weights) writes the method into split.json and config.json."""
    import json

    from conftest import make_shapes_dataset, run_cli

    weights = shared_path(
        "weights", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    )
    env = {"EDGEPOSINV_FEATURE_WEIGHTS": str(weights)}
    data = make_shapes_dataset(tmp_path / "data", n_per_class=16, size=32, seed=1)
    common = ["--image-size", "32", "--epochs", "1", "--batch-size", "8", "--augment", "none"]
    r = run_cli(
        "train", str(data), "--out", str(tmp_path / "r2"), "--near-duplicates", "features",
        "--no-near-duplicates", *common,
    )  # fmt: skip
    assert r.returncode == 2 and "contradicts" in r.stderr, r.stderr
    r = run_cli(
        "train", str(data), "--out", str(tmp_path / "r3"), "--near-duplicates", "hash+features",
        *common, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    near = json.loads((tmp_path / "r3" / "split.json").read_text())["grouping"]["near_duplicates"]
    assert near["method"] == "perceptual_hash+backbone_features"
    assert near["n_images_hashed"] == 48 and "features" in near and "hash" in near
    config = json.loads((tmp_path / "r3" / "config.json").read_text())
    assert config["train"]["near_duplicates"] == "hash+features"
