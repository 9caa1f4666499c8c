"""Training: position robustness from augmentation, resume after a kill, QAT to int8,
reproducible run folders and clear errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, SHAPES, draw_shape, make_shapes_dataset, run_cli

from edgeposinv.errors import DatasetError


def off_centre_set(n_per_class: int = 30, size: int = 48, seed: int = 7):
    """Shapes far from the centre, half the size and turned: what a centred, upright training
    set never showed (the training shapes have radius 10..14 px at the centre)."""
    from edgeposinv.transforms import geometry

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for k, kind in enumerate(SHAPES):
        for _ in range(n_per_class):
            r = int(rng.integers(5, 8))
            c = (int(rng.choice([r + 3, size - r - 4])), int(rng.integers(r + 3, size - r - 3)))
            if rng.random() < 0.5:
                c = c[::-1]
            img = draw_shape(kind, size, (size // 2, size // 2), r, rng)
            m = geometry.view_matrix(
                size,
                rotation_deg=float(rng.uniform(-25, 25)),
                shift_frac=((c[0] - size // 2) / size, (c[1] - size // 2) / size),
            )
            images.append(geometry.warp(img, m, fill_mode="reflect"))
            labels.append(k)
    return np.stack(images), np.array(labels)


@pytest.mark.slow
def test_default_augmentation_beats_none_off_centre(tmp_path):
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.training.runs import load_keras_model, read_run
    from edgeposinv.training.train import TrainConfig, train

    centred = make_shapes_dataset(tmp_path / "centred", n_per_class=80, seed=3)
    images, labels = off_centre_set()
    x = np.stack([prepare(im, 32) for im in images]).astype(np.float32)
    acc = {}
    for augment in ("none", "default"):
        config = TrainConfig(image_size_px=32, epochs=20, batch_size=16, augment=augment, seed=0)
        result = train(centred, tmp_path / augment, config, show_progress=False)
        assert result.val_accuracy >= 0.85, (augment, result)  # both learn the centred task
        model = load_keras_model(read_run(tmp_path / augment))
        acc[augment] = float((model.predict(x, verbose=0).argmax(1) == labels).mean())
    print("off-centre accuracy", acc)
    assert acc["default"] >= acc["none"] + 0.15, acc  # seeded: 0.90 vs 0.67 here


def _history(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_resume_after_kill_gives_the_full_epoch_count(shapes_dir, tmp_path):
    run = tmp_path / "run"
    epochs = 10
    args = [
        sys.executable,
        "-m",
        "edgeposinv",
        "train",
        str(shapes_dir),
        "--out",
        str(run),
        "--image-size",
        "32",
        "--epochs",
        str(epochs),
        "--batch-size",
        "8",
        "--seed",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "checkpoint" / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 3 <= killed_at < epochs
    assert not (run / "model.keras").exists()
    r = run_cli("export", str(run), "--out", str(tmp_path / "m.tflite"))
    assert r.returncode == 1 and "--resume" in r.stderr

    r = run_cli("train", "--resume", str(run))
    assert r.returncode == 0, r.stderr
    assert f"resuming {run} after epoch {killed_at}" in r.stderr
    rows = _history(run)
    assert [int(row["epoch"]) for row in rows] == list(range(1, epochs + 1))
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "complete" and config["result"]["epochs_run"] == epochs
    assert not (run / "checkpoint").exists() and (run / "training_curve.png").stat().st_size > 1000
    # the learning-rate schedule continued where it stopped (warm-up, then cosine to the end)
    lrs = [float(row["lr"]) for row in rows]
    assert all(a >= b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.1 * lrs[0]
    r = run_cli("train", "--resume", str(run))
    assert r.returncode == 1 and "already finished" in r.stderr


@pytest.mark.slow
def test_qat_run_converts_to_int8_and_runs_in_the_interpreter(shapes_dir, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.training.keras_api import tf
    from edgeposinv.training.runs import load_keras_model, read_run
    from edgeposinv.training.train import TrainConfig, train

    run_dir = tmp_path / "qat"
    train(
        shapes_dir,
        run_dir,
        TrainConfig(
            image_size_px=32, epochs=6, batch_size=16, augment="none", qat=True, qat_epochs=2
        ),
        show_progress=False,
    )
    run = read_run(run_dir)
    assert run.config["train"]["qat"] is True
    assert [row["phase"] for row in _history(run_dir)][-1] == "qat"
    model = load_keras_model(run)  # keras.models.load_model under tfmot's quantize_scope()
    assert any("quant" in layer.name for layer in model.layers)
    data = load_images(scan_dataset(shapes_dir), 32, show_progress=False)
    x = data.images.astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(0, len(x), 6))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8
    scale, zero_point = inp["quantization"]
    assert abs(scale - 1.0) < 1e-6 and zero_point == 0  # the uint8 input is the raw pixel
    keras_pred = model.predict(x, verbose=0).argmax(1)
    tflite_pred = []
    for i in range(len(x)):
        interpreter.set_tensor(inp["index"], data.images[i : i + 1])
        interpreter.invoke()
        tflite_pred.append(int(interpreter.get_tensor(out["index"])[0].argmax()))
    keras_acc = float((keras_pred == data.label_ids).mean())
    tflite_acc = float((np.array(tflite_pred) == data.label_ids).mean())
    print(
        "QAT keras",
        keras_acc,
        "int8",
        tflite_acc,
        "agree",
        float((np.array(tflite_pred) == keras_pred).mean()),
    )
    assert keras_acc >= 0.8
    assert tflite_acc >= keras_acc - 0.05


def test_too_small_for_the_batch_is_a_clear_error(shapes_dir, tmp_path):
    from edgeposinv.training.train import TrainConfig, train

    with pytest.raises(DatasetError, match="fewer than one batch.*'batch_size' 512"):
        train(
            shapes_dir,
            tmp_path / "r",
            TrainConfig(image_size_px=32, epochs=1, batch_size=512),
            show_progress=False,
        )
    assert not (tmp_path / "r").exists()
    r = run_cli(
        "train",
        str(shapes_dir),
        "--out",
        str(tmp_path / "r"),
        "--image-size",
        "32",
        "--val-split",
        "0.999",
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr and "--val-split" in r.stderr
    r = run_cli(
        "train",
        str(shapes_dir),
        "--out",
        str(tmp_path / "r"),
        "--arch",
        "mobilenet_v2",
        "--image-size",
        "64",
    )
    assert r.returncode == 1 and "[96, 224]" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_each_architecture_trains_at_its_own_default_size():
    """No --image-size: 64 px for tiny, 160 px for the MobileNets (the wild benchmark's
    winner); a size given is kept, and a run records the number, never the 0 it was asked."""
    from edgeposinv.training.config import config_dict
    from edgeposinv.training.train import TrainConfig

    assert TrainConfig().image_size_px == 64
    assert TrainConfig(arch="mobilenet_v2").image_size_px == 160
    assert TrainConfig(arch="mobilenet_v3_small").image_size_px == 160
    assert TrainConfig(arch="mobilenet_v2", image_size_px=96).image_size_px == 96
    assert config_dict(TrainConfig(arch="mobilenet_v2"))["image_size_px"] == 160


def test_run_folder_is_reproducible_and_complete(shapes_dir, tmp_path):
    from edgeposinv.training.train import TrainConfig, train

    config = TrainConfig(
        image_size_px=32,
        epochs=2,
        batch_size=16,
        seed=5,
        augment="strong",
        optimizer="adamw",
        label_smoothing=0.1,
        class_weight="balanced",
    )
    train(shapes_dir, tmp_path / "a", config, show_progress=False)
    train(shapes_dir, tmp_path / "b", config, show_progress=False)
    for name in (
        "config.json",
        "split.json",
        "labels.txt",
        "history.csv",
        "training_curve.png",
        "model.keras",
    ):
        assert (tmp_path / "a" / name).is_file(), name
    assert (tmp_path / "a" / "split.json").read_text() == (
        tmp_path / "b" / "split.json"
    ).read_text()
    ha, hb = _history(tmp_path / "a"), _history(tmp_path / "b")
    np.testing.assert_allclose(
        [float(r["loss"]) for r in ha], [float(r["loss"]) for r in hb], rtol=1e-4
    )
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["augment"]["max_rotation_deg"] == 40.0 and cfg["train"]["optimizer"] == "adamw"


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    from edgeposinv.training import checkpoints
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.models import build_model

    model = build_model("tiny", 16, 2, width=4)
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    state = checkpoints.new_state()
    cb = checkpoints.make_callback(
        tmp_path, state, "train", 10, patience=2, track_best=True, optimizer=optimizer
    )
    cb.set_model(model)
    cb.on_train_begin()
    best = None
    for epoch, val_loss in enumerate([1.0, 0.8, 0.9, 0.85]):
        cb.on_epoch_begin(epoch)
        if epoch == 1:
            best = [w.copy() for w in model.get_weights()]
        cb.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
        model.set_weights([w + 1.0 for w in model.get_weights()])  # "training" changes the weights
        assert model.stop_training == (epoch == 3)
    assert state["stopped"] and state["best_val_loss"] == 0.8 and state["epoch"] == 4
    assert checkpoints.load_best(model, tmp_path)
    for a, b in zip(model.get_weights(), best):
        np.testing.assert_allclose(a, b)
    assert [row["epoch"] for row in checkpoints.read_state(tmp_path)["history"]] == [1, 2, 3, 4]


def test_best_epoch_of_the_frozen_phase_loads_after_fine_tuning(tmp_path):
    """The best weights carry no optimizer state: a best epoch saved while the backbone was
    frozen loads into the model after the fine-tune phase built more optimizer slots (a
    TensorFlow checkpoint of the model failed there: incompatible tensor shapes)."""
    from edgeposinv.training import checkpoints
    from edgeposinv.training.keras_api import keras

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 8)).astype("float32"), np.arange(16) % 3
    inputs = keras.Input((8,))
    body = keras.layers.Dense(6, name="body")
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(body(inputs)))
    body.trainable = False  # the "head" phase
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    (tmp_path / checkpoints.CHECKPOINT_DIR).mkdir()
    checkpoints.save_best(model, tmp_path / checkpoints.CHECKPOINT_DIR)
    best = [w.copy() for w in model.get_weights()]
    body.trainable = True  # "fine_tune": the optimizer now tracks the body too
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert not all(np.allclose(a, b) for a, b in zip(model.get_weights(), best))
    assert checkpoints.load_best(model, tmp_path)
    for a, b in zip(model.get_weights(), best):
        np.testing.assert_array_equal(a, b)
