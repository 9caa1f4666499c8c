"""Augmentation configs, presets, config files, seeded draws, background compositing, preview."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_cli

from edgeposinv.errors import ConfigError
from edgeposinv.transforms.augment import PRESETS, AugmentConfig
from edgeposinv.transforms.background import backdrop_mask, load_background_tiles
from edgeposinv.transforms.params import apply_params


def test_presets_exist_and_none_is_identity():
    assert set(PRESETS) == {"none", "default", "strong"}
    assert PRESETS["none"].is_identity and not PRESETS["default"].is_identity
    assert not PRESETS["default"].flip_horizontal and not PRESETS["default"].flip_vertical
    assert PRESETS["strong"].max_rotation_deg > PRESETS["default"].max_rotation_deg


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (
            dict(max_rotation_deg=270),
            "'max_rotation_deg' of AugmentConfig must be in [0, 180]; got 270",
        ),
        (dict(scale_range=(1.2, 0.5)), "'scale_range'"),
        (dict(lens_k_range=(0.0, 3.0)), "'lens_k_range'"),
        (dict(background_prob=0.5), "'background_dir' of AugmentConfig must be a folder"),
        (dict(fill_mode="wrap"), "'fill_mode'"),
    ],
)
def test_bad_values_name_the_parameter(kwargs, needle):
    with pytest.raises(ConfigError, match=None) as e:
        AugmentConfig(**kwargs)
    assert needle in str(e.value)


def test_config_file_yaml_and_json(tmp_path):
    y = tmp_path / "aug.yaml"
    y.write_text("preset: default\nmax_rotation_deg: 5\nscale_range: [0.9, 1.0]\n")
    c = AugmentConfig.from_file(y)
    assert c.max_rotation_deg == 5 and c.scale_range == (0.9, 1.0)
    assert c.max_shift_frac == PRESETS["default"].max_shift_frac
    j = tmp_path / "aug.json"
    j.write_text(json.dumps({"max_shift_frac": 0.1}))
    assert AugmentConfig.from_file(j) == AugmentConfig(max_shift_frac=0.1)
    j.write_text(json.dumps({"max_shift_fraction": 0.1}))
    with pytest.raises(ConfigError, match="Unknown key.*max_shift_fraction"):
        AugmentConfig.from_file(j)
    j.write_text("{not json")
    with pytest.raises(ConfigError, match="Cannot parse"):
        AugmentConfig.from_file(j)


def test_draw_is_seeded_and_varied():
    c = PRESETS["strong"]
    a = c.draw(np.random.default_rng(3), 20, 64)
    b = c.draw(np.random.default_rng(3), 20, 64)
    np.testing.assert_array_equal(a.matrices, b.matrices)
    np.testing.assert_array_equal(a.kernels, b.kernels)
    assert np.std(a.matrices[:, 0, 2]) > 1.0  # shifts differ between images
    assert (a.jpeg_quality > 0).any() and (a.lens_k != 0).all()


def test_green_backdrop_compositing(tmp_path):
    size = 32
    img = np.zeros((1, size, size, 3), np.uint8)
    img[..., 1] = 200  # green screen
    img[0, 10:22, 10:22] = (200, 150, 120)  # a skin-coloured object
    mask = backdrop_mask(img, "green")[0]
    assert mask[16, 16] > 0.9 and mask[2, 2] < 0.1
    bg_dir = tmp_path / "bg"
    bg_dir.mkdir()
    cv2.imwrite(str(bg_dir / "wall.png"), np.full((80, 90, 3), (10, 20, 250), np.uint8))  # BGR: red
    tiles = load_background_tiles(bg_dir, size, 4, seed=0)
    c = AugmentConfig(background_dir=str(bg_dir), background_prob=1.0, max_shift_frac=0.2)
    params = c.draw(np.random.default_rng(0), 1, size, n_backgrounds=len(tiles))
    out = apply_params(img[0], params, 0, mask=mask, backgrounds=tiles)
    assert out[0, 0, 0] > 200 and out[0, 0, 1] < 60  # the green became the red background
    assert (
        np.abs(out.astype(int) - (200, 150, 120)).sum(axis=-1) < 30
    ).sum() > 50  # the object survived


def test_augment_preview_writes_a_contact_sheet(shapes_dir, tmp_path):
    out = tmp_path / "grid.png"
    r = run_cli(
        "augment-preview",
        str(shapes_dir),
        "--out",
        str(out),
        "--preset",
        "strong",
        "--rows",
        "3",
        "--cols",
        "4",
        "--image-size",
        "40",
    )
    assert r.returncode == 0, r.stderr
    sheet = cv2.imread(str(out))
    assert sheet.shape == (3 * 44 + 4, 5 * 44 + 4, 3)
    r = run_cli("augment-preview", str(shapes_dir), "--out", str(out))
    assert r.returncode == 1 and "already exists" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("backgrounds", [False, True])
def test_training_pipeline_with_xla_matches_the_plain_tf_applier(backgrounds, tmp_path):
    """The training pipeline runs its warp and colour stage through XLA; its batches equal
    the un-compiled applier's for the same drawn parameters (to a rounding step)."""
    from dataclasses import replace

    from edgeposinv.training.pipeline import (
        apply_params_tf,
        epoch_params,
        training_dataset,
        use_xla,
    )

    assert use_xla()
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (24, 48, 48, 3), dtype=np.uint8)
    images[:, 12:36, 12:36] = (40, 200, 90)
    augment = replace(
        PRESETS["default"],
        max_noise_std=0.0,
        background_prob=0.7 if backgrounds else 0.0,
        background_dir=str(tmp_path) if backgrounds else None,
    )  # tiles are given directly
    masks = tiles = None
    if backgrounds:
        masks = rng.uniform(0, 1, (24, 48, 48)).astype(np.float32).round()
        tiles = rng.integers(0, 256, (5, 48, 48, 3), dtype=np.uint8)
    ds, _ = training_dataset(
        images, np.zeros(24, np.int64), augment, 1, 8, seed=5, masks=masks, tiles=tiles
    )
    batch = next(iter(ds))[0].numpy()
    order, params = epoch_params(augment, 5, 0, 24, 48, 0 if tiles is None else len(tiles))
    idx = order[:8]
    expected = apply_params_tf(
        images[idx],
        params.subset(slice(0, 8)),
        augment,
        None if masks is None else masks[idx],
        tiles,
    )
    diff = np.abs(batch - expected.astype(np.float32))
    assert diff.max() <= 1.0 and diff.mean() < 0.05
    assert np.abs(batch - images[idx]).mean() > 10  # and it did augment
