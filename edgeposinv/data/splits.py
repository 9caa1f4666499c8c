"""Train/validation splits that keep groups of related images on one side.

A *group* is a set of images that must not straddle the split: a capture session from the
manifest, or a cluster of near-duplicates (:mod:`edgeposinv.data.duplicates`). A *stratum*
is what the split stratifies over: a class, or a (folder, class) pair when several dataset
folders train together. Each stratum is split on its own, so a stratum whose images cannot
be split by group (all of them in one group) falls back to a by-image split *for that
stratum only* — and the plan records exactly how every stratum was split.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.errors import ConfigError, DatasetError

__all__ = [
    "BY_IMAGE",
    "FALLBACK",
    "NEAR_DUPLICATE_METHODS",
    "GROUPED",
    "SplitPlan",
    "TRAIN_ONLY",
    "apportion",
    "duplicate_groups",
    "no_split",
    "plan_split",
    "require_validation",
    "split_loaded",
]

log = logging.getLogger(__name__)

# How a stratum was split (recorded in split.json).
GROUPED = "grouped"  # whole groups on each side
BY_IMAGE = "by_image"  # no group information: images drawn one by one
FALLBACK = "by_image_fallback"  # groups known, but all images in one group
TRAIN_ONLY = "train_only"  # a single image (or not eligible for validation): training only

# How near-duplicates are found for images without a session (``train --near-duplicates``).
NEAR_DUPLICATE_METHODS = ("hash", "features", "hash+features", "off")


@dataclass(frozen=True)
class SplitPlan:
    """Sorted index arrays and, per stratum, how it was split."""

    train_idx: np.ndarray
    val_idx: np.ndarray
    strata: tuple[dict, ...]

    @property
    def fallback_strata(self) -> list[str]:
        return [s["stratum"] for s in self.strata if s["method"] == FALLBACK]

    @property
    def train_only_strata(self) -> list[str]:
        return [s["stratum"] for s in self.strata if s["method"] == TRAIN_ONLY and s["n"] > 0]

    @property
    def grouped(self) -> bool:
        """True when every stratum that has validation images was split by whole groups."""
        split = [s for s in self.strata if s["n_val"] > 0]
        return bool(split) and all(s["method"] == GROUPED for s in split)


def apportion(sizes: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` over ``sizes`` (ties broken by ``rng``)."""
    if sizes.sum() == 0:
        return np.zeros_like(sizes)
    quota = sizes * (total / sizes.sum())
    base = np.floor(quota).astype(np.int64)
    left = total - int(base.sum())
    if left > 0:
        frac = quota - base
        order = np.lexsort((rng.random(len(sizes)), -frac))
        base[order[:left]] += 1
    return base


def _split_stratum(
    idx: np.ndarray, groups: list, pinned: np.ndarray, target: int, rng: np.random.Generator
) -> tuple[np.ndarray, str, int]:
    """Validation indices for one stratum; returns them, the method and the number of groups.

    Groups are laid end to end, in a random order, around a circle of one slot per image,
    and validation takes the arc of ``target`` slots that starts at a random slot: the
    groups wholly inside it, and each group the arc cuts with a probability equal to the
    part of it inside. Every image is then in validation with the same probability,
    ``target / n``, whatever the size of its group (a greedy "fill up to the target" picker
    leaves large groups — long clips, big sessions — under-represented), and the count is
    ``target`` up to the two cut groups. Groups with a ``pinned`` image (the middle of a
    numbered sequence) stay in training and are not on the circle.
    """
    by_group: dict = {}
    pinned_keys = set()
    for i, g, pin in zip(idx, groups, pinned):
        key = ("img", int(i)) if g is None else ("grp", g)
        by_group.setdefault(key, []).append(int(i))
        if pin:
            pinned_keys.add(key)
    n_groups = len(by_group)
    has_groups = any(k[0] == "grp" for k in by_group)
    free = [k for k in by_group if k not in pinned_keys]
    if n_groups < 2 or not free:  # one group, or none free: by image, for this stratum only
        return rng.choice(idx, size=target, replace=False), FALLBACK, n_groups
    order = [free[k] for k in rng.permutation(len(free))]
    sizes = np.asarray([len(by_group[k]) for k in order], np.int64)
    n = int(sizes.sum())
    arc = min(target, n)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    starts = (starts - int(rng.integers(0, n))) % n  # the arc [0, arc) starts at a random slot
    ends = starts + sizes
    inside = np.minimum(ends, arc) - np.minimum(starts, arc)
    inside += np.maximum(0, np.minimum(ends, n + arc) - n)  # the part that wraps past slot 0
    share = inside / sizes
    taken = share >= 1.0
    # The (at most two) groups the arc cuts share one coin: the first is taken when u < its
    # share, the second when u > 1 - its share. Each keeps its own probability, and the count
    # stays near the target: never both when their shares add up to 1 or less, never neither
    # when they add up to more.
    u = rng.random()
    for k, c in enumerate(np.flatnonzero((share > 0) & (share < 1.0))):
        taken[c] = u < share[c] if k == 0 else u > 1.0 - share[c]
    if taken.all() and not pinned_keys:  # keep a group for training: the cut one least inside
        cut = np.flatnonzero(share < 1.0)
        taken[cut[np.argmin(share[cut])] if len(cut) else int(np.argmin(sizes))] = False
    if not taken.any():  # the coins said no to every cut group: the one most inside
        taken[int(np.argmax(share))] = True
    val = sorted(i for k, t in zip(order, taken) if t for i in by_group[k])
    return np.asarray(val, np.int64), GROUPED if has_groups else BY_IMAGE, n_groups


