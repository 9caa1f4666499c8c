"""Export's open-set step: fit the temperature, bake it into the model, choose the threshold.

1. Temperature scaling (Guo et al. 2017) is fitted on the run's validation split — the
   known images, plus the unknown ones as ``_background`` when the model has that output —
   from the Keras model's logits.
2. It is baked in: the last Dense layer's kernel and bias are divided by T, so
   ``softmax(z / T)`` is what the exported model outputs and consumers need no extra step.
3. The score threshold is chosen on the *converted* model's outputs (quantization moves
   probabilities), for the stated target: keep ``keep_correct`` of the correctly classified
   known validation images. The validation unknowns, when the run has some, give the
   expected share of unknowns accepted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edgeposinv.errors import ParameterError
from edgeposinv.evaluation.metrics import wilson_interval
from edgeposinv.evaluation.open_set import (
    DEFAULT_KEEP_CORRECT,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    lowest_threshold_for_unknowns,
    softmax,
)
from edgeposinv.tflite.open_set import RESERVED_LABEL, OpenSet, decide_batch, reserved_index

__all__ = [
    "OpenSetOptions",
    "bake_temperature",
    "choose",
    "fit_and_bake",
    "logits",
]

log = logging.getLogger(__name__)

HEAD_LAYER = "probabilities"
DEFAULT_MAX_UNKNOWN_ACCEPTED = 0.05
UNKNOWN_SCORES = ("softmax", "features")


@dataclass(frozen=True)
class OpenSetOptions:
    """``enabled``: write a threshold into the model; ``temperature``: fit and bake T;
    ``keep_correct``: share of correctly classified known validation images kept;
    ``max_unknown_accepted``: with enough unknown validation images (at least
    ``1 / max_unknown_accepted``), the threshold is lowered to the lowest one that still
    accepts at most this share of them (when that is lower); 0 turns this off;
    ``unknown_score``: ``softmax`` (the classes' probabilities as trained) or ``features``
    (add a ``_background`` output from the distance to the training images' features, see
    :mod:`edgeposinv.export.feature_gate`: rejection without any unknown images)."""

    enabled: bool = True
    temperature: bool = True
    keep_correct: float = DEFAULT_KEEP_CORRECT
    max_unknown_accepted: float = DEFAULT_MAX_UNKNOWN_ACCEPTED
    unknown_score: str = "softmax"

    def __post_init__(self) -> None:
        if not 0.5 <= self.keep_correct <= 1.0:
            raise ParameterError(
                "keep_correct", self.keep_correct, "must be in [0.5, 1]", owner="OpenSetOptions"
            )
        if not 0.0 <= self.max_unknown_accepted < 1.0:
            raise ParameterError(
                "max_unknown_accepted",
                self.max_unknown_accepted,
                "must be in [0, 1)",
                owner="OpenSetOptions",
            )
        if self.unknown_score not in UNKNOWN_SCORES:
            raise ParameterError(
                "unknown_score",
                self.unknown_score,
                f"must be one of {', '.join(UNKNOWN_SCORES)}",
                owner="OpenSetOptions",
            )


def logits(model, images: np.ndarray, batch_size: int = 64) -> np.ndarray | None:
    """The pre-softmax outputs of an edgeposinv Keras model (``None`` if it has no plain head)."""
    from edgeposinv.training.keras_api import keras

    try:
        head = model.get_layer(HEAD_LAYER)
    except ValueError:
        return None
    if not isinstance(head, keras.layers.Dense):
        return None  # e.g. a tfmot-wrapped QAT head
    features = keras.Model(model.input, head.input).predict(
        images.astype(np.float32), verbose=0, batch_size=batch_size
    )
    kernel, bias = head.get_weights()
    return features @ kernel + bias


def bake_temperature(model, temperature: float) -> None:
    """Divide the head's kernel and bias by T: the model then outputs ``softmax(z / T)``."""
    head = model.get_layer(HEAD_LAYER)
    kernel, bias = head.get_weights()
    head.set_weights([kernel / temperature, bias / temperature])


def fit_and_bake(model, labels: tuple[str, ...], known, unknown_images: np.ndarray) -> dict:
    """Fit T on the validation split and bake it into ``model``; return what was measured."""
    x = known.images
    y = known.label_ids
    r = reserved_index(labels)
    if len(unknown_images):  # as trained: the background output, or a uniform target (-1)
        x = np.concatenate([x, unknown_images])
        y = np.concatenate([y, np.full(len(unknown_images), r)])
    z = logits(model, x)
    if z is None:
        log.warning("the model has no plain Dense head (QAT?); temperature not fitted (T = 1)")
        return {"temperature": 1.0, "fitted": False, "reason": "no plain Dense head"}
    known = y >= 0
    if (z[known].argmax(1) == y[known]).all() and known.all():
        # No error and nothing unknown to calibrate on: the NLL falls as T -> 0, so a fit
        # would only saturate every output (measured: AUROC 0.34 -> 0.49 by ties alone).
        log.warning("no validation error to calibrate on; temperature not fitted (T = 1)")
        return {"temperature": 1.0, "fitted": False, "reason": "no validation error"}
    t = fit_temperature(z, y)
    # calibration error: on images that have a true class
    conf_before, conf_after = softmax(z[known]).max(1), softmax(z[known], t).max(1)
    correct = z[known].argmax(1) == y[known]
    bake_temperature(model, t)
    log.info("temperature %.3f fitted on %d validation images", t, len(y))
    return {
        "temperature": t,
        "fitted": True,
        "n": int(len(y)),
        "ece_before": expected_calibration_error(conf_before, correct)[0],
        "ece_after": expected_calibration_error(conf_after, correct)[0],
    }


def choose(
    labels: tuple[str, ...],
    known_probs: np.ndarray,
    known_ids: np.ndarray,
    unknown_probs: np.ndarray,
    options: OpenSetOptions,
    temperature: dict,
) -> OpenSet:
    """The threshold for ``options.keep_correct`` and the rejection rates it implies on the
    validation split (from the converted model's probabilities)."""
    r = reserved_index(labels)
    pred, score = decide_batch(known_probs, r, None)
    correct = pred == known_ids
    t = choose_threshold(score[correct], options.keep_correct)
    target: dict = {"keep_correct": options.keep_correct}
    if options.unknown_score != "softmax":
        target["unknown_score"] = options.unknown_score
    if options.max_unknown_accepted > 0 and len(unknown_probs) * options.max_unknown_accepted >= 1:
        # Lower the threshold while the validation unknowns stay rejected: the known
        # validation images are often tidier (more confident) than the ones in the wild.
        # Only with enough unknown images to see the rate (20 for 5%): with fewer, one image
        # decides and the threshold would be fitted to them.
        u_idx, u_score = decide_batch(unknown_probs, r, None)
        t_unknown = lowest_threshold_for_unknowns(
            u_score[u_idx >= 0], len(u_idx), options.max_unknown_accepted
        )
        target["max_unknown_accepted"] = options.max_unknown_accepted
        t = min(t, t_unknown)
    kept, _ = decide_batch(known_probs, r, t)
    expected: dict = {
        "split": "val",
        "n_known": int(len(known_ids)),
        "known_rejected": float((kept < 0).mean()),
        "correct_kept": float((kept[correct] >= 0).mean()),
        "known_accuracy_at_threshold": float((kept == known_ids).mean()),
        "known_accuracy": float(correct.mean()),
    }
    if len(unknown_probs):
        u, _ = decide_batch(unknown_probs, r, t)
        k = int((u >= 0).sum())
        expected.update(
            n_unknown=int(len(u)),
            unknown_accepted=k / len(u),
            unknown_accepted_ci95=list(wilson_interval(k, len(u))),
        )
    temp = {k: v for k, v in temperature.items() if k != "temperature"}
    return OpenSet(
        score_threshold=t,
        temperature=float(temperature["temperature"]),
        reserved_label=RESERVED_LABEL if r >= 0 else None,
        target=target,
        expected={**expected, "calibration": temp},
    )
