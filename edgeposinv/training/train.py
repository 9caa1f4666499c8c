"""Training: a dataset folder in, a run folder out (see :mod:`edgeposinv.training.runs`).

Pretrained backbones train in two phases — ``head`` (backbone frozen) then ``fine_tune``
(the top of the backbone unfrozen at a lower learning rate, BatchNormalization kept in
inference mode); from-scratch models train in one ``train`` phase; ``--qat`` adds a
``qat`` phase of quantization-aware fine-tuning. Each phase uses warm-up + cosine decay.
Every epoch saves a resumable state (:mod:`edgeposinv.training.checkpoints`) and, unless
turned off, TensorBoard scalars (:mod:`edgeposinv.training.tensorboard`). ``distribute``
spreads training over devices or machines with ``tf.distribute``
(:mod:`edgeposinv.training.distribute`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeposinv.errors import DatasetError, ModelError, ParameterError
from edgeposinv.training.distribute import Distribution
from edgeposinv.training.models import available, qat_unsupported
from edgeposinv.transforms.augment import PRESETS, AugmentConfig
from edgeposinv.util.files import check_can_write

__all__ = [
    "OPTIMIZERS",
    "QAT_CALIBRATION_IMAGES",
    "TrainConfig",
    "TrainResult",
    "config_dict",
    "resume",
    "train",
]

if TYPE_CHECKING:
    from edgeposinv.data.dataset import LoadedImages
    from edgeposinv.data.splits import SplitPlan

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw")
#: How unknown images train the model to reject: ``background`` (an extra ``_background``
#: output; the default: AUROC 0.993 vs 0.699 in benchmarks/bench_open_set.py) or
#: ``uniform`` (outlier exposure: a uniform target over the classes).
OPEN_SET_MODES = ("background", "uniform")
QAT_CALIBRATION_IMAGES = 512  # training images whose float activations set the QAT ranges


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run produces.

    ``weights``: ``default`` (ImageNet for MobileNets, none for ``tiny``), ``imagenet``,
    ``none`` or a file path. ``frozen_epochs``: epochs with the pretrained backbone frozen
    (``None``: 30% of ``epochs``). ``early_stopping_patience`` 0 turns early stopping off;
    the weights of the lowest validation loss are kept either way.
    """

    arch: str = "tiny"
    image_size_px: int = 64
    epochs: int = 20
    batch_size: int = 32
    augment: str = "default"
    augment_config: str | None = None
    seed: int = 0
    val_split: float = 0.2
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    label_smoothing: float = 0.0
    class_weight: str = "none"
    early_stopping_patience: int = 0
    weights: str = "default"
    alpha: float = 0.35
    minimalistic: bool = False
    dropout: float = 0.2
    antialias: bool = False
    frozen_epochs: int | None = None
    fine_tune_lr_factor: float = 0.3
    fine_tune_fraction: float = 0.6
    qat: bool = False
    qat_epochs: int = 2
    folder_weights: str = "sqrt"
    val_dirs: tuple[str, ...] = ()
    val_from: str | None = None
    near_duplicates: str = "hash"  # hash | features | hash+features | off (True/False: hash/off)
    adapt_dir: str | None = None
    unknown_dir: str | None = None
    open_set_mode: str = "background"

    def __post_init__(self) -> None:
        def bad(param: str, value, expected: str, fix: str | None = None) -> ParameterError:
            return ParameterError(
                param, value, expected, owner="TrainConfig", fix=fix, related=("arch", "epochs")
            )

        if isinstance(self.near_duplicates, bool):  # older configs and callers
            object.__setattr__(self, "near_duplicates", "hash" if self.near_duplicates else "off")
        from edgeposinv.data.splits import NEAR_DUPLICATE_METHODS

        if self.near_duplicates not in NEAR_DUPLICATE_METHODS:
            raise bad(
                "near_duplicates",
                self.near_duplicates,
                f"must be one of: {', '.join(NEAR_DUPLICATE_METHODS)}",
            )
        if self.open_set_mode not in OPEN_SET_MODES:
            raise bad(
                "open_set_mode", self.open_set_mode, f"must be one of: {', '.join(OPEN_SET_MODES)}"
            )
        if self.arch not in available():
            raise bad("arch", self.arch, f"must be one of: {', '.join(available())}")
        if self.qat and qat_unsupported(self.arch):
            can = " or ".join(a for a in available() if not qat_unsupported(a))
            raise bad(
                "qat",
                self.qat,
                f"cannot be used with arch {self.arch!r} ({qat_unsupported(self.arch)})",
                fix=f"use 'arch' {can}, or train without it and export with "
                "'edgeposinv export --quantize int8'",
            )
        if not 16 <= self.image_size_px <= 512:
            raise bad("image_size_px", self.image_size_px, "must be in [16, 512] pixels")
        for name, value, lo in (
            ("epochs", self.epochs, 1),
            ("batch_size", self.batch_size, 1),
            ("warmup_epochs", self.warmup_epochs, 0),
            ("early_stopping_patience", self.early_stopping_patience, 0),
            ("qat_epochs", self.qat_epochs, 1),
        ):
            if value < lo:
                raise bad(name, value, f"must be at least {lo}")
        if self.augment not in PRESETS:
            raise bad("augment", self.augment, f"must be one of: {', '.join(PRESETS)}")
        if not 0.0 <= self.val_split < 1.0:
            raise bad("val_split", self.val_split, "must be in [0, 1)")
        if self.val_dirs and self.val_from:
            raise bad(
                "val_from",
                self.val_from,
                "cannot be combined with val_dirs",
                fix="validate on a separate folder, or on a split of one training folder",
            )
        if self.val_from and self.val_split == 0:
            raise bad("val_from", self.val_from, "needs a val_split above 0")
        if not 0.0 < self.learning_rate < 1.0:
            raise bad("learning_rate", self.learning_rate, "must be in (0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", self.optimizer, f"must be one of: {', '.join(OPTIMIZERS)}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise bad("label_smoothing", self.label_smoothing, "must be in [0, 0.5)")
        if self.class_weight not in ("none", "balanced"):
            raise bad("class_weight", self.class_weight, "must be 'none' or 'balanced'")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", self.dropout, "must be in [0, 1)")
        if self.frozen_epochs is not None and not 0 <= self.frozen_epochs < self.epochs:
            raise bad(
                "frozen_epochs", self.frozen_epochs, f"must be in [0, 'epochs' {self.epochs})"
            )
        if self.adapt_dir and self.qat:
            raise bad(
                "adapt_dir",
                self.adapt_dir,
                "cannot be combined with 'qat' (QAT folds BatchNormalization before adapting)",
                fix="drop one of them",
            )
        if not 0.0 < self.fine_tune_fraction <= 1.0:
            raise bad("fine_tune_fraction", self.fine_tune_fraction, "must be in (0, 1]")
        if not 0.0 < self.fine_tune_lr_factor <= 1.0:
            raise bad("fine_tune_lr_factor", self.fine_tune_lr_factor, "must be in (0, 1]")
        if self.weights not in ("default", "imagenet", "none") and not Path(self.weights).is_file():
            raise bad(
                "weights",
                self.weights,
                "must be 'default', 'imagenet', 'none' or an existing weights file",
                fix="check the path",
            )
        from edgeposinv.data.folders import parse_folder_weights

        parse_folder_weights(self.folder_weights)

    @property
    def resolved_weights(self) -> str:
        if self.weights == "default":
            return "none" if self.arch == "tiny" else "imagenet"
        return self.weights

    @property
    def pretrained(self) -> bool:
        return self.resolved_weights != "none"

    def augment_settings(self) -> AugmentConfig:
        """The preset, or the ``--augment-config`` file (keys override its ``preset``)."""
        if self.augment_config:
            return AugmentConfig.from_file(self.augment_config)
        return AugmentConfig.preset(self.augment)

    def phases(self) -> list[tuple[str, int, int, float]]:
        """``(name, first_epoch, end_epoch, peak_lr)`` of each phase."""
        if not self.pretrained or self.arch == "tiny":
            out = [("train", 0, self.epochs, self.learning_rate)]
        else:
            frozen = (
                self.frozen_epochs
                if self.frozen_epochs is not None
                else max(1, round(0.3 * self.epochs))
            )
            out = [("head", 0, frozen, self.learning_rate)] if frozen else []
            out.append(
                ("fine_tune", frozen, self.epochs, self.learning_rate * self.fine_tune_lr_factor)
            )
        if self.qat:
            out.append(
                ("qat", self.epochs, self.epochs + self.qat_epochs, self.learning_rate * 0.05)
            )
        return [p for p in out if p[2] > p[1]]

    @property
    def validation(self) -> str:
        """Where the validation images come from, in words (saved in config.json)."""
        if self.val_dirs:
            return "the folder(s) given with --val: " + ", ".join(self.val_dirs)
        if self.val_split == 0:
            return (
                "none (--val-split 0): every image trains; the best checkpoint and early "
                "stopping follow the training loss"
            )
        where = f" of {self.val_from} only" if self.val_from else ""
        return f"a {self.val_split:.0%} split{where}, grouped by session / near-duplicate cluster"

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        if "val_dirs" in d:
            d["val_dirs"] = tuple(d["val_dirs"])
        return cls(**d)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    labels: tuple[str, ...]
    val_accuracy: float
    n_train: int
    n_val: int
    seconds: float
    epochs_run: int = 0
    weights_sha256: str | None = None  # distributed runs: equal on every worker
    worker_index: int = 0
    n_workers: int = 1


def train(
    data_dir: str | os.PathLike | Sequence[str | os.PathLike],
    run_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    overwrite: bool = False,
    show_progress: bool = True,
    distribute: str = "auto",
    tensorboard: bool = True,
) -> TrainResult:
    """Train ``config.arch`` on the images of ``data_dir`` — one dataset folder or several
    (:mod:`edgeposinv.data.folders`) — and write the run to ``run_dir`` (``distribute``: see
    :mod:`edgeposinv.training.distribute`; ``tensorboard``: write ``RUN/logs/``)."""
    from edgeposinv.data.folders import as_paths
    from edgeposinv.training.guard import guarded_new_run
    from edgeposinv.training.runs import write_run_start
    from edgeposinv.util.files import SetAside, check_not_in_dataset

    data_dirs, run_dir = as_paths(data_dir), Path(run_dir)
    dist = Distribution.create(distribute, config.batch_size, tensorboard, run_dir)
    if not dist.placement.is_chief:
        return _train_other_worker(data_dirs, run_dir, config, dist, show_progress)
    check_can_write(run_dir, overwrite)
    check_not_in_dataset(run_dir, data_dirs, is_dir=True, param="run_dir")
    SetAside.check_free(run_dir, "run")
    if len(data_dirs) > 1:  # one weight per folder: checked before decoding anything
        from edgeposinv.data.folders import folder_shares

        folder_shares(config.folder_weights, [1] * len(data_dirs))
    config = replace(  # absolute folders, so that --resume works from anywhere
        config,
        val_dirs=tuple(str(Path(p).resolve()) for p in config.val_dirs),
        val_from=str(Path(config.val_from).resolve()) if config.val_from else None,
    )
    augment = config.augment_settings()
    if config.adapt_dir:
        from edgeposinv.training.adapt import check_adapt_dir

        check_adapt_dir(config.adapt_dir)
    prepared = _prepare_data(data_dirs, config, augment, show_progress)

    def work() -> TrainResult:
        write_run_start(run_dir, config, augment, prepared, dist.record())
        return _fit(run_dir, config, augment, prepared, None, dist)

    # An existing run (replaced only with overwrite) is set aside until the new run can
    # be resumed, and given back on any failure or signal before that (training.guard).
    return guarded_new_run(run_dir, work)


def resume(
    run_dir: str | os.PathLike,
    show_progress: bool = True,
    distribute: str = "auto",
    tensorboard: bool | None = None,
) -> TrainResult:
    """Continue a killed run from its last completed epoch (same epochs, same data order,
    whatever ``distribute`` it runs under now; ``tensorboard`` ``None``: as the run began)."""
    from edgeposinv.training.checkpoints import read_state
    from edgeposinv.training.runs import read_run_config

    run_dir = Path(run_dir)
    resolved = read_run_config(run_dir)
    if tensorboard is None:
        tensorboard = bool(resolved.get("tensorboard", True))
    batch_size = TrainConfig.from_dict(resolved["train"]).batch_size
    dist = Distribution.create(distribute, batch_size, tensorboard, run_dir)
    state = read_state(run_dir)
    if resolved.get("status") == "complete":
        raise ModelError(f"{run_dir} already finished training; nothing to resume")
    if state is None:
        from edgeposinv.util.files import aside_path

        left = aside_path(run_dir)
        raise ModelError(
            f"{run_dir} has no saved epoch to resume from (killed before the first epoch "
            "ended); start it again"
            + (f"; {left} holds the run it replaced" if left.is_dir() else "")
        )
    config = TrainConfig.from_dict(resolved["train"])
    augment = AugmentConfig.from_dict(resolved["augment"], source=f"{run_dir}/config.json")
    paths = resolved["dataset"].get("paths", [resolved["dataset"]["path"]])
    paths = paths[: len(paths) - len(config.val_dirs)]  # validation folders come last
    prepared = _prepare_data([Path(p) for p in paths], config, augment, show_progress)
    if prepared.split_record("train") != resolved["_split_train"]:
        raise DatasetError(
            f"The dataset {resolved['dataset']['path']} changed since {run_dir} started (its training split differs); "
            "restore the images or start a new run"
        )
    log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    from edgeposinv.training.guard import guarded_resume

    if not dist.placement.is_chief:
        from edgeposinv.training.distribute import copy_checkpoint, worker_folder

        with worker_folder(run_dir, dist.placement) as own:
            copy_checkpoint(run_dir, own)
            result = _fit(own, config, augment, prepared, state, dist)
        return replace(result, run_dir=run_dir)
    if dist.placement.distributed:
        from edgeposinv.training.runs import record_resume

        record_resume(run_dir, state["epoch"], dist.record())
    return guarded_resume(run_dir, lambda: _fit(run_dir, config, augment, prepared, state, dist))


def _train_other_worker(
    data_dirs: list[Path],
    run_dir: Path,
    config: TrainConfig,
    dist: Distribution,
    show_progress: bool,
) -> TrainResult:
    """A worker other than the chief: the same training, written to a temporary folder."""
    from edgeposinv.training.distribute import worker_folder
    from edgeposinv.training.runs import write_run_start

    augment = config.augment_settings()
    prepared = _prepare_data(data_dirs, config, augment, show_progress)
    with worker_folder(run_dir, dist.placement) as own:
        write_run_start(own, config, augment, prepared, dist.record())
        return replace(_fit(own, config, augment, prepared, None, dist), run_dir=run_dir)


@dataclass
class _Prepared:
    data: LoadedImages
    train_idx: np.ndarray
    val_idx: np.ndarray
    masks: np.ndarray | None
    tiles: np.ndarray | None
    plan: SplitPlan | None = None
    folder_shares: np.ndarray | None = None  # several folders: each one's share of a batch
    grouping: dict | None = None  # how groups were found (split.json)
    unknown: _Unknown | None = None
    open_set_mode: str = "background"

    def split_record(self, side: str) -> dict:
        """The files of one side: paths relative to their folder, and the folder indices."""
        rel, folders = self.data.relative_paths(), self.data.folders
        idx = self.train_idx if side == "train" else self.val_idx
        return {"files": [rel[i] for i in idx], "folders": [int(folders[i]) for i in idx]}

    @property
    def labels(self) -> tuple[str, ...]:
        """The model's outputs: the classes, plus ``_background`` for a background output."""
        from edgeposinv.tflite.open_set import RESERVED_LABEL

        labels: tuple[str, ...] = tuple(self.data.labels)
        if self.unknown is not None and self.open_set_mode == "background":
            return labels + (RESERVED_LABEL,)
        return labels

    @property
    def unknown_id(self) -> int:
        """Label id of unknown images: the background output, or -1 (uniform target)."""
        return len(self.data.labels) if self.open_set_mode == "background" else -1

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training images, label ids and folder ids; unknown images come last, as one more
        folder (index: the number of dataset folders)."""
        x, y = self.data.images[self.train_idx], self.data.label_ids[self.train_idx]
        f = self.data.folders[self.train_idx]
        if self.unknown is None:
            return x, y, f
        u = self.unknown.images[self.unknown.train_idx]
        # the unknown images' batch share comes last (after the training folders')
        n_folders = 0 if self.folder_shares is None else len(self.folder_shares) - 1
        return (
            np.concatenate([x, u]),
            np.concatenate([y, np.full(len(u), self.unknown_id)]),
            np.concatenate([f, np.full(len(u), n_folders)]),
        )

    def val_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Validation images with labels; unknowns only for a background output (a uniform
        target has no accuracy)."""
        x, y = self.data.images[self.val_idx], self.data.label_ids[self.val_idx]
        if self.unknown is None or self.open_set_mode != "background":
            return x, y
        u = self.unknown.images[self.unknown.val_idx]
        return np.concatenate([x, u]), np.concatenate([y, np.full(len(u), self.unknown_id)])


@dataclass
class _Unknown:
    """Unknown images (none of the classes): ``DATA/_background`` and/or ``--unknown DIR``."""

    images: np.ndarray
    paths: list
    train_idx: np.ndarray
    val_idx: np.ndarray

    def split_dict(self, side: str) -> list[str]:
        return [str(self.paths[i]) for i in (self.train_idx if side == "train" else self.val_idx)]


def _prepare_data(
    data_dirs: list[Path], config: TrainConfig, augment: AugmentConfig, show_progress: bool
) -> _Prepared:
    from edgeposinv.data.dataset import list_unknown_images, reserved_images
    from edgeposinv.data.folders import folder_shares, load_folders
    from edgeposinv.data.splits import no_split, require_validation, split_loaded

    # Unknown images: every folder's reserved DATA/_background, plus --unknown DIR
    unknown_paths = [p for d in data_dirs for p in reserved_images(d)]
    if config.unknown_dir:
        unknown_paths += list_unknown_images(config.unknown_dir)
    val_dirs = [Path(p).resolve() for p in config.val_dirs]
    data = load_folders(data_dirs, config.image_size_px, show_progress, val_roots=val_dirs)
    is_val = data.folders >= len(data_dirs)
    if val_dirs or config.val_split == 0:
        plan, grouping = no_split(data, is_val, config.validation)
    else:
        eligible = None
        if config.val_from:
            eligible = data.folders == _folder_index(config.val_from, data_dirs)
        embed = None
        if "features" in config.near_duplicates:
            from edgeposinv.training.features import embed_images

            # the training backbone's own weights file when it is MobileNetV2-0.35, else the
            # shared / ImageNet weights (features need a pretrained backbone, even for 'tiny')
            same = config.arch == "mobilenet_v2" and config.alpha == 0.35 and config.pretrained
            weights = config.resolved_weights if same else None

            def embed(images: np.ndarray) -> np.ndarray:
                return embed_images(images, config.image_size_px, weights, show_progress)

        plan, grouping = split_loaded(
            data,
            config.val_split,
            config.seed,
            eligible,
            config.near_duplicates,
            show_progress,
            embed,
        )
        require_validation(plan, len(data.paths), config.val_split)
    train_idx, val_idx = plan.train_idx, plan.val_idx
    unknown = _split_unknown(unknown_paths, config) if unknown_paths else None
    shares = None
    if len(data_dirs) > 1:
        counts = np.bincount(data.folders[train_idx], minlength=len(data.roots))
        shares = folder_shares(config.folder_weights, counts[: len(data_dirs)].tolist())
        if unknown is not None:  # one more "folder" of the batches, in its own proportion
            u = len(unknown.train_idx) / (len(unknown.train_idx) + len(train_idx))
            shares = np.append(shares * (1.0 - u), u)
    if len(train_idx) < config.batch_size:
        where = " + ".join(map(str, data_dirs))
        raise DatasetError(
            f"The training split of {where} has {len(train_idx)} images, fewer than one batch "
            f"('batch_size' {config.batch_size}, 'val_split' {config.val_split}); add images, "
            "lower 'batch_size' or lower 'val_split'",
            params=("batch_size", "val_split"),
        )
    prep = _Prepared(
        data, train_idx, val_idx, None, None, plan, shares, grouping, unknown, config.open_set_mode
    )
    if augment.uses_background:
        from edgeposinv.transforms.background import backdrop_mask, load_background_tiles

        prep.masks = backdrop_mask(prep.train_arrays()[0], augment.backdrop)
        prep.tiles = load_background_tiles(
            str(augment.background_dir),
            config.image_size_px,
            256,
            config.seed,
            augment.background_crop,
        )
    return prep


def _folder_index(folder: str, data_dirs: list[Path]) -> int:
    resolved = Path(folder).resolve()
    if resolved not in data_dirs:
        raise ParameterError(
            "val_from",
            folder,
            f"must be one of the training folders ({', '.join(map(str, data_dirs))})",
            owner="TrainConfig",
        )
    return data_dirs.index(resolved)


def _split_unknown(paths: list, config: TrainConfig) -> _Unknown:
    """Decode the unknown images and split them like the classes (seeded, same fraction; all
    train when the run has no validation split)."""
    from sklearn.model_selection import train_test_split

    from edgeposinv.data.dataset import load_unknown_images

    images, kept = load_unknown_images(paths, config.image_size_px)
    if len(kept) < 2:
        raise DatasetError(
            f"Open-set training needs at least 2 readable unknown images; got {len(kept)} "
            f"(from _background and --unknown {config.unknown_dir})"
        )
    if config.val_dirs or config.val_split == 0:
        train_idx, val_idx = np.arange(len(kept)), np.zeros(0, np.int64)
    else:
        train_idx, val_idx = train_test_split(
            np.arange(len(kept)), test_size=config.val_split, random_state=config.seed
        )
    log.info("unknown images: %d train, %d validation", len(train_idx), len(val_idx))
    return _Unknown(images, kept, np.sort(train_idx), np.sort(val_idx))


def _class_weights(label_ids: np.ndarray, n_classes: int) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    label_ids = label_ids[label_ids >= 0]  # uniform-target unknowns have no class
    w = compute_class_weight("balanced", classes=np.arange(n_classes), y=label_ids)
    return {i: float(v) for i, v in enumerate(w)}


def _fit(
    run_dir: Path,
    config: TrainConfig,
    augment: AugmentConfig,
    prep: _Prepared,
    state: dict | None,
    dist: Distribution,
) -> TrainResult:
    """Build and train the model under ``dist``'s strategy (variables created in its scope)."""
    with dist.lost_worker_as_error(), dist.strategy.scope():
        return _fit_phases(run_dir, config, augment, prep, state, dist)


def _fit_phases(
    run_dir: Path,
    config: TrainConfig,
    augment: AugmentConfig,
    prep: _Prepared,
    state: dict | None,
    dist: Distribution,
) -> TrainResult:
    from edgeposinv.training import checkpoints, distribute
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.models import build_model, set_trainable
    from edgeposinv.training.pipeline import eval_dataset, training_dataset
    from edgeposinv.training.runs import write_run_end
    from edgeposinv.training.schedule import WarmupCosine, make_optimizer

    started = time.monotonic()
    n_classes = len(prep.labels)
    x_train, y_train, f_train = prep.train_arrays()
    x_val, y_val = prep.val_arrays()
    start_epoch = state["epoch"] if state else 0
    state = state or checkpoints.new_state()
    keras.utils.set_random_seed(config.seed + start_epoch)
    model = build_model(
        config.arch,
        config.image_size_px,
        n_classes,
        weights=config.resolved_weights,
        alpha=config.alpha,
        minimalistic=config.minimalistic,
        dropout=config.dropout,
        antialias=config.antialias,
    )
    log.info(
        "training %s on %d images (%d classes), validating on %d; phases: %s",
        config.arch,
        len(x_train),
        n_classes,
        len(x_val),
        ", ".join(f"{name} {a + 1}-{b}" for name, a, b, _ in config.phases()),
    )
    val_ds = None
    if len(x_val):
        val_ds = eval_dataset(x_val, y_val, config.batch_size, n_classes)
        if dist.placement.distributed:
            val_ds = distribute.shard_by_data(val_ds)
    if dist.tensorboard and start_epoch == 0:
        from edgeposinv.training.tensorboard import write_first_images

        write_first_images(run_dir, x_train, augment, config.seed, prep.masks, prep.tiles)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    class_weight = _class_weights(y_train, n_classes) if config.class_weight == "balanced" else None
    phases = config.phases()
    total = phases[-1][2]
    steps = max(1, len(x_train) // config.batch_size)
    resumed_from, restored = start_epoch, False
    for name, first, end, peak_lr in phases:
        if end <= start_epoch or (state["stopped"] and name != "qat"):
            continue
        resuming_here = resumed_from > 0 and not restored
        if name == "qat":
            from edgeposinv.training.qat import calibrate_ranges, quantize_model

            best = checkpoints.best_weights(run_dir)
            if start_epoch <= first:
                if best is not None:
                    model.load_weights(str(best))
                elif resuming_here:
                    checkpoints.restore(run_dir, state, model, None)
            float_model, model = model, quantize_model(model)
            if start_epoch <= first:
                calibrate_ranges(
                    model, float_model, x_train[:QAT_CALIBRATION_IMAGES], config.batch_size
                )
        else:
            set_trainable(model, "all" if name == "train" else name, config.fine_tune_fraction)
        schedule = WarmupCosine(
            peak_lr, (end - first) * steps, min(config.warmup_epochs, end - first) * steps
        )
        optimizer = make_optimizer(config.optimizer, schedule, config.weight_decay)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        if resuming_here and (first < start_epoch or name != "qat"):
            # Mid-phase: model and optimizer; at a phase boundary: the model only.
            checkpoints.restore(run_dir, state, model, optimizer if first < start_epoch else None)
        restored = True
        begin = max(first, start_epoch)
        train_ds = distribute.distributed_dataset(
            dist.strategy,
            dist.placement,
            lambda replicas, pipeline, pipelines, end=end, begin=begin: training_dataset(
                x_train,
                y_train,
                augment,
                end,
                config.batch_size,
                config.seed,
                start_epoch=begin,
                num_classes=n_classes,
                masks=prep.masks,
                tiles=prep.tiles,
                folder_ids=None if prep.folder_shares is None else f_train,
                folder_shares=prep.folder_shares,
                replicas=replicas,
                pipeline=(pipeline, pipelines),
            )[0],
            class_weight if dist.placement.distributed else None,
        )
        callbacks = [
            checkpoints.make_callback(
                run_dir,
                state,
                name,
                total,
                config.early_stopping_patience,
                name != "qat",
                optimizer,
            )
        ]
        if dist.tensorboard:
            from edgeposinv.training.tensorboard import epoch_callback

            callbacks.append(epoch_callback(run_dir, state, [p[0] for p in phases]))
        model.fit(
            train_ds,
            epochs=end,
            initial_epoch=begin,
            steps_per_epoch=steps,
            validation_data=val_ds,
            class_weight=None if dist.placement.distributed else class_weight,
            verbose=0,
            callbacks=callbacks,
        )
        start_epoch = max(start_epoch, state["epoch"])
    if config.qat:
        from edgeposinv.training.qat import fix_input_range

        fix_input_range(model)
    elif checkpoints.best_weights(run_dir) is not None:
        model.load_weights(str(checkpoints.best_weights(run_dir)))
    adapted = None
    if config.adapt_dir:
        from edgeposinv.training.adapt import adapt_from_folder

        adapted = adapt_from_folder(model, config.adapt_dir, config.image_size_px, config.seed)
    model.compile(loss=loss, metrics=["accuracy"])
    val_loss = val_accuracy = float("nan")
    if val_ds is not None:
        val_loss, val_accuracy = (float(v) for v in model.evaluate(val_ds, verbose=0))
    result: dict[str, object] = {
        "val_accuracy": None if val_ds is None else val_accuracy,
        "val_loss": None if val_ds is None else val_loss,
        "validation": config.validation,
        "n_train": int(len(prep.train_idx)),
        "n_val": int(len(prep.val_idx)),
        "n_unknown_train": 0 if prep.unknown is None else int(len(prep.unknown.train_idx)),
        "n_unknown_val": 0 if prep.unknown is None else int(len(prep.unknown.val_idx)),
        "epochs_run": int(state["epoch"]),
        "stopped_early": bool(state["stopped"]),
    }
    digest = distribute.weights_digest(model) if dist.placement.distributed else None
    if digest:
        result["weights_sha256"] = digest
    if adapted is not None:
        result["adapt"] = adapted  # val figures above are after adapting
    write_run_end(run_dir, model, state["history"], result, qat=config.qat)
    checkpoints.remove(run_dir)
    seconds = time.monotonic() - started
    log.info("wrote %s (val accuracy %.3f, %.0fs)", run_dir, val_accuracy, seconds)
    return TrainResult(
        run_dir,
        prep.labels,
        val_accuracy,
        len(prep.train_idx),
        len(prep.val_idx),
        seconds,
        int(state["epoch"]),
        digest,
        dist.placement.worker_index,
        dist.placement.n_workers,
    )


def config_dict(config: TrainConfig) -> dict:
    d = asdict(config)
    d["weights_resolved"] = config.resolved_weights
    d["phases"] = [list(p) for p in config.phases()]
    return d
