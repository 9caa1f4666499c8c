"""Training: a dataset folder in, a run folder out (see :mod:`edgeposinv.runs`)."""

from __future__ import annotations

import csv
import io
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeposinv import __version__
from edgeposinv.augment import PRESETS, AugmentConfig
from edgeposinv.dataset import load_images, scan_dataset, split_indices
from edgeposinv.errors import ConfigError, DatasetError
from edgeposinv.fsutil import atomic_dir, atomic_write_json, atomic_write_text, check_can_write
from edgeposinv.models import available, build_model
from edgeposinv.preprocess import InputContract
from edgeposinv.runs import CONFIG_FILE, HISTORY_FILE, LABELS_FILE, MODEL_FILE, SPLIT_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run produces."""

    arch: str = "tiny"
    image_size_px: int = 64
    epochs: int = 10
    batch_size: int = 32
    augment: str = "default"
    seed: int = 0
    val_split: float = 0.2
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        if self.arch not in available():
            raise ConfigError(f"Unknown architecture {self.arch!r}; choose one of: {', '.join(available())}")
        if not 16 <= self.image_size_px <= 512:
            raise ConfigError(f"--image-size must be in [16, 512] pixels. Got {self.image_size_px}.")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1. Got {self.epochs}.")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1. Got {self.batch_size}.")
        if self.augment not in PRESETS:
            raise ConfigError(f"--augment must be one of: {', '.join(PRESETS)}. Got {self.augment!r}.")
        if not 0.0 < self.val_split < 1.0:
            raise ConfigError(f"--val-split must be in (0, 1). Got {self.val_split}.")
        if not 0.0 < self.learning_rate < 1.0:
            raise ConfigError(f"learning_rate must be in (0, 1). Got {self.learning_rate}.")

    @property
    def augment_config(self) -> AugmentConfig:
        return AugmentConfig.preset(self.augment)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    labels: tuple[str, ...]
    val_accuracy: float
    n_train: int
    n_val: int
    seconds: float


def _history_csv(history: dict[str, list[float]]) -> str:
    keys = list(history)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([epoch + 1, *(f"{history[k][epoch]:.6f}" for k in keys)])
    return buf.getvalue()


def _epoch_logger(epochs: int):
    from edgeposinv._keras import keras

    class EpochLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            elapsed = time.monotonic() - self.start
            eta = elapsed / (epoch + 1) * (epochs - epoch - 1)
            log.info(
                "epoch %d/%d  loss %.3f  acc %.3f  val_acc %.3f  (%.0fs, ETA %.0fs)",
                epoch + 1, epochs, logs.get("loss", float("nan")), logs.get("accuracy", float("nan")),
                logs.get("val_accuracy", float("nan")), elapsed, eta,
            )

    return EpochLogger()


def train(
    data_dir: str | os.PathLike,
    run_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    overwrite: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Train ``config.arch`` on the images of ``data_dir`` and write the run to ``run_dir``."""
    data_dir, run_dir = Path(data_dir).resolve(), Path(run_dir)
    check_can_write(run_dir, overwrite)
    from edgeposinv._keras import keras, tf
    from edgeposinv.pipeline import eval_dataset, training_dataset

    started = time.monotonic()
    index = scan_dataset(data_dir)
    data = load_images(index, config.image_size_px, show_progress=show_progress)
    train_idx, val_idx = split_indices(data.label_ids, config.val_split, config.seed, groups=data.sessions)
    if len(train_idx) < config.batch_size:
        raise DatasetError(
            f"The training split of {data_dir} has {len(train_idx)} images, fewer than one batch "
            f"(--batch-size {config.batch_size}); add images or lower --batch-size"
        )
    log.info(
        "training %s on %d images (%d classes), validating on %d", config.arch, len(train_idx),
        len(data.labels), len(val_idx),
    )
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.arch, config.image_size_px, len(data.labels))
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train_ds, steps = training_dataset(
        data.images[train_idx], data.label_ids[train_idx], config.augment_config,
        config.epochs, config.batch_size, config.seed,
    )
    val_ds = eval_dataset(data.images[val_idx], data.label_ids[val_idx], config.batch_size)
    history = model.fit(
        train_ds, epochs=config.epochs, steps_per_epoch=steps, validation_data=val_ds,
        verbose=0, callbacks=[_epoch_logger(config.epochs)],
    ).history
    val_accuracy = float(history["val_accuracy"][-1])

    rel = data.relative_paths()
    contract = InputContract(image_size_px=config.image_size_px)
    resolved = {
        "train": asdict(config),
        "augment": config.augment_config.to_dict(),
        "input": contract.to_dict(),
        "dataset": {
            "path": str(data_dir),
            "labels": list(data.labels),
            "n_images": len(data.paths),
            "n_skipped": len(data.skipped),
        },
        "result": {"val_accuracy": val_accuracy, "n_train": int(len(train_idx)), "n_val": int(len(val_idx))},
        "versions": {
            "edgeposinv": __version__,
            "tensorflow": tf.__version__,
            "tf_keras": keras.__version__,
            "python": platform.python_version(),
        },
    }
    with atomic_dir(run_dir, overwrite=overwrite) as tmp:
        model.save(tmp / MODEL_FILE)
        atomic_write_text(tmp / LABELS_FILE, "\n".join(data.labels) + "\n")
        atomic_write_json(tmp / CONFIG_FILE, resolved)
        atomic_write_json(tmp / SPLIT_FILE, {
            "seed": config.seed,
            "grouped_by_session": any(s is not None for s in data.sessions),
            "train": [rel[i] for i in train_idx],
            "val": [rel[i] for i in val_idx],
        })
        atomic_write_text(tmp / HISTORY_FILE, _history_csv(history))
    seconds = time.monotonic() - started
    log.info("wrote %s (val accuracy %.3f, %.0fs)", run_dir, val_accuracy, seconds)
    return TrainResult(run_dir, data.labels, val_accuracy, len(train_idx), len(val_idx), seconds)

