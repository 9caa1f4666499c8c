"""Training data for a run: the dataset folders loaded, split (grouped, per folder), the
unknown images of an open-set run, and the arrays each phase trains and validates on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeposinv.errors import DatasetError, ParameterError
from edgeposinv.training.config import TrainConfig
from edgeposinv.transforms.augment import AugmentConfig

__all__ = ["Prepared", "Unknown", "class_weights", "folder_index", "prepare_data", "split_unknown"]

if TYPE_CHECKING:
    from edgeposinv.data.dataset import LoadedImages
    from edgeposinv.data.splits import SplitPlan

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    data: LoadedImages
    train_idx: np.ndarray
    val_idx: np.ndarray
    masks: np.ndarray | None
    tiles: np.ndarray | None
    plan: SplitPlan | None = None
    folder_shares: np.ndarray | None = None  # several folders: each one's share of a batch
    grouping: dict | None = None  # how groups were found (split.json)
    unknown: Unknown | None = None
    open_set_mode: str = "background"
    # train --randconv: copies of the training images (block j: copy j of each)
    copies: np.ndarray | None = None

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
        """Training images, label ids and folder ids: the split's training images, then their
        random-convolution copies (each with its image's label and folder), then unknown
        images as one more folder (index: the number of dataset folders)."""
        x, y = self.data.images[self.train_idx], self.data.label_ids[self.train_idx]
        f = self.data.folders[self.train_idx]
        if self.copies is not None:
            n = len(self.copies) // len(x)
            x, y, f = np.concatenate([x, self.copies]), np.tile(y, n + 1), np.tile(f, n + 1)
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
class Unknown:
    """Unknown images (none of the classes): ``DATA/_background`` and/or ``--unknown DIR``."""

    images: np.ndarray
    paths: list
    train_idx: np.ndarray
    val_idx: np.ndarray

    def split_dict(self, side: str) -> list[str]:
        return [str(self.paths[i]) for i in (self.train_idx if side == "train" else self.val_idx)]


def prepare_data(
    data_dirs: list[Path], config: TrainConfig, augment: AugmentConfig, show_progress: bool
) -> Prepared:
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
            eligible = data.folders == folder_index(config.val_from, data_dirs)
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
    unknown = split_unknown(unknown_paths, config) if unknown_paths else None
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
    prep = Prepared(
        data, train_idx, val_idx, None, None, plan, shares, grouping, unknown, config.open_set_mode
    )
    if augment.uses_background:
        from edgeposinv.transforms.background import backdrop_mask, load_background_tiles

        prep.masks = backdrop_mask(prep.train_arrays()[0], augment.backdrop)
        if config.randconv_copies:  # a copy's backdrop is its original's (its colours changed)
            n = len(train_idx)
            originals = [prep.masks[:n]] * (config.randconv_copies + 1)
            prep.masks = np.concatenate([*originals, prep.masks[n:]])
        prep.tiles = load_background_tiles(
            str(augment.background_dir),
            config.image_size_px,
            256,
            config.seed,
            augment.background_crop,
        )
    if config.randconv_copies:  # after the masks: made of the training images, block by block
        from edgeposinv.transforms.randconv import random_convolution_copies

        prep.copies = random_convolution_copies(
            data.images[train_idx], config.randconv_copies, config.seed
        )
        log.info(
            "random convolutions: %d copy(ies) of each of %d training images",
            config.randconv_copies,
            len(train_idx),
        )
    return prep


def folder_index(folder: str, data_dirs: list[Path]) -> int:
    resolved = Path(folder).resolve()
    if resolved not in data_dirs:
        raise ParameterError(
            "val_from",
            folder,
            f"must be one of the training folders ({', '.join(map(str, data_dirs))})",
            owner="TrainConfig",
        )
    return data_dirs.index(resolved)


def split_unknown(paths: list, config: TrainConfig) -> Unknown:
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
    return Unknown(images, kept, np.sort(train_idx), np.sort(val_idx))


def class_weights(label_ids: np.ndarray, n_classes: int) -> dict[int, float]:
    from sklearn.utils.class_weight import compute_class_weight

    label_ids = label_ids[label_ids >= 0]  # uniform-target unknowns have no class
    w = compute_class_weight("balanced", classes=np.arange(n_classes), y=label_ids)
    return {i: float(v) for i, v in enumerate(w)}
