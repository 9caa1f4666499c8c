"""Per-epoch training state, so a killed run continues with ``--resume`` where it stopped.

``RUN/checkpoint/`` holds ``state.json`` (last completed epoch, phase, history so far,
early-stopping counters), the TensorFlow checkpoint of that epoch (model *and* optimizer
state) and ``best.*`` (the weights of the lowest validation loss so far, in TensorFlow's
checkpoint format, which mirrored variables under ``tf.distribute`` load from; Keras's
``.weights.h5`` loader cannot assign to them). ``state.json`` is written
atomically after the checkpoint it names, so a kill at any instant leaves a usable pair.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np

from edgeposinv.util.files import atomic_write_bytes, atomic_write_json
from edgeposinv.util.signals import raise_if_pending

log = logging.getLogger(__name__)
# TensorFlow's checkpoint writer logs one absl INFO line per save; keep the epoch log readable.
logging.getLogger("absl").setLevel(logging.WARNING)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"
# The best epoch's weights, as arrays (model.get_weights()): no optimizer state, so they load
# into the model whatever its optimizer tracks by then (a TensorFlow checkpoint of the model
# carries its optimizer's slots, and a best epoch from the frozen "head" phase then failed to
# load after fine-tuning: "incompatible tensor with shape (1280, 3) ... Adam/m/...").
BEST_WEIGHTS = "best.npz"
LEGACY_BEST_WEIGHTS = "best"  # a TensorFlow checkpoint prefix (runs of edgeposinv <= 0.1.0)


def read_state(run_dir: Path) -> dict | None:
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        return None
    from edgeposinv.errors import ModelError
    from edgeposinv.util.files import read_json

    state = read_json(
        path,
        ModelError,
        f"the resumable state of {run_dir} is damaged; start the run again (overwrite)",
    )
    if not isinstance(state.get("epoch"), int) or not isinstance(state.get("history"), list):
        raise ModelError(
            f"{path} lacks 'epoch' or 'history'; the resumable state of {run_dir} is damaged, "
            "start the run again (overwrite)"
        )
    return state


def new_state() -> dict:
    return {
        "epoch": 0,
        "phase": None,
        "checkpoint": None,
        "history": [],
        "best_val_loss": None,
        "wait": 0,
        "stopped": False,
    }


def make_callback(
    run_dir: Path,
    state: dict,
    phase: str,
    total_epochs: int,
    patience: int,
    track_best: bool,
    optimizer,
):
    """A callback that logs each epoch (with ETA), keeps the best weights, early-stops on
    validation loss and saves the resumable state."""
    from edgeposinv.training.keras_api import keras, tf

    ckpt_dir = Path(run_dir) / CHECKPOINT_DIR
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    class EpochState(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.monotonic()
            self.first_epoch = None

        def on_train_batch_end(self, batch, logs=None):
            # a signal whose exception TensorFlow swallowed stops the run here
            raise_if_pending()

        def on_epoch_begin(self, epoch, logs=None):
            if self.first_epoch is None:
                self.first_epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            lr = optimizer.learning_rate
            lr_value = (
                float(lr(optimizer.iterations))
                if callable(lr)
                else float(tf.keras.backend.get_value(lr))
            )
            row = {
                "epoch": epoch + 1,
                "phase": phase,
                "lr": lr_value,
                **{k: float(v) for k, v in logs.items()},
            }
            state["history"].append(row)
            val_loss = logs.get("val_loss", math.nan)
            # without a validation set (--val-split 0) the training loss decides
            monitored = val_loss if "val_loss" in logs else logs.get("loss", math.nan)
            if track_best and (
                state["best_val_loss"] is None or monitored < state["best_val_loss"]
            ):
                state["best_val_loss"] = float(monitored)
                state["wait"] = 0
                save_best(self.model, ckpt_dir)
            elif track_best:
                state["wait"] += 1
                if patience and phase != "head" and state["wait"] >= patience:
                    log.info(
                        "early stopping: the %s loss has not improved for %d epochs",
                        "validation" if "val_loss" in logs else "training",
                        patience,
                    )
                    state["stopped"] = True
                    self.model.stop_training = True
            prefix = str(ckpt_dir / f"epoch-{epoch + 1:04d}")
            tf.train.Checkpoint(model=self.model, optimizer=optimizer).write(prefix)
            previous = state["checkpoint"]
            state.update(epoch=epoch + 1, phase=phase, checkpoint=Path(prefix).name)
            atomic_write_json(ckpt_dir / STATE_FILE, state)
            if previous and previous != state["checkpoint"]:
                for f in ckpt_dir.glob(previous + ".*"):
                    f.unlink(missing_ok=True)
            done = epoch + 1 - self.first_epoch
            elapsed = time.monotonic() - self.start
            eta = elapsed / max(1, done) * (total_epochs - epoch - 1)
            log.info(
                "epoch %d/%d [%s]  loss %.3f  acc %.3f  val_loss %.3f  val_acc %.3f  lr %.2g  (%.0fs, ETA %.0fs)",
                epoch + 1,
                total_epochs,
                phase,
                logs.get("loss", math.nan),
                logs.get("accuracy", math.nan),
                val_loss,
                logs.get("val_accuracy", math.nan),
                lr_value,
                elapsed,
                eta,
            )

    return EpochState()


def restore(run_dir: Path, state: dict, model, optimizer) -> None:
    """Load the model (and, given, the optimizer) state of the last completed epoch."""
    from edgeposinv.training.keras_api import tf

    prefix = Path(run_dir) / CHECKPOINT_DIR / state["checkpoint"]
    if optimizer is None:  # a new phase begins: weights only, a fresh optimizer
        tf.train.Checkpoint(model=model).read(str(prefix)).expect_partial()
        return
    optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=optimizer).read(
        str(prefix)
    ).assert_existing_objects_matched()


def save_best(model, ckpt_dir: Path) -> None:
    """Write the model's weights (all of them, BatchNormalization statistics included)."""
    buffer = io.BytesIO()
    np.savez(buffer, *model.get_weights())
    atomic_write_bytes(Path(ckpt_dir) / BEST_WEIGHTS, buffer.getvalue())


def best_weights(run_dir: Path) -> Path | None:
    """The best epoch's weights of a run, if it saved any (the current or the old format)."""
    path = Path(run_dir) / CHECKPOINT_DIR / BEST_WEIGHTS
    if path.is_file():
        return path
    legacy = path.with_name(LEGACY_BEST_WEIGHTS)
    return legacy if legacy.with_name(LEGACY_BEST_WEIGHTS + ".index").is_file() else None


def load_best(model, run_dir: Path) -> bool:
    """Set the model's weights to the best epoch's; ``False`` when the run saved none."""
    path = best_weights(run_dir)
    if path is None:
        return False
    if path.name != BEST_WEIGHTS:
        model.load_weights(str(path))
        return True
    with np.load(path) as arrays:
        model.set_weights([arrays[f"arr_{i}"] for i in range(len(arrays.files))])
    return True


def remove(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / CHECKPOINT_DIR, ignore_errors=True)
