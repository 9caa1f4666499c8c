"""The position heatmap tells a centre-only model from an augmented one (seeded, tiny).

Both models share one architecture that keeps *where* things are (no global pooling:
a dense layer over the feature map) and the same training images: small shapes at the
centre of the frame. One is trained without augmentation, one with the default
position augmentation. The sweep shrinks larger test shapes to half the frame and moves
them over a 5x5 grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_shapes_dataset

from edgeposinv.errors import EvaluationError
from edgeposinv.evaluation.evaluate import EvaluateConfig, SweepRequest, evaluate
from edgeposinv.evaluation.sweeps import PositionSweepConfig, PositionTask
from edgeposinv.training.models import available, pixels_input, register

ARCH = "test_where_aware"

if ARCH not in available():

    @register(ARCH)
    def _build(
        image_size_px: int, num_classes: int, **_options
    ):  # weights, antialias, ... do not apply
        from edgeposinv.training.keras_api import keras

        inputs, x = pixels_input(keras, image_size_px)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def test_position_variants_put_the_object_where_the_grid_says():
    """The sweep's composite: object centre at the cell centre, background elsewhere."""
    size = 40
    img = np.zeros((size, size, 3), np.uint8)
    img[16:24, 16:24] = 255  # a white square at the centre of a black image
    config = PositionSweepConfig(grid_rows=3, grid_cols=3, object_scale=0.5, background="mean")
    variants = PositionTask(config).variants(img, 0)
    assert len(variants) == 9
    xs, ys = config.centres_frac()
    assert xs.tolist() == pytest.approx([0.25, 0.5, 0.75])
    mean = img.reshape(-1, 3).mean(0)
    for (r, c), v in zip([(r, c) for r in range(3) for c in range(3)], variants):
        bright = np.argwhere(v[..., 0] > 200)
        cy, cx = bright.mean(0)
        assert cx == pytest.approx(xs[c] * size - 0.5, abs=1.0)
        assert cy == pytest.approx(ys[r] * size - 0.5, abs=1.0)
        assert len(bright) == pytest.approx(16, abs=6)  # 8x8 shrunk by half
        far = v[size - 1 if r == 0 else 0, size - 1 if c == 0 else 0].astype(float)
        assert (
            np.abs(far - mean).max() <= 1
        )  # the frame corner away from the object: background colour


@pytest.mark.slow
def test_centre_only_model_has_a_peaked_heatmap_and_augmentation_flattens_it(tmp_path):
    from edgeposinv.export.export import QuantSpec, export_run
    from edgeposinv.training.train import TrainConfig, train

    train_dir = make_shapes_dataset(
        tmp_path / "centred", n_per_class=40, size=48, seed=0, radius=(5, 8), jitter_px=1
    )
    test_dir = make_shapes_dataset(tmp_path / "test", n_per_class=10, size=48, seed=1)
    sweep = SweepRequest(position_set="test", position=PositionSweepConfig(object_scale=0.5))
    maps = {}
    for augment in ("none", "default"):
        run = tmp_path / f"run_{augment}"
        train(
            train_dir,
            run,
            TrainConfig(
                arch=ARCH,
                image_size_px=32,
                epochs=15,
                batch_size=16,
                augment=augment,
                seed=0,
                near_duplicates="off",  # synthetic look-alikes: grouping is not the subject here
            ),
            show_progress=False,
        )
        model = tmp_path / f"{augment}.tflite"
        # float32: this test is about where in the frame the model works, not about quantization.
        export_run(run, model, QuantSpec.float32())
        report = evaluate(
            model,
            [("test", test_dir)],
            tmp_path / f"report_{augment}",
            EvaluateConfig(threads=2, sweeps=sweep),
            show_progress=False,
        )
        maps[augment] = report["position_sweep"]
    base, aug = maps["none"], maps["default"]
    print(
        {
            k: (m["centre_accuracy"], m["corner_accuracy"], m["worst_accuracy"])
            for k, m in maps.items()
        }
    )
    assert base["centre_accuracy"] >= 0.7
    assert base["centre_accuracy"] - base["corner_accuracy"] >= 0.25
    spread = {k: m["centre_accuracy"] - m["corner_accuracy"] for k, m in maps.items()}
    assert spread["default"] < spread["none"] - 0.1
    assert aug["worst_to_centre"] > base["worst_to_centre"]


@pytest.mark.parametrize("background", ["blur", "folder"])
def test_position_backgrounds(background):
    size = 32
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    backdrops = [np.full((size, size, 3), v, np.uint8) for v in (7, 250)]
    task = PositionTask(
        PositionSweepConfig(3, 3, 0.5, background), backdrops if background == "folder" else []
    )
    for index in (0, 1):
        v = task.variants(img, index)[
            0
        ]  # object in the top-left cell: the bottom-right corner is background
        if background == "folder":
            assert v[-1, -1].tolist() == [backdrops[index][0, 0, 0]] * 3
        else:
            import cv2

            blurred = cv2.GaussianBlur(img, (0, 0), sigmaX=size / 10)
            assert np.abs(v[-1, -1].astype(int) - blurred[-1, -1]).max() <= 1
            assert v[-1, -1].std() < img.std()


def test_backgrounds_folder_is_used_by_evaluate(int8_model, tmp_path):
    import cv2

    data = make_shapes_dataset(tmp_path / "data", n_per_class=2, size=48, seed=5)
    (tmp_path / "bg").mkdir()
    cv2.imwrite(str(tmp_path / "bg" / "wall.png"), np.full((60, 80, 3), 90, np.uint8))
    sweep = SweepRequest(
        position_set="d",
        position=PositionSweepConfig(3, 3, 0.6, "folder"),
        backgrounds_dir=str(tmp_path / "bg"),
    )
    report = evaluate(
        int8_model, [("d", data)], tmp_path / "r", EvaluateConfig(sweeps=sweep), show_progress=False
    )
    assert report["position_sweep"]["background"] == "folder"
    assert report["position_sweep"]["backgrounds_dir"] == str(tmp_path / "bg")
    assert np.asarray(report["position_sweep"]["accuracy"]).shape == (3, 3)
    (tmp_path / "nobg").mkdir()
    (tmp_path / "nobg" / "readme.txt").write_text("no pictures here")
    with pytest.raises(EvaluationError, match="No readable images in 'backgrounds_dir'"):
        evaluate(
            int8_model,
            [("d", data)],
            tmp_path / "r2",
            EvaluateConfig(
                sweeps=SweepRequest(
                    position_set="d",
                    position=PositionSweepConfig(background="folder"),
                    backgrounds_dir=str(tmp_path / "nobg"),
                )
            ),
            show_progress=False,
        )
    assert not (tmp_path / "r2").exists()
