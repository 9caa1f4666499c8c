"""Parts of the report computed from the measured sets: throughput, gaps against the
reference set, and the rows of ``predictions.csv``."""

from __future__ import annotations

import csv
import io
import os

from edgeposinv.evaluation.metrics import difference_interval
from edgeposinv.tflite.parallel import WorkResult

__all__ = ["gaps", "predictions_csv", "throughput"]


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
