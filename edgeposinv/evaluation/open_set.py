"""Open-set figures: calibration, the score threshold and how well a model rejects unknowns.

No TensorFlow (scipy and scikit-learn only). Used by ``export`` (fit the temperature on the
validation split, choose the threshold) and by ``evaluate`` (AUROC, FPR at 95% TPR,
accuracy at coverage, unknowns accepted at the model's threshold, expected calibration
error). The *score* of an image is its highest known-class probability
(:func:`edgeposinv.tflite.open_set.known_scores`); known images are the positives.
"""

from __future__ import annotations

import math

import numpy as np

from edgeposinv.errors import ConfigError
from edgeposinv.evaluation.metrics import wilson_interval

__all__ = [
    "add_separation_intervals",
    "DEFAULT_KEEP_CORRECT",
    "accepted_share",
    "accuracy_at_coverage",
    "choose_threshold",
    "expected_calibration_error",
    "fit_temperature",
    "known_set_figures",
    "lowest_threshold_for_unknowns",
    "nll",
    "open_set_section",
    "risk_coverage",
    "separation",
    "softmax",
]

#: Default threshold target: keep this share of the correctly classified known images.
DEFAULT_KEEP_CORRECT = 0.95
COVERAGES = (0.5, 0.8, 0.9, 0.95, 1.0)
ECE_BINS = 15
BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, np.float64) / temperature))


def _targets(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Label ids → target rows; id -1 (an unknown image, outlier exposure) → uniform."""
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64)
    t = np.zeros((len(y), n_classes))
    t[np.arange(len(y))[y >= 0], y[y >= 0]] = 1.0
    t[y < 0] = 1.0 / n_classes
    return t


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean cross-entropy of the targets at ``temperature`` (the NLL of the true labels;
    label -1 stands for a uniform target)."""
    lp = log_softmax(np.asarray(logits, np.float64) / temperature)
    return float(-(_targets(y, lp.shape[1]) * lp).sum(axis=1).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the NLL of
    ``softmax(logits / T)`` on held-out labelled data (the validation split). Unknown
    images trained with a uniform target take part with that target (label -1)."""
    from scipy.optimize import minimize_scalar

    logits, y = np.asarray(logits, np.float64), np.asarray(y)
    if len(y) == 0:
        raise ConfigError("Temperature scaling needs at least one labelled validation image.")
    res = minimize_scalar(
        lambda log_t: nll(logits, y, math.exp(log_t)), bounds=(-3.0, 4.0), method="bounded"
    )
    return float(math.exp(res.x))


def choose_threshold(
    correct_scores: np.ndarray, keep_correct: float = DEFAULT_KEEP_CORRECT
) -> float:
    """The highest score threshold that keeps at least ``keep_correct`` of the correctly
    classified known images (those with score >= threshold are kept)."""
    if not 0.0 < keep_correct <= 1.0:
        raise ConfigError(f"'keep_correct' must be in (0, 1]. Got {keep_correct}.")
    s = np.sort(np.asarray(correct_scores, np.float32))[::-1]
    if len(s) == 0:
        raise ConfigError(
            "No correctly classified validation image to choose a threshold from; "
            "train longer or check the validation split"
        )
    k = max(1, math.ceil(keep_correct * len(s) - 1e-9))
    return float(s[k - 1])


def lowest_threshold_for_unknowns(
    open_scores: np.ndarray, n_unknown: int, max_accepted: float
) -> float:
    """The lowest threshold at which at most ``max_accepted`` of ``n_unknown`` unknown images
    are accepted; ``open_scores``: the scores of those not rejected otherwise (by a
    background output on top)."""
    if not 0.0 <= max_accepted < 1.0:
        raise ConfigError(f"'max_unknown_accepted' must be in [0, 1). Got {max_accepted}.")
    s = np.sort(np.asarray(open_scores, np.float32))[::-1]
    allowed = int(math.floor(max_accepted * n_unknown + 1e-9))
    if len(s) <= allowed:
        return 0.0
    return float(np.nextafter(s[allowed], np.float32(np.inf)))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS
) -> tuple[float, list[dict]]:
    """ECE over ``n_bins`` equal-width confidence bins, and the bins (reliability diagram)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece, n = [], 0.0, max(1, len(confidence))
    for b in range(n_bins):
        m = which == b
        if not m.any():
            continue
        acc, conf = float(correct[m].mean()), float(confidence[m].mean())
        ece += m.sum() / n * abs(acc - conf)
        bins.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "n": int(m.sum()),
                "accuracy": acc,
                "confidence": conf,
            }
        )
    return float(ece), bins


