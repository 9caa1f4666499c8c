""" "None of the above": the open-set decision a model carries — no TensorFlow here.

An edgeposinv model may carry an ``open_set`` object in its ``edgeposinv.model`` entry::

    {"score_threshold": 0.62, "temperature": 1.8, "reserved_label": "_background",
     "target": {"keep_correct": 0.95}, ...}

The model's outputs are already calibrated (the temperature is baked into its last layer),
so the rule is applied to them as they are. :func:`decide` is *the* rule; the Android app's
``core/OpenSet.java`` implements it identically (golden vectors prove it):

* the *score* of an image is its highest probability among the known classes (every label
  but the reserved one);
* the image is **rejected** ("none of the classes") when the reserved label has the highest
  probability of all outputs, or when the score is below ``score_threshold``;
* otherwise the answer is the known class with that score (the first one on ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeposinv.errors import ModelError

__all__ = [
    "REJECTED",
    "RESERVED_LABEL",
    "OpenSet",
    "decide",
    "decide_batch",
    "known_scores",
    "reserved_index",
]

#: The reserved dataset label for "none of the classes" (``DATA/_background/``).
RESERVED_LABEL = "_background"
#: The index :func:`decide` returns for a rejected image.
REJECTED = -1


@dataclass(frozen=True)
class OpenSet:
    """The open-set settings a model carries (``score_threshold`` on calibrated probabilities)."""

    score_threshold: float
    temperature: float = 1.0
    reserved_label: str | None = None
    target: dict | None = None
    expected: dict | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ModelError(
                f"The 'score_threshold' of an open_set must be in [0, 1]. Got {self.score_threshold}."
            )
        if not self.temperature > 0.0:
            raise ModelError(
                f"The 'temperature' of an open_set must be positive. Got {self.temperature}."
            )

    def to_dict(self) -> dict:
        out: dict = {
            "score_threshold": float(self.score_threshold),
            "temperature": float(self.temperature),
            "reserved_label": self.reserved_label,
        }
        if self.target is not None:
            out["target"] = self.target
        if self.expected is not None:
            out["expected"] = self.expected
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> OpenSet | None:
        if not d:
            return None
        try:
            return cls(
                float(d["score_threshold"]),
                float(d.get("temperature", 1.0)),
                d.get("reserved_label"),
                d.get("target"),
                d.get("expected"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"The model's open_set entry is unusable ({e!r}): {d}") from None


def reserved_index(labels: Sequence[str], reserved_label: str | None = RESERVED_LABEL) -> int:
    """Index of the reserved label among ``labels``, or -1."""
    if reserved_label is None:
        return -1
    return list(labels).index(reserved_label) if reserved_label in labels else -1


def known_scores(probs: np.ndarray, reserved: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row (``probs`` is ``(N, C)``): the best known class and its probability."""
    p = np.asarray(probs, np.float32)
    if reserved >= 0:
        p = p.copy()
        p[:, reserved] = -np.inf
    best = p.argmax(axis=1)
    return best, p[np.arange(len(p)), best]


def decide_batch(
    probs: np.ndarray, reserved: int, threshold: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decide` for ``(N, C)`` probabilities → (class index or :data:`REJECTED`, score)."""
    probs = np.asarray(probs, np.float32)
    best, score = known_scores(probs, reserved)
    rejected = np.zeros(len(probs), bool)
    if reserved >= 0:
        rejected |= probs.argmax(axis=1) == reserved
    if threshold is not None:
        rejected |= score < np.float32(threshold)
    return np.where(rejected, REJECTED, best), score


def decide(probs: np.ndarray, reserved: int, threshold: float | None) -> tuple[int, float]:
    """One output row → (class index, or :data:`REJECTED` for "none of the classes"; score)."""
    idx, score = decide_batch(np.asarray(probs)[None], reserved, threshold)
    return int(idx[0]), float(score[0])
