"""backdrop: auto (green/white detected per image, other photos untouched) and surroundings tiles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeposinv.errors import ConfigError
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.transforms.background import backdrop_mask, detect_backdrop, load_background_tiles


def _on(backdrop_rgb, size=48, seed=0):
    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = backdrop_rgb
    img = np.clip(img + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    cv2.circle(img, (size // 2, size // 2), size // 5, (170, 120, 90), -1)  # a skin-toned "hand"
    return img


def test_auto_detects_each_images_backdrop_and_leaves_other_photos_alone():
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)  # a cluttered photo
    images = np.stack([_on((40, 180, 50)), _on((235, 235, 232)), scene])
    assert detect_backdrop(images) == ["green", "white", None]
    auto = backdrop_mask(images, "auto")
    np.testing.assert_array_equal(auto[0], backdrop_mask(images[:1], "green")[0])
    np.testing.assert_array_equal(auto[1], backdrop_mask(images[1:2], "white")[0])
    assert auto[2].min() == pytest.approx(1.0)  # nothing keyed out of the ordinary photo
    for m in auto[:2]:
        assert m[24, 24] > 0.9 and m[2, 2] < 0.1  # hand kept, backdrop keyed out


def test_surroundings_tiles_come_from_the_corners(tmp_path):
    photo = np.zeros((100, 100, 3), np.uint8)
    photo[42:58, 42:58] = 255  # the object in the middle; corners black
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    tiles = load_background_tiles(tmp_path, 16, 20, seed=0, crop="surroundings")
    assert tiles.max() == 0
    anywhere = load_background_tiles(tmp_path, 16, 20, seed=0)
    assert anywhere.max() == 255
    with pytest.raises(ConfigError, match="background_crop"):
        AugmentConfig(background_crop="middle")
    assert AugmentConfig(backdrop="auto").backdrop == "auto"