def _fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, tpr: float = 0.95) -> float:
    """Share of negatives scoring at or above the threshold that keeps ``tpr`` of positives."""
    t = choose_threshold(pos, tpr)
    return float((neg >= np.float32(t)).mean())


def _bootstrap(fn, pos: np.ndarray, neg: np.ndarray, rounds: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(rounds):
        p = pos[rng.integers(0, len(pos), len(pos))]
        q = neg[rng.integers(0, len(neg), len(neg))]
        vals.append(fn(p, q))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return [float(lo), float(hi)]


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(y, np.r_[pos, neg]))


def separation(
    known_scores: np.ndarray,
    unknown_scores: np.ndarray,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
) -> dict:
    """How well the score tells known images (positives) from unknown ones: AUROC and the
    false-positive rate at 95% true-positive rate, with percentile-bootstrap 95% intervals."""
    pos, neg = np.asarray(known_scores, np.float32), np.asarray(unknown_scores, np.float32)
    if len(pos) == 0 or len(neg) == 0:
        raise ConfigError("AUROC needs at least one known and one unknown image.")
    return {
        "n_known": int(len(pos)),
        "n_unknown": int(len(neg)),
        "auroc": _auroc(pos, neg),
        "auroc_ci95": _bootstrap(_auroc, pos, neg, rounds, seed),
        "fpr_at_95_tpr": _fpr_at_tpr(pos, neg),
        "fpr_at_95_tpr_ci95": _bootstrap(_fpr_at_tpr, pos, neg, rounds, seed),
        "bootstrap": {"rounds": rounds, "seed": seed},
    }


def add_separation_intervals(report: dict, predictions_csv: str) -> int:
    """Bootstrap intervals for a report whose ``open_set.separation`` has point values only
    (the phone's): from each image's score in ``predictions.csv`` (``confidence``: the best
    known class's probability, on known and unknown sets alike). Returns how many pairs got
    intervals; a pair whose sets have no rows keeps its point values."""
    import csv
    import io

    scores: dict[str, list[float]] = {}
    for row in csv.DictReader(io.StringIO(predictions_csv)):
        try:
            scores.setdefault(row["set"], []).append(float(row["confidence"]))
        except (KeyError, TypeError, ValueError):
            continue
    done = 0
    for pair in (report.get("open_set") or {}).get("separation", {}).values():
        known, unknown = scores.get(pair.get("known_set")), scores.get(pair.get("unknown_set"))
        if not known or not unknown:
            continue
        measured = separation(np.asarray(known), np.asarray(unknown))
        pair.update(
            auroc_ci95=measured["auroc_ci95"],
            fpr_at_95_tpr_ci95=measured["fpr_at_95_tpr_ci95"],
            bootstrap={**measured["bootstrap"], "by": "host, from predictions.csv"},
        )
        done += 1
    return done


def accepted_share(scores: np.ndarray, rejected: np.ndarray) -> dict:
    """Share of images accepted (not rejected), with its Wilson interval."""
    n, k = len(scores), int((~np.asarray(rejected, bool)).sum())
    return {
        "n": int(n),
        "accepted": k,
        "share": k / n if n else 0.0,
        "ci95": list(wilson_interval(k, n)),
    }


def risk_coverage(score: np.ndarray, correct: np.ndarray, points: int = 50) -> list[list[float]]:
    """``[coverage, accuracy of the covered images]`` when keeping the highest scores."""
    order = np.argsort(-np.asarray(score, np.float64), kind="stable")
    hits = np.cumsum(np.asarray(correct, bool)[order])
    n = len(order)
    if n == 0:
        return []
    ks = np.unique(np.linspace(1, n, min(points, n)).round().astype(int))
    return [[float(k / n), float(hits[k - 1] / k)] for k in ks]


