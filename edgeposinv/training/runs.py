"""The run folder written by ``train`` and read by ``export`` (no TensorFlow needed to read it).

Layout::

    RUN/model.keras          the trained tf_keras model (normalisation inside); for a
                             ``--qat`` run the tfmot-wrapped model, stored in Keras's HDF5
                             layout (tfmot wrappers do not round-trip the zip layout) —
                             ``keras.models.load_model`` reads it under ``quantize_scope()``
    RUN/labels.txt           one label per line, in output order
    RUN/config.json          resolved TrainConfig, augmentation, input contract, dataset,
                             versions, result; ``status`` is ``running`` until training ends
    RUN/split.json           the exact train/validation files (relative to their dataset
                             folder; ``train_folder``/``val_folder`` give each file's folder
                             index into ``folders``) and how each class was split
    RUN/history.csv          per-epoch phase, learning rate, loss and accuracy
    RUN/training_curve.png   loss and accuracy per epoch
    RUN/logs/                TensorBoard event files (:mod:`edgeposinv.training.tensorboard`)
    RUN/checkpoint/          only while training: the resumable state (``--resume RUN``)
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.errors import ModelError
from edgeposinv.tflite.preprocess import InputContract
from edgeposinv.util.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
)

__all__ = [
    "CONFIG_FILE",
    "CURVE_FILE",
    "HISTORY_FILE",
    "LABELS_FILE",
    "MODEL_FILE",
    "Run",
    "SPLIT_FILE",
    "curve_png",
    "history_csv",
    "load_keras_model",
    "read_run",
    "read_run_config",
    "record_resume",
    "write_run_end",
    "write_run_start",
]

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"
CONFIG_FILE = "config.json"
SPLIT_FILE = "split.json"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training_curve.png"


@dataclass(frozen=True)
class Run:
    root: Path
    labels: tuple[str, ...]
    config: dict
    split: dict

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def contract(self) -> InputContract:
        return InputContract.from_dict(self.config["input"])

    @property
    def data_dir(self) -> Path:
        """The (first) dataset folder."""
        return Path(self.config["dataset"]["path"])

    @property
    def data_dirs(self) -> list[Path]:
        """Every dataset folder of the run, in the order given to ``train``."""
        return [Path(p) for p in self.config["dataset"].get("paths", [self.data_dir])]

    @property
    def is_qat(self) -> bool:
        return bool(self.config.get("train", {}).get("qat", False))

    def split_paths(self, side: str) -> list[Path]:
        roots = self.data_dirs
        folders = self.split_folders(side)
        return [roots[f] / rel for rel, f in zip(self.split[side], folders)]

    def split_folders(self, side: str) -> list[int]:
        """The folder index of each file of one side (0 for single-folder runs)."""
        return list(self.split.get(f"{side}_folder", [0] * len(self.split[side])))

    def unknown_paths(self, side: str) -> list[Path]:
        """Unknown images (none of the classes) of the run's ``train`` or ``val`` side."""
        return [Path(p) for p in self.split.get("unknown", {}).get(side, [])]

    @property
    def class_labels(self) -> tuple[str, ...]:
        """The labels that are classes (all but the reserved ``_background`` output)."""
        from edgeposinv.tflite.open_set import RESERVED_LABEL

        return tuple(lab for lab in self.labels if lab != RESERVED_LABEL)

    @property
    def open_set_mode(self) -> str | None:
        """``uniform`` or ``background`` when the run trained with unknown images."""
        return self.split.get("unknown", {}).get("mode")


_RETRAIN = "train it again (or pass a run folder of a finished 'edgeposinv train')"


def _aside_hint(root: Path) -> str:
    from edgeposinv.util.files import aside_path

    left = aside_path(root)
    return f"; {left} holds the run it replaced" if left.is_dir() else ""


def read_run_config(root: str | os.PathLike) -> dict:
    root = Path(root)
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ModelError(
            f"{root} is not a training run folder (no {CONFIG_FILE}); pass a run folder "
            f"written by 'edgeposinv train'{_aside_hint(root)}"
        )
    config = read_json(path, ModelError, f"the run {root} is damaged; {_RETRAIN}")
    for key in ("train", "augment", "dataset"):
        if not isinstance(config.get(key), dict):
            raise ModelError(f"{path} has no '{key}' section; the run is damaged; {_RETRAIN}")
    missing = [n for n in (LABELS_FILE, SPLIT_FILE) if not (root / n).is_file()]
    if missing:
        raise ModelError(
            f"{root} lacks {', '.join(missing)}, which training wrote first; the run is "
            f"damaged and cannot be resumed; {_RETRAIN}"
        )
    split = read_json(root / SPLIT_FILE, ModelError, f"the run {root} is damaged; {_RETRAIN}")
    if not isinstance(split.get("train"), list):
        raise ModelError(f"{root / SPLIT_FILE} has no 'train' list; {_RETRAIN}")
    config["_split_train"] = {
        "files": split["train"],
        "folders": split.get("train_folder", [0] * len(split["train"])),
    }
    return config


