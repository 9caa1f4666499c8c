"""Each transform moves a synthetic marker where geometry says, and the OpenCV and
TensorFlow appliers put the same pixel in the same place."""

from __future__ import annotations

import numpy as np
import pytest

from edgeposinv.transforms import geometry
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.transforms.params import apply_params, fixed_params

SIZE = 48
MARKER = (30.0, 14.0)  # x, y of the marker's centre in the source

CASES = {
    "shift": dict(shift_frac=(-0.2, 0.15)),
    "rotation": dict(rotation_deg=35.0),
    "scale": dict(scale=0.6),
    "crop": dict(crop_box=(6.0, 2.0, 36.0, 40.0)),
    "tilt": dict(tilt_deg=(8.0, -6.0)),
    "barrel": dict(lens_k=0.4),
    "pincushion": dict(lens_k=-0.2),
    "flip_h": dict(flip_horizontal=True),
    "flip_v": dict(flip_vertical=True),
    "combined": dict(
        rotation_deg=-20.0, shift_frac=(0.1, 0.1), scale=0.8, tilt_deg=(5.0, 5.0), lens_k=0.2
    ),
}


def marker_image() -> np.ndarray:
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    x, y = int(MARKER[0]), int(MARKER[1])
    img[y - 1 : y + 2, x - 1 : x + 2] = 255
    return img


def centroid(img: np.ndarray) -> np.ndarray:
    w = img[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("name", list(CASES))
def test_marker_lands_where_geometry_says(name):
    params = fixed_params(SIZE, **CASES[name])
    out = apply_params(marker_image(), params, 0, fill_mode="constant")
    expected = geometry.transform_points(
        np.array([MARKER]), params.matrices[0], SIZE, float(params.lens_k[0])
    )[0]
    assert np.linalg.norm(centroid(out) - expected) < 1.5, (centroid(out), expected)
    # and the marker really moved when the transform moves that point
    moved = np.linalg.norm(expected - np.array(MARKER))
    if moved > 2:
        assert np.linalg.norm(centroid(out) - np.array(MARKER)) > 1.5


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
@pytest.mark.parametrize("name", list(CASES))
def test_opencv_and_tensorflow_put_the_same_pixel_in_the_same_place(name, fill_mode):
    from edgeposinv.training.pipeline import apply_params_tf

    rng = np.random.default_rng(1)
    img = marker_image()
    textured = np.clip(img.astype(int) + rng.integers(0, 60, img.shape), 0, 255).astype(np.uint8)
    params = fixed_params(SIZE, **CASES[name])
    config = AugmentConfig(fill_mode=fill_mode)
    cv_out = apply_params(textured, params, 0, fill_mode=fill_mode)
    tf_out = apply_params_tf(textured[None], params, config)[0]
    # OpenCV interpolates with 5-bit fixed-point weights: a few levels apart at most.
    assert np.abs(cv_out.astype(int) - tf_out.astype(int)).max() <= 6
    cv_m = apply_params(img, params, 0, fill_mode="constant")
    tf_m = apply_params_tf(img[None], params, AugmentConfig(fill_mode="constant"))[0]
    assert np.linalg.norm(centroid(cv_m) - centroid(tf_m)) < 0.25


def test_affine_matrix_keeps_its_meaning():
    m = geometry.affine_matrix(64, shift_frac=(0.25, -0.125))
    np.testing.assert_allclose(
        geometry.transform_points(np.array([[10.0, 20.0]]), m), [[26.0, 12.0]]
    )
    m = geometry.affine_matrix(65, rotation_deg=90)  # counter-clockwise on screen about the centre
    np.testing.assert_allclose(
        geometry.transform_points(np.array([[42.0, 32.0]]), m), [[32.0, 22.0]], atol=1e-9
    )
    img = np.zeros((64, 64), np.uint8)
    img[20, 10] = 255
    out = geometry.warp(
        img, geometry.affine_matrix(64, shift_frac=(0.25, -0.125)), fill_mode="constant"
    )
    assert out[12, 26] == 255


def test_photometric_with_fixed_parameters():
    img = np.full((16, 16, 3), 100, np.uint8)
    img[..., 0] = 150
    same = apply_params(img, fixed_params(16), 0)
    np.testing.assert_array_equal(same, img)
    brighter = apply_params(img, fixed_params(16, brightness_delta=0.1), 0)
    assert abs(int(brighter[0, 0, 1]) - (100 + 26)) <= 1
    grey = apply_params(img, fixed_params(16, saturation=0.0), 0)
    assert np.ptp(grey[0, 0]) <= 1
    blurred = apply_params(
        np.pad(img, ((0, 0), (0, 16), (0, 0))), fixed_params(16, blur_sigma_px=2.0), 0
    )
    assert 0 < blurred[8, 16, 0] < 150
