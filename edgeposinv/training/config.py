"""What a training run is asked to do (:class:`TrainConfig`) and what it gives back
(:class:`TrainResult`); validated on construction, recorded in the run's ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from edgeposinv.errors import ParameterError
from edgeposinv.training.models import available, default_image_size, qat_unsupported
from edgeposinv.transforms.augment import PRESETS, AugmentConfig

__all__ = ["OPEN_SET_MODES", "OPTIMIZERS", "TrainConfig", "TrainResult", "config_dict"]

OPTIMIZERS = ("adam", "adamw")
#: How unknown images train the model to reject: ``background`` (an extra ``_background``
#: output; the default: AUROC 0.989 vs 0.745 in benchmarks/bench_open_set.py) or
#: ``uniform`` (outlier exposure: a uniform target over the classes).
OPEN_SET_MODES = ("background", "uniform")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run produces.

    ``weights``: ``default`` (ImageNet for MobileNets, none for ``tiny``), ``imagenet``,
    ``none`` or a file path. ``image_size_px`` 0: the architecture's default input size
    (:func:`~edgeposinv.training.models.default_image_size`). ``randconv_copies``: random-
    convolution copies of each training image (:mod:`edgeposinv.transforms.randconv`).
    ``frozen_epochs``: epochs with the pretrained backbone frozen
    (``None``: 30% of ``epochs``). ``early_stopping_patience`` 0 turns early stopping off;
    the weights of the lowest validation loss are kept either way.
    """

    arch: str = "tiny"
    image_size_px: int = 0  # 0: the architecture's default (64 px tiny, 160 px MobileNets)
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
    folder_weights: str = "equal"
    randconv_copies: int = 0
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
        if self.image_size_px == 0:
            object.__setattr__(self, "image_size_px", default_image_size(self.arch))
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
            ("randconv_copies", self.randconv_copies, 0),
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


def config_dict(config: TrainConfig) -> dict:
    d = asdict(config)
    d["weights_resolved"] = config.resolved_weights
    d["phases"] = [list(p) for p in config.phases()]
    return d