def accuracy_at_coverage(score: np.ndarray, correct: np.ndarray) -> dict[str, dict]:
    """Accuracy of the ``c`` share of images with the highest scores, for each of COVERAGES."""
    order = np.argsort(-np.asarray(score, np.float64), kind="stable")
    correct = np.asarray(correct, bool)[order]
    out = {}
    for c in COVERAGES:
        k = max(1, math.ceil(c * len(order) - 1e-9)) if len(order) else 0
        hits = int(correct[:k].sum())
        out[f"{c:g}"] = {
            "n": k,
            "accuracy": hits / k if k else 0.0,
            "ci95": list(wilson_interval(hits, k)),
        }
    return out


def known_set_figures(score: np.ndarray, correct: np.ndarray, rejected: np.ndarray | None) -> dict:
    """Per known set: calibration (ECE, reliability bins), accuracy at coverage, the
    risk–coverage curve, and — with a threshold — accuracy when rejections count as errors."""
    score, correct = np.asarray(score, np.float64), np.asarray(correct, bool)
    ece, bins = expected_calibration_error(score, correct)
    out: dict = {
        "ece": ece,
        "reliability": bins,
        "accuracy_at_coverage": accuracy_at_coverage(score, correct),
        "risk_coverage": risk_coverage(score, correct),
    }
    if rejected is not None:
        rejected = np.asarray(rejected, bool)
        n, kept = len(score), int((~rejected).sum())
        hits = int((correct & ~rejected).sum())
        out["at_threshold"] = {
            "accepted": accepted_share(score, rejected),
            # a rejected known image counts as an error here
            "accuracy": hits / n if n else 0.0,
            "accuracy_ci95": list(wilson_interval(hits, n)),
            "selective_accuracy": hits / kept if kept else 0.0,
            "selective_accuracy_ci95": list(wilson_interval(hits, kept)),
        }
    return out


def open_set_section(
    labels: tuple[str, ...],
    reserved: int,
    open_set,
    known: dict[str, tuple],
    unknown: dict[str, tuple],
) -> tuple[dict, list[dict]]:
    """The report's ``open_set`` object and the unknown images for the gallery.

    ``known``: set name → (paths, true label ids, probabilities); ``unknown``: set name →
    (paths, probabilities). ``open_set``: the model's :class:`OpenSet` or ``None``.
    """
    from edgeposinv.tflite.open_set import decide_batch

    threshold = open_set.score_threshold if open_set is not None else None
    section: dict = {
        "score": "max known-class probability",
        "threshold": threshold,
        "temperature": open_set.temperature if open_set is not None else None,
        "reserved_label": open_set.reserved_label if open_set is not None else None,
        "target": open_set.target if open_set is not None else None,
        "known_sets": {},
        "unknown_sets": {},
        "separation": {},
    }
    scores: dict[str, np.ndarray] = {}
    for name, (_, y_true, probs) in known.items():
        best, score = decide_batch(probs, reserved, None)
        kept, _ = decide_batch(probs, reserved, threshold)
        rejected = (kept < 0) if (threshold is not None or reserved >= 0) else None
        section["known_sets"][name] = known_set_figures(score, best == y_true, rejected)
        scores[name] = score
    gallery: list[dict] = []
    for name, (paths, probs) in unknown.items():
        kept, score = decide_batch(probs, reserved, threshold)
        best, _ = decide_batch(probs, reserved, None)
        entry = {
            "n": int(len(score)),
            "score_mean": float(score.mean()),
            "share_score_ge_0.9": float((score >= 0.9).mean()),
            "accepted": (
                accepted_share(score, kept < 0)
                if (threshold is not None or reserved >= 0)
                else None
            ),
        }
        section["unknown_sets"][name] = entry
        for known_name, known_score in scores.items():
            section["separation"][f"{known_name}|{name}"] = {
                "known_set": known_name,
                "unknown_set": name,
                **separation(known_score, score),
            }
        gallery += [
            {
                "set": name,
                "path": p,
                "relative": p.name,
                "true": "none of the classes",
                "predicted": labels[b] + ("" if k >= 0 else " (rejected)"),
                "confidence": float(s),
            }
            for p, b, k, s in zip(paths, best, kept, score)
        ]
    return section, gallery
