"""The evaluation harness: a .tflite model, named test sets, a report folder — no TensorFlow.

Writes ``OUT/report.json`` (schema: ``docs/report-schema.md``), ``OUT/report.html`` and
``OUT/predictions.csv`` (one row per image).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeposinv import __version__
from edgeposinv.dataset import load_images, scan_dataset
from edgeposinv.errors import EvaluationError
from edgeposinv.fsutil import atomic_dir, atomic_write_json, atomic_write_text, check_can_write
from edgeposinv.metrics import classification_metrics, difference_interval
from edgeposinv.progress import progress
from edgeposinv.runtime import TFLiteClassifier, read_labels_file, runtime_version

log = logging.getLogger(__name__)

REPORT_SCHEMA_VERSION = "1.0"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
PREDICTIONS_CSV = "predictions.csv"


def parse_set(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` → ``(NAME, Path(DIR))``."""
    name, sep, folder = spec.partition("=")
    if not sep or not name or not folder:
        raise EvaluationError(f"--set expects NAME=DIR (e.g. --set wild=photos/wild). Got {spec!r}.")
    return name, Path(folder)


def model_summary(clf: TFLiteClassifier) -> dict:
    info = clf.input_info
    return {
        "path": str(clf.path),
        "sha256": clf.sha256,
        "size_bytes": len(clf.model_bytes),
        "input": {"height": info.shape[1], "width": info.shape[2], "dtype": info.dtype,
                  "scale": info.scale, "zero_point": info.zero_point},
        "output": clf.output_info.to_dict(),
        "quantization": clf.quantization,
        "labels": list(clf.labels),
        "contract": clf.contract.to_dict(),
    }


def _predict_set(clf: TFLiteClassifier, name: str, folder: Path, show_progress: bool):
    index = scan_dataset(folder, min_classes=1)
    unknown = [lab for lab in index.labels if lab not in clf.labels]
    if unknown:
        raise EvaluationError(
            f"Set '{name}' ({folder}) has folders that are not model labels: {', '.join(unknown)}. "
            f"Model labels: {', '.join(clf.labels)}; set folders: {', '.join(index.labels)}"
        )
    data = load_images(index, clf.image_size_px, labels=clf.labels, show_progress=False)
    probs = np.stack([
        clf.predict_proba(x)
        for x in progress(data.images, desc=f"evaluate {name}", unit="img", disable=not show_progress)
    ])
    return data, probs


def _predictions_csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["set", "path", "true", "predicted", "confidence"])
    writer.writerows(rows)
    return buf.getvalue()


def evaluate(
    model_path: str | os.PathLike,
    sets: Sequence[tuple[str, str | os.PathLike]],
    report_dir: str | os.PathLike,
    threads: int = 1,
    top_k: int = 3,
    reference: str | None = None,
    labels_file: str | os.PathLike | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> dict:
    """Evaluate ``model_path`` on each named set; write the report folder; return the report."""
    if not sets:
        raise EvaluationError("Give at least one test set: --set NAME=DIR")
    names = [name for name, _ in sets]
    if len(set(names)) != len(names):
        raise EvaluationError(f"Set names must be unique. Got {', '.join(names)}.")
    reference = reference or names[0]
    if reference not in names:
        raise EvaluationError(f"--reference {reference!r} is not one of the sets: {', '.join(names)}")
    report_dir = Path(report_dir)
    check_can_write(report_dir, overwrite)
    labels = read_labels_file(labels_file) if labels_file else None
    clf = TFLiteClassifier(model_path, threads=threads, labels=labels)

    results: dict[str, dict] = {}
    rows: list[tuple] = []
    first_image = None
    for name, folder in sets:
        folder = Path(folder)
        data, probs = _predict_set(clf, name, folder, show_progress)
        figures = classification_metrics(data.label_ids, probs, clf.labels, top_k)
        results[name] = {"path": str(folder), **figures}
        log.info("%s: top-1 %.3f on %d images", name, figures["top1"], figures["n"])
        for path, true, p in zip(data.relative_paths(), data.label_ids, probs):
            rows.append((name, path, clf.labels[true], clf.labels[int(p.argmax())], f"{float(p.max()):.4f}"))
        if first_image is None:
            first_image = data.images[0]

    gaps = {}
    ref = results[reference]
    k_ref = round(ref["top1"] * ref["n"])
    for name in names:
        if name == reference:
            continue
        s = results[name]
        k = round(s["top1"] * s["n"])
        lo, hi = difference_interval(k, s["n"], k_ref, ref["n"])
        gaps[name] = {
            "reference": reference,
            "difference": s["top1"] - ref["top1"],
            "difference_ci95": [lo, hi],
            "significant": not (lo <= 0.0 <= hi),
        }

    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generator": {"name": "edgeposinv", "version": __version__, "host": "python"},
        "model": model_summary(clf),
        "runtime": {
            "name": "ai-edge-litert",
            "version": runtime_version(),
            "threads": threads,
            "platform": {"system": platform.system(), "machine": platform.machine(),
                         "processor": platform.processor() or platform.machine(),
                         "python": platform.python_version()},
        },
        "sets": results,
        "reference": reference,
        "gaps": gaps,
        "latency_ms": clf.measure_latency(first_image),
    }
    from edgeposinv.report import render_report_html

    html = render_report_html(report)
    with atomic_dir(report_dir, overwrite=overwrite) as tmp:
        atomic_write_json(tmp / REPORT_JSON, report)
        atomic_write_text(tmp / PREDICTIONS_CSV, _predictions_csv(rows))
        atomic_write_text(tmp / REPORT_HTML, html)
    return report
