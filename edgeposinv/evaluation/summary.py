"""Parts of the report computed from the model and the measured sets: the model section,
a check that its scores are finite, throughput, gaps against the reference set, and the
rows of ``predictions.csv``."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from edgeposinv.errors import ModelError
from edgeposinv.evaluation.metrics import difference_interval
from edgeposinv.tflite.parallel import WorkResult
from edgeposinv.tflite.runtime import TFLiteClassifier

__all__ = ["check_finite", "gaps", "model_summary", "predictions_csv", "throughput"]


def throughput(works: list[WorkResult]) -> dict:
    n = sum(len(w.results) for w in works)
    wall = sum(w.wall_s for w in works)
    cores = os.cpu_count() or 1
    return {
        "images": n,
        "workers": works[0].workers if works else 1,
        "cores": cores,
        "seconds": wall,
        "images_per_s": n / wall if wall > 0 else None,
        "decode_s": sum(w.decode_s for w in works),
        "infer_s": sum(w.infer_s for w in works),
        "cpu_utilisation": sum(w.cpu_s for w in works) / (wall * cores) if wall > 0 else None,
        # Fraction of the wall time the workers spent decoding or inferring (1.0: never starved).
        "worker_busy": (
            sum(w.decode_s + w.infer_s for w in works) / (wall * works[0].workers)
            if works and wall > 0
            else None
        ),
    }


def gaps(results: dict[str, dict], reference: str) -> dict:
    ref = results[reference]
    gaps = {}
    for name, s in results.items():
        if name == reference:
            continue
        lo, hi = difference_interval(s["correct"], s["n"], ref["correct"], ref["n"])
        gaps[name] = {
            "reference": reference,
            "difference": s["top1"] - ref["top1"],
            "difference_ci95": [lo, hi],
            "significant": not (lo <= 0.0 <= hi),
        }
    return gaps


def predictions_csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["set", "path", "true", "predicted", "confidence"])
    writer.writerows(rows)
    return buf.getvalue()


def model_summary(clf: TFLiteClassifier) -> dict:
    """The report's ``model`` section: file, input and output tensors, labels, contract."""
    info = clf.input_info
    return {
        "path": str(clf.path),
        "sha256": clf.sha256,
        "size_bytes": len(clf.model_bytes),
        "input": {
            "height": info.shape[1],
            "width": info.shape[2],
            "dtype": info.dtype,
            "scale": info.scale,
            "zero_point": info.zero_point,
        },
        "output": clf.output_info.to_dict(),
        "quantization": clf.quantization,
        "labels": list(clf.labels),
        "contract": clf.contract.to_dict(),
        "metadata": {k: v for k, v in clf.description.items() if k not in ("labels", "input")},
    }


def check_finite(model: Path, probs: np.ndarray, paths: list[Path], set_name: str) -> None:
    """A model whose scores are NaN or infinite is broken; say so instead of ranking them."""
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        raise ModelError(
            f"{model} gives NaN or infinite scores for {int(bad.sum())} of {len(probs)} images "
            f"of set '{set_name}' (e.g. {paths[int(np.argmax(bad))]}); the model is broken: "
            "re-export it (for a third-party model, check 'input_mean' and 'input_std')",
            params=("input_mean", "input_std"),
        )