def read_run(root: str | os.PathLike) -> Run:
    root = Path(root)
    config_path = root / CONFIG_FILE
    if root.is_file():
        raise ModelError(f"{root} is a file; pass a run folder written by 'edgeposinv train'")
    fix = f"the run {root} is damaged; {_RETRAIN}"
    if config_path.is_file() and not (root / MODEL_FILE).is_file():
        status = read_json(config_path, ModelError, fix).get("status")
        if status == "running":
            from edgeposinv.training.checkpoints import CHECKPOINT_DIR, STATE_FILE

            if (root / CHECKPOINT_DIR / STATE_FILE).is_file():
                raise ModelError(
                    f"Training of {root} did not finish (no {MODEL_FILE}); continue it with "
                    f"'edgeposinv train --resume {root}'{_aside_hint(root)}"
                )
            raise ModelError(
                f"Training of {root} stopped before its first epoch ended (no {MODEL_FILE}, "
                f"nothing to resume); train it again{_aside_hint(root)}"
            )
    missing = [
        n for n in (MODEL_FILE, LABELS_FILE, CONFIG_FILE, SPLIT_FILE) if not (root / n).is_file()
    ]
    if missing:
        raise ModelError(
            f"{root} is not a training run folder (missing {', '.join(missing)}); "
            f"pass a run folder written by 'edgeposinv train'{_aside_hint(root)}"
        )
    try:
        text = (root / LABELS_FILE).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ModelError(f"{root / LABELS_FILE} is not readable UTF-8 text; {fix}") from None
    labels = tuple(line for line in text.splitlines() if line)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ModelError(
            f"{root / LABELS_FILE} must list at least two distinct labels, one per line; "
            f"got {len(labels)} line(s); {fix}"
        )
    config = read_json(config_path, ModelError, fix)
    split = read_json(root / SPLIT_FILE, ModelError, fix)
    if not isinstance(config.get("input"), dict) or not isinstance(config.get("dataset"), dict):
        raise ModelError(f"{config_path} has no 'input' or 'dataset' section; {fix}")
    if not all(isinstance(split.get(side), list) for side in ("train", "val")):
        raise ModelError(f"{root / SPLIT_FILE} has no 'train' and 'val' lists; {fix}")
    try:
        InputContract.from_dict(config["input"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{config_path} has an unusable 'input' section ({e}); {fix}") from None
    return Run(root, labels, config, split)


def load_keras_model(run: Run):
    """The run's tf_keras model (under tfmot's quantize scope for a QAT run).

    A truncated or foreign model file, or one whose outputs do not match ``labels.txt``,
    raises :class:`ModelError`.
    """
    from edgeposinv.training.keras_api import keras

    try:
        if run.is_qat:
            from edgeposinv.training.qat import load_qat_model

            model = load_qat_model(run.model_path)
        else:
            model = keras.models.load_model(run.model_path, compile=False)
    except Exception as e:  # Keras raises many types for a damaged file
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"{run.model_path} cannot be loaded ({first}); the file is damaged, train the run again"
        ) from None
    n_out = int(model.outputs[0].shape[-1])
    if n_out != len(run.labels):
        raise ModelError(
            f"{run.root / LABELS_FILE} lists {len(run.labels)} labels but {run.model_path} has "
            f"{n_out} outputs; the run is inconsistent, restore its labels.txt or train it again"
        )
    return model


def write_run_start(run_dir: Path, config, augment, prepared, extra: dict | None = None) -> None:
    """Create the run folder: resolved config (status running, plus ``extra`` keys such as
    ``distribute``), labels and split."""
    from edgeposinv import __version__
    from edgeposinv.training.train import config_dict

    data = prepared.data
    roots = [str(Path(r).resolve()) for r in (data.roots or (data.root,))]
    train_rec, val_rec = prepared.split_record("train"), prepared.split_record("val")
    resolved = {
        "status": "running",
        "train": config_dict(config),
        "augment": augment.to_dict(),
        "input": InputContract(image_size_px=config.image_size_px).to_dict(),
        "dataset": {
            "path": roots[0],
            "paths": roots,
            "labels": list(data.labels),
            "n_images": len(data.paths),
            "n_skipped": len(data.skipped),
            "folders": _folder_summary(roots, data, train_rec, val_rec, prepared.folder_shares),
        },
        "versions": {"edgeposinv": __version__, "python": platform.python_version()},
    }
    if prepared.unknown is not None:  # images of none of the classes (open-set training)
        shares = prepared.folder_shares
        resolved["dataset"]["unknown"] = {
            "mode": prepared.open_set_mode,
            "n_train": int(len(prepared.unknown.train_idx)),
            "n_val": int(len(prepared.unknown.val_idx)),
            "batch_share": None if shares is None else round(float(shares[-1]), 6),
        }
    plan = prepared.plan
    resolved.update(extra or {})
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / LABELS_FILE, "\n".join(prepared.labels) + "\n")
    split = {
        "seed": config.seed,
        "folders": roots,
        # True only when the split itself kept every session whole: sessions exist and
        # no class fell back to a by-image split ("strata" says how each was split)
        "grouped_by_session": bool(
            plan is not None
            and plan.strata
            and not plan.fallback_strata
            and any(s is not None for s in data.sessions)
        ),
        "validation": config.validation,
        "fallback_classes": [] if plan is None else plan.fallback_strata,
        "strata": [] if plan is None else list(plan.strata),
        "grouping": prepared.grouping or {},
        "train": train_rec["files"],
        "train_folder": train_rec["folders"],
        "val": val_rec["files"],
        "val_folder": val_rec["folders"],
    }
    if prepared.unknown is not None:
        # absolute paths: unknown images come from DATA/_background and/or --unknown DIR
        split["unknown"] = {
            "mode": prepared.open_set_mode,
            "train": prepared.unknown.split_dict("train"),
            "val": prepared.unknown.split_dict("val"),
        }
    atomic_write_json(run_dir / SPLIT_FILE, split)
    atomic_write_json(run_dir / CONFIG_FILE, resolved)