def plan_split(
    strata: Sequence,
    val_fraction: float,
    seed: int,
    groups: Sequence | None = None,
    eligible: np.ndarray | None = None,
    stratum_names: dict | None = None,
    pinned: np.ndarray | None = None,
) -> SplitPlan:
    """Seeded split stratified over ``strata`` (one key per image), grouped by ``groups``.

    ``groups``: one group id per image (``None``: the image is its own group). Groups are
    taken whole, per stratum. ``eligible``: images that may be validated (default all);
    the others train. The number of validation images is ``round(eligible * val_fraction)``,
    apportioned over the strata by size; every stratum keeps at least one training image.
    ``pinned``: images whose groups train (the middle of a numbered sequence); unlike
    ineligible ones, they count towards the validation target.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"The validation fraction must be in (0, 1). Got {val_fraction}.")
    strata = list(strata)
    n = len(strata)
    groups = list(groups) if groups is not None else [None] * n
    eligible = np.ones(n, bool) if eligible is None else np.asarray(eligible, bool)
    pinned = np.zeros(n, bool) if pinned is None else np.asarray(pinned, bool)
    rng = np.random.default_rng([seed, 0x5B117])
    keys = sorted(set(strata), key=str)
    members = {k: np.asarray([i for i in range(n) if strata[i] == k and eligible[i]]) for k in keys}
    sizes = np.asarray([len(members[k]) for k in keys], np.int64)
    splittable = sizes >= 2
    n_val_total = int(round(int(eligible.sum()) * val_fraction))
    targets = apportion(np.where(splittable, sizes, 0), n_val_total, rng)
    targets = np.where(splittable, np.clip(targets, 1, sizes - 1), 0)
    val: list[np.ndarray] = []
    records = []
    for k, target, size in zip(keys, targets, sizes):
        name = (stratum_names or {}).get(k, str(k))
        idx = members[k]
        n_total = sum(1 for s in strata if s == k)
        if size < 2:
            records.append(
                {"stratum": name, "n": n_total, "n_val": 0, "method": TRAIN_ONLY, "n_groups": None}
            )
            continue
        chosen, method, n_groups = _split_stratum(
            idx, [groups[i] for i in idx], pinned[idx], int(target), rng
        )
        val.append(chosen)
        records.append(
            {
                "stratum": name,
                "n": n_total,
                "n_val": int(len(chosen)),
                "method": method,
                "n_groups": n_groups,
            }
        )
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(n), val_idx)
    plan = SplitPlan(train_idx, val_idx, tuple(records))
    if plan.fallback_strata:
        log.warning(
            "%s: all images of the class sit in one group (session or near-duplicate cluster), "
            "so they were split by image; the other classes stay grouped",
            ", ".join(plan.fallback_strata),
        )
    if plan.train_only_strata:
        log.warning(
            "%s: a single image, used for training only (no validation image for it)",
            ", ".join(plan.train_only_strata),
        )
    return plan


def require_validation(plan: SplitPlan, n: int, val_fraction: float) -> None:
    """A clear error when a split leaves nothing to validate on."""
    if len(plan.val_idx) == 0:
        raise DatasetError(
            f"Too few images ({n}) for a {val_fraction:.0%} validation split: no class has two "
            "images; add images, pass --val DIR (a validation folder) or --val-split 0"
        )


def duplicate_groups(
    data,
    show_progress: bool = False,
    method: str = "hash",
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
    val_fraction: float = 0.2,
) -> tuple[list, np.ndarray, dict]:
    """Near-duplicate clusters (per folder and class) of the images without a session.

    ``method``: ``hash`` (perceptual hashes), ``features`` (``embed(images)`` -> one
    embedding per image, linked by cosine similarity, see
    :func:`~edgeposinv.data.duplicates.link_similar`) or ``hash+features`` (the union).
    File names add two rules, whatever the method: names of one original photo or video
    (:func:`~edgeposinv.data.names.named_source_groups`), and long numbered sequences
    cut into their first and last ``val_fraction`` and the middle
    (:func:`~edgeposinv.data.names.numbered_blocks`).
    Returns one group id per image (``None``: no near-duplicate, its own group), which
    images are pinned to training (their group holds the middle of a numbered sequence),
    and a summary for ``split.json``."""
    from edgeposinv.data.duplicates import (
        NEAR_DUPLICATE_BITS,
        SEQUENCE_BITS,
        cluster_per_class,
        hash_images,
        link_similar,
    )
    from edgeposinv.data.names import (
        MAX_SEQUENCE_STEP,
        MIN_NUMBERED_RUN,
        named_source_groups,
        numbered_blocks,
        union_groups,
    )

    if method not in NEAR_DUPLICATE_METHODS[:3]:
        raise ConfigError(
            f"near_duplicates must be one of {', '.join(NEAR_DUPLICATE_METHODS)}. Got {method!r}"
        )
    if "features" in method and embed is None:
        raise ConfigError("near_duplicates 'features' needs an embedding function (train does it)")
    folders = data.folders
    need = np.asarray([s is None for s in data.sessions])
    groups: list = [None] * len(data.paths)
    pinned = np.zeros(len(data.paths), bool)
    if not need.any():
        return groups, pinned, {"method": "none", "reason": "every image has a capture session"}
    idx = np.flatnonzero(need)
    strata = folders[idx] * len(data.labels) + data.label_ids[idx]
    names = [data.paths[i].name for i in idx]
    summary: dict = {}
    local: list = [None] * len(idx)
    n_hash = n_feat = 0
    if "hash" in method:
        windows = hash_images(data.images[idx], show_progress=show_progress)
        local = cluster_per_class(windows, strata, names=names)
        n_hash = sum(g is not None for g in local)
        summary["hash"] = {
            "hash": "256-bit pHash of 25 windows (centre and shifted 3-6%)",
            "max_bits": NEAR_DUPLICATE_BITS,
            "sequence_bits": SEQUENCE_BITS,
            "max_sequence_step": MAX_SEQUENCE_STEP,
            "n_images_in_clusters": n_hash,
        }
    if "features" in method:
        from edgeposinv.data.duplicates import FEATURE_SIMILARITY

        embeddings = embed(data.images[idx])  # type: ignore[misc]
        feat = link_similar(embeddings, strata, FEATURE_SIMILARITY)
        n_feat = sum(g is not None for g in feat)
        summary["features"] = {
            "features": "MobileNetV2-0.35 ImageNet, global-average-pooled, centred, L2-normalised",
            "min_cosine_similarity": FEATURE_SIMILARITY,
            "linkage": "single (connected components), per class",
            "n_images_in_clusters": n_feat,
        }
        local = union_groups(local, feat) if "hash" in method else feat
    named = named_source_groups(names, strata)
    n_named = sum(g is not None for g in named)
    if n_named:
        summary["named_sources"] = {
            "rule": "file names that name the same original photo (Roboflow '.rf.<hash>' "
            "exports) or video ('<video>_mp4-<frame>')",
            "n_images_in_clusters": n_named,
        }
        local = union_groups(local, named)
    blocks = numbered_blocks(names, strata, val_fraction)
    n_blocked = sum(g is not None for g in blocks)
    if n_blocked:
        summary["numbered_blocks"] = {
            "rule": f"at least {MIN_NUMBERED_RUN} file names numbered in a row (steps of at "
            f"most {MAX_SEQUENCE_STEP}) are cut into their first {val_fraction:.0%}, the "
            f"middle and the last {val_fraction:.0%}: validation takes an end of the "
            "shooting order (a gallery, a burst, frames)",
            "n_blocks": len({g for g in blocks if g is not None}),
            "n_images_in_blocks": n_blocked,
        }
        local = union_groups(local, blocks)
    # A group holding the middle of a numbered sequence trains, unless it holds the whole
    # sequence (frames of one clip: the hash joins them anyway).
    parts: dict = {}
    for g, b in zip(local, blocks):
        if b is not None:
            parts.setdefault(g, {}).setdefault(b[1], set()).add(b[0])
    middle = {
        g
        for g, seqs in parts.items()
        if any("mid" in kinds and not {"head", "tail"} <= kinds for kinds in seqs.values())
    }
    for i, g in zip(idx, local):
        if g is not None:
            groups[i] = (int(folders[i]), g)
            pinned[i] = g in middle
    rel = data.relative_paths()
    clusters: dict = {}
    for k, g in enumerate(groups):
        if g is not None:
            clusters.setdefault(g, []).append(rel[k])
    summary = {
        "method": {"hash": "perceptual_hash", "features": "backbone_features"}.get(
            method, "perceptual_hash+backbone_features"
        ),
        **summary,
        "n_images_hashed": int(len(idx)),
        "n_clusters": len(clusters),
        "n_images_in_clusters": sum(len(c) for c in clusters.values()),
        "clusters": sorted(clusters.values()),
    }
    return groups, pinned, summary


def split_loaded(
    data,
    val_fraction: float,
    seed: int,
    eligible: np.ndarray | None = None,
    near_duplicates: bool | str = "hash",
    show_progress: bool = False,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[SplitPlan, dict]:
    """Split decoded images (:class:`~edgeposinv.data.dataset.LoadedImages`): stratified per
    class — per (folder, class) with several folders — and grouped by capture session, or,
    for images without one, by near-duplicate cluster (``near_duplicates``: ``hash``,
    ``features`` or ``hash+features`` with ``embed``, see :func:`duplicate_groups`; ``off``
    or ``False``: none; ``True`` means ``hash``). Returns the plan and a description of the
    grouping for ``split.json``."""
    if isinstance(near_duplicates, bool):
        near_duplicates = "hash" if near_duplicates else "off"
    folders = data.folders
    multi = data.folder_ids is not None and len(data.roots) > 1
    strata = [(int(f), int(y)) if multi else int(y) for f, y in zip(folders, data.label_ids)]
    names: dict
    if multi:
        names = {
            (f, y): f"{Path(data.roots[f]).name}/{data.labels[y]}"
            for f in range(len(data.roots))
            for y in range(len(data.labels))
        }
    else:
        names = {y: data.labels[y] for y in range(len(data.labels))}
    groups = [None if s is None else (int(f), s) for f, s in zip(folders, data.sessions)]
    n_sessions = sum(g is not None for g in groups)
    grouping: dict = {"sessions": {"n_images": n_sessions, "n_groups": len(set(groups) - {None})}}
    pinned = None
    if near_duplicates != "off":
        dup_groups, pinned, grouping["near_duplicates"] = duplicate_groups(
            data, show_progress, near_duplicates, embed, val_fraction
        )
        groups = [g if g is not None else d for g, d in zip(groups, dup_groups)]
    else:
        grouping["near_duplicates"] = {"method": "off"}
    return plan_split(strata, val_fraction, seed, groups, eligible, names, pinned), grouping


def no_split(data, is_val: np.ndarray, how: str) -> tuple[SplitPlan, dict]:
    """No split: the images of validation folders validate (``is_val``), all others train."""
    is_val = np.asarray(is_val, bool)
    plan = SplitPlan(np.flatnonzero(~is_val), np.flatnonzero(is_val), ())
    return plan, {"method": "none", "validation": how}
