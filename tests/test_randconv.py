"""``train --randconv N``: random-convolution copies change colours and textures but keep
shapes, are made of training images only (after the split), and train with their image's
label and folder."""

from __future__ import annotations

import json

import cv2
import numpy as np
from conftest import draw_shape, run_cli

from edgeposinv.transforms.randconv import random_convolution, random_convolution_copies


def _edges(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def test_a_copy_keeps_the_shape_and_changes_the_colours():
    rng = np.random.default_rng(0)
    photo = draw_shape("square", 64, (32, 32), 14, rng)
    changed, kept = [], []
    for _ in range(20):
        copy = random_convolution(photo, rng)
        assert copy.shape == photo.shape and copy.dtype == np.uint8
        changed.append(np.abs(copy.astype(int) - photo.astype(int)).mean())
        kept.append(np.corrcoef(_edges(copy).ravel(), _edges(photo).ravel())[0, 1])
    # colours move by several grey levels on average, the outline stays where it was
    assert np.median(changed) > 5.0, changed
    assert np.median(kept) > 0.5, kept


def test_copies_are_seeded_and_ordered_copy_by_copy():
    rng = np.random.default_rng(1)
    images = np.stack([draw_shape(s, 32, (16, 16), 8, rng) for s in ("circle", "square", "cross")])
    a = random_convolution_copies(images, 2, seed=3)
    assert a.shape == (6, 32, 32, 3)
    assert np.array_equal(a, random_convolution_copies(images, 2, seed=3))
    assert not np.array_equal(a, random_convolution_copies(images, 2, seed=4))


def test_copies_train_with_their_label_and_never_validate(shapes_dir):
    from edgeposinv.training.config import TrainConfig
    from edgeposinv.training.prepare import prepare_data

    config = TrainConfig(image_size_px=24, batch_size=8, randconv_copies=2, augment="none")
    prep = prepare_data([shapes_dir], config, config.augment_settings(), False)
    plain = prepare_data(
        [shapes_dir],
        TrainConfig(image_size_px=24, batch_size=8, augment="none"),
        config.augment_settings(),
        False,
    )
    x, y, f = prep.train_arrays()
    n = len(prep.train_idx)
    assert len(x) == len(y) == len(f) == 3 * n
    assert np.array_equal(y, np.tile(plain.train_arrays()[1], 3))
    assert np.array_equal(x[:n], plain.train_arrays()[0])  # the originals first, unchanged
    assert not np.array_equal(x[n : 2 * n], x[:n])
    assert np.array_equal(prep.val_idx, plain.val_idx)  # the split is the same: copies only train
    assert len(prep.val_arrays()[0]) == len(plain.val_arrays()[0])


def test_cli_records_randconv_and_rejects_a_bad_count(shapes_dir, tmp_path):
    r = run_cli(
        "train", str(shapes_dir), "--out", str(tmp_path / "run"), "--image-size", "24",
        "--epochs", "1", "--randconv", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["randconv_copies"] == 1
    assert "random convolutions: 1 copy(ies) of each of" in r.stderr
    r = run_cli("train", str(shapes_dir), "--out", str(tmp_path / "bad"), "--randconv", "-1")
    assert r.returncode == 2 and "--randconv" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad").exists()


def test_a_copy_is_composited_with_its_originals_backdrop_mask(tmp_path):
    """With a backdrop to replace, each copy gets its original's mask: the copy's colours no
    longer say where the green screen is."""
    from dataclasses import replace

    from edgeposinv.training.config import TrainConfig
    from edgeposinv.training.prepare import prepare_data
    from edgeposinv.transforms.augment import AugmentConfig

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(12):
            img = np.full((32, 32, 3), (40, 200, 60), np.uint8)  # green screen
            cv2.circle(img, (16, 16), 6 + 2 * (label == "b"), (170, 120, 90), -1)
            img = np.clip(img + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(tmp_path / "data" / label / f"{i}.png"), img[:, :, ::-1])
    (tmp_path / "rooms").mkdir()
    cv2.imwrite(str(tmp_path / "rooms" / "room.png"), rng.integers(0, 255, (64, 64, 3), np.uint8))
    augment = replace(
        AugmentConfig.preset("none"),
        backdrop="green",
        background_dir=str(tmp_path / "rooms"),
        background_prob=1.0,
    )
    config = TrainConfig(image_size_px=32, batch_size=4, randconv_copies=2, augment="none")
    prep = prepare_data([tmp_path / "data"], config, augment, False)
    n = len(prep.train_idx)
    assert prep.masks is not None and len(prep.masks) == len(prep.train_arrays()[0]) == 3 * n
    assert 0.05 < prep.masks[:n].mean() < 0.6  # the circle is object, the green is not
    assert np.array_equal(prep.masks[n : 2 * n], prep.masks[:n])
    assert np.array_equal(prep.masks[2 * n :], prep.masks[:n])
