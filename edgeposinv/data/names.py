"""What file names say about which images belong together, whatever their pixels.

Three rules, used by the training split next to the perceptual hash
(:mod:`edgeposinv.data.duplicates`):

- *numbered neighbours* (:func:`sequence_neighbours`): ``clip_f003`` and ``clip_f006`` are
  frames of one moving scene, so the hash may link them at a looser threshold;
- *long numbered sequences* (:func:`numbered_blocks`): a phone gallery or a burst,
  ``IMG_0001`` … ``IMG_0040``, is cut into its beginning, middle and end, so validation
  takes an end of the shooting order rather than shots scattered through its sessions;
- *named sources* (:func:`named_source`): exports that keep the original photo's or
  video's name (Roboflow's ``.rf.<32 hex>``, ``<video>_mp4-<frame>``).

:func:`union_groups` merges group ids from several rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_SEQUENCE_STEP",
    "MIN_NUMBERED_RUN",
    "named_source",
    "named_source_groups",
    "numbered_blocks",
    "sequence_neighbours",
    "union_groups",
]

_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")
MAX_SEQUENCE_STEP = 5


def _numbered_runs(names: Sequence[str], strata: np.ndarray) -> list[list[tuple[int, int]]]:
    """``(number, index)`` lists, sorted by number, of the names in one stratum with the same
    text around their last number."""
    runs: dict[tuple, list[tuple[int, int]]] = {}
    for i, (name, stratum) in enumerate(zip(names, strata)):
        m = _NUMBERED.match(Path(name).stem)
        if m:
            runs.setdefault((int(stratum), m.group(1), m.group(3)), []).append((int(m.group(2)), i))
    return [sorted(run) for run in runs.values()]


def sequence_neighbours(names: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of file names that are neighbours in a numbered sequence: same text around the
    last number, numbers adjacent in sorted order and at most ``MAX_SEQUENCE_STEP`` apart
    (video frames saved every few frames, burst shots)."""
    pairs = []
    for run in _numbered_runs(names, np.zeros(len(names), int)):
        pairs += [(i, j) for (a, i), (b, j) in zip(run, run[1:]) if b - a <= MAX_SEQUENCE_STEP]
    return pairs


MIN_NUMBERED_RUN = 8  # numbered files in a row cut into blocks by :func:`numbered_blocks`


def numbered_blocks(
    names: Sequence[str], strata: np.ndarray, block_fraction: float
) -> list[tuple[str, int] | None]:
    """A group id per image for images in a long numbered sequence
    within their stratum: at least ``MIN_NUMBERED_RUN`` names with the same text around the
    last number, numbers at most ``MAX_SEQUENCE_STEP`` apart (a phone gallery, a burst, a
    folder of frames). Each sequence becomes three groups: its first and its last
    ``block_fraction`` (at least 2 images each) and the middle, so that validation takes the
    beginning or the end of the shooting order. Shots of one shelf or one session sit next
    to each other in the numbering, however unlike each other their pixels are; a stretch
    at an end of the sequence shares a session with training across one boundary only (a
    stretch in the middle, two). Ids are ``("head" | "mid" | "tail", index of the
    sequence's first image)``: the split keeps a middle in training unless the same group
    holds the whole sequence. ``None`` for the others."""
    out: list[tuple[str, int] | None] = [None] * len(names)
    for run in _numbered_runs(names, strata):
        cuts = [k for k in range(1, len(run)) if run[k][0] - run[k - 1][0] > MAX_SEQUENCE_STEP]
        for lo, hi in zip([0, *cuts], [*cuts, len(run)]):
            stretch = [i for _, i in run[lo:hi]]
            if len(stretch) < MIN_NUMBERED_RUN:
                continue
            end = min(max(2, int(np.ceil(len(stretch) * block_fraction))), len(stretch) // 2)
            for kind, part in (
                ("head", stretch[:end]),
                ("mid", stretch[end:-end]),
                ("tail", stretch[-end:]),
            ):
                for i in part:
                    out[i] = (kind, stretch[0])
    return out


# A Roboflow export keeps the original file name before ".rf.<32 hex>" (every augmented
# copy of one photo shares it); frames cut from a video are named after the video and a frame
# number ("IMG_5567_mp4-32_jpg"). Hugging Face / Roboflow Universe datasets are mostly such
# exports, and their "copies" can differ far more than any hash or feature threshold allows.
# Datasets re-published from such exports often cut long names short, hash included
# (rps_wild_dev: 178 of 300 names keep 3-25 of the 32 hex digits), so 3 or more will do.
_ROBOFLOW = re.compile(r"^(.+?)[._-]rf[._-][0-9a-f]{3,32}(?![0-9a-z])", re.IGNORECASE)
_VIDEO_FRAME = re.compile(r"^(.+?[._](?:mp4|mov|avi|mkv|webm|m4v|3gp))[-_.]\d+", re.IGNORECASE)


def named_source(name: str) -> str | None:
    """The original photo or video a file name says it was cut from, or ``None``.

    ``rock.0007_png.rf.0b61…_00623.jpg`` → ``rock.0007_png``;
    ``rock.IMG_5567_mp4-32_jpg.rf.9c1…_00287.jpg`` → ``rock.IMG_5567_mp4``.
    """
    stem = Path(name).stem
    m = _ROBOFLOW.match(stem)
    origin = m.group(1) if m else None
    frame = _VIDEO_FRAME.match(origin or stem)
    return frame.group(1) if frame else origin


def named_source_groups(names: Sequence[str], strata: np.ndarray) -> list[str | None]:
    """A group id per image (``"src<first index>"``) for images whose names give the same
    :func:`named_source` within their stratum (class); ``None`` otherwise."""
    keys = [
        None if (src := named_source(name)) is None else (int(s), src)
        for name, s in zip(names, strata)
    ]
    first: dict[tuple[int, str], int] = {}
    for i, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, i)
    sizes = Counter(k for k in keys if k is not None)
    return [None if key is None or sizes[key] < 2 else f"src{first[key]}" for key in keys]


def union_groups(a: list, b: list) -> list:
    """Group ids joining every pair of images that share a group in ``a`` or in ``b``."""
    n = len(a)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for ids in (a, b):
        first: dict = {}
        for i, g in enumerate(ids):
            if g is None:
                continue
            if g in first:
                ra, rb = find(first[g]), find(i)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            else:
                first[g] = i
    roots = [find(i) for i in range(n)]
    sizes = np.bincount(roots, minlength=n)
    return [f"dup{r}" if sizes[r] > 1 else None for r in roots]