def _folder_summary(roots, data, train_rec, val_rec, shares) -> list[dict]:
    """Per dataset folder: images, training/validation counts and batch share."""
    out = []
    for f, root in enumerate(roots):
        n_train = train_rec["folders"].count(f)
        # validation folders (--val) and folders without training images get no share
        if shares is not None and f < len(shares):
            share = round(float(shares[f]), 6)
        else:
            share = 1.0 if shares is None and n_train else 0.0
        out.append(
            {
                "path": root,
                "n_images": int((data.folders == f).sum()),
                "n_train": n_train,
                "n_val": val_rec["folders"].count(f),
                "batch_share": share,
            }
        )
    return out


def record_resume(run_dir: Path, after_epoch: int, extra: dict) -> None:
    """Note in ``config.json`` that the run was resumed after ``after_epoch`` and how."""
    path = run_dir / CONFIG_FILE
    config = json.loads(path.read_text("utf-8"))
    config.setdefault("resumes", []).append({"after_epoch": after_epoch, **extra})
    atomic_write_json(path, config)


def history_csv(rows: list[dict]) -> str:
    keys = ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow(
            [
                row.get(k, "") if k in ("epoch", "phase") else f"{row.get(k, float('nan')):.6g}"
                for k in keys
            ]
        )
    return buf.getvalue()


def curve_png(rows: list[dict]) -> bytes:
    from edgeposinv.util.plots import pyplot

    plt = pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, ax in (("loss", a), ("accuracy", b)):
        ax.plot(epochs, [r.get(key) for r in rows], label=f"train {key}")
        ax.plot(epochs, [r.get(f"val_{key}") for r in rows], label=f"val {key}")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    for start in [r["epoch"] for prev, r in zip(rows, rows[1:]) if r["phase"] != prev["phase"]]:
        for ax in (a, b):
            ax.axvline(start - 0.5, color="grey", lw=0.8, ls=":")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_run_end(run_dir: Path, model, history: list[dict], result: dict, qat: bool) -> None:
    """Write the model, history, curve and final config (status complete) into the run."""
    from edgeposinv.training.keras_api import keras, tf

    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        # tfmot wrappers only round-trip Keras's HDF5 layout; load_model detects it by content.
        path = Path(tmp) / ("model.h5" if qat else MODEL_FILE)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*HDF5 file.*")
            model.save(path)
        shutil.move(str(path), run_dir / MODEL_FILE)
    atomic_write_text(run_dir / HISTORY_FILE, history_csv(history))
    atomic_write_bytes(run_dir / CURVE_FILE, curve_png(history))
    config = json.loads((run_dir / CONFIG_FILE).read_text("utf-8"))
    config["status"] = "complete"
    config["result"] = result
    config["versions"].update(tensorflow=tf.__version__, tf_keras=keras.__version__)
    atomic_write_json(run_dir / CONFIG_FILE, config)
