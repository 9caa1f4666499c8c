"""Classification figures for a report: accuracy with intervals, per-class, confusion."""

from __future__ import annotations

import math
import warnings

import numpy as np


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (sound for small sets and rates near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return (float(ci.low), float(ci.high))


def difference_interval(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 of two independent proportions."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, lower), min(1.0, upper))


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, labels: tuple[str, ...], top_k: int = 3
) -> dict:
    """Every per-set figure of the report, from true label ids and per-class scores."""
    from sklearn.metrics import (
        confusion_matrix,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    n_classes = len(labels)
    ids = np.arange(n_classes)
    y_pred = probs.argmax(axis=1)
    n = int(len(y_true))
    correct = int((y_pred == y_true).sum())
    k = min(top_k, n_classes)
    precision, recall, _, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    if n_classes == 2:
        # scikit-learn reads two classes as a binary problem with one score column; with
        # two classes top-1 is top-k for k = 1 and every other k covers both classes.
        top_k_accuracy = (correct / n if k == 1 else 1.0) if n else 0.0
    else:
        with (
            warnings.catch_warnings()
        ):  # k >= classes: top-k is trivially 1, which the report shows with k
            warnings.simplefilter("ignore")
            top_k_accuracy = (
                float(top_k_accuracy_score(y_true, probs, k=k, labels=ids)) if n else 0.0
            )
    return {
        "n": n,
        "correct": correct,
        "top1": correct / n if n else 0.0,
        "top1_ci95": list(wilson_interval(correct, n)),
        "top_k": {"k": k, "accuracy": top_k_accuracy},
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "n": int(support[i]),
            }
            for i, name in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }
