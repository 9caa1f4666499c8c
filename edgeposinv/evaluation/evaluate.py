"""The evaluation harness: a .tflite model, named test sets, a report folder — no TensorFlow.

Writes ``OUT/report.json`` (schema: ``docs/report-schema.md``), ``OUT/report.html`` and
``OUT/predictions.csv`` (one row per image). Every input is checked before any work
starts, and the folder appears only when complete.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeposinv import __version__
from edgeposinv.data.dataset import DatasetIndex
from edgeposinv.data.images import read_rgb
from edgeposinv.errors import EvaluationError
from edgeposinv.evaluation.diagnosis import diagnose_set
from edgeposinv.evaluation.metrics import classification_metrics
from edgeposinv.evaluation.open_set import open_set_section
from edgeposinv.evaluation.overlap import add_training_overlap
from edgeposinv.evaluation.sets import (
    kept_images,
    load_backgrounds,
    scan_set,
    scan_unknown,
    unknown_probabilities,
    unknown_rows,
)
from edgeposinv.evaluation.summary import (
    check_finite,
    gaps,
    model_summary,
    predictions_csv,
    throughput,
)
from edgeposinv.evaluation.sweeps import (
    PositionSweepConfig,
    PositionTask,
    RotationSweepConfig,
    RotationTask,
    ShiftConsistencyConfig,
    ShiftTask,
    summarize_position,
    summarize_rotation,
    summarize_shift,
)
from edgeposinv.tflite.parallel import ProbabilitiesTask, Workers, WorkResult, peak_rss_bytes
from edgeposinv.tflite.runtime import (
    ClassifierSpec,
    TFLiteClassifier,
    read_labels_file,
    runtime_version,
)
from edgeposinv.util.files import (
    atomic_dir,
    atomic_write_json,
    atomic_write_text,
    check_can_write,
    check_not_in_dataset,
)

__all__ = [
    "EvaluateConfig",
    "PREDICTIONS_CSV",
    "REPORT_HTML",
    "REPORT_JSON",
    "REPORT_SCHEMA_VERSION",
    "SweepRequest",
    "evaluate",
    "model_summary",
    "scan_set",
]

log = logging.getLogger(__name__)

REPORT_SCHEMA_VERSION = "1.4"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
PREDICTIONS_CSV = "predictions.csv"


@dataclass(frozen=True)
class SweepRequest:
    """Which sets get which sweeps (``None``: not run) and with which fixed parameters."""

    position_set: str | None = None
    position: PositionSweepConfig = field(default_factory=PositionSweepConfig)
    backgrounds_dir: str | None = None
    rotation_set: str | None = None
    rotation: RotationSweepConfig = field(default_factory=RotationSweepConfig)
    shift_set: str | None = None
    shift: ShiftConsistencyConfig = field(default_factory=ShiftConsistencyConfig)

    def __post_init__(self) -> None:
        if (self.position.background == "folder") != (self.backgrounds_dir is not None):
            raise EvaluationError(
                "Background 'folder' needs 'backgrounds_dir' (and 'backgrounds_dir' implies it)",
                params=("backgrounds_dir",),
            )


@dataclass
class _SetData:
    index: DatasetIndex
    y_true: np.ndarray
    paths: list[Path]


def _decoded(work: WorkResult) -> list[np.ndarray]:
    """A sweep's per-image results; its images were decoded once already, so none is None."""
    return [r for r in work.results if r is not None]


@dataclass(frozen=True)
class EvaluateConfig:
    """How to evaluate: workers, top-k, the reference set, sweeps, a foreign model's input.

    ``threads`` worker processes (one interpreter each) share the images; latency is
    measured on one interpreter with ``threads`` threads. ``labels_file`` gives labels to a
    model that carries none; ``input_mean``/``input_std`` describe a third-party float model
    that expects ``(pixel - mean) / std``. ``reference`` is the set the others are compared
    with (default: the first).
    """

    threads: int = 1
    top_k: int = 3
    reference: str | None = None
    labels_file: str | None = None
    sweeps: SweepRequest = field(default_factory=SweepRequest)
    input_mean: float | None = None
    input_std: float | None = None
    gallery_max: int = 48
    diagnose: str | None = "auto"

    def __post_init__(self) -> None:
        for name, low in (("threads", 1), ("top_k", 1), ("gallery_max", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise EvaluationError(
                    f"'{name}' of EvaluateConfig must be an integer of at least {low}; got {value!r}."
                )
        if self.labels_file is not None:
            object.__setattr__(self, "labels_file", os.fspath(self.labels_file))

    def check_sets(self, names: Sequence[str]) -> str:
        """Check the set names this config refers to; return the reference set's name."""
        if not names:
            raise EvaluationError("'sets' of evaluate must name at least one test set; got none.")
        if len(set(names)) != len(names):
            raise EvaluationError(
                f"'sets' of evaluate must have unique names; got {', '.join(names)}."
            )
        reference = self.reference or names[0]
        for param, chosen in (
            ("reference", reference),
            ("sweeps.position_set", self.sweeps.position_set),
            ("sweeps.rotation_set", self.sweeps.rotation_set),
            ("sweeps.shift_set", self.sweeps.shift_set),
        ):
            if chosen is not None and chosen not in names:
                raise EvaluationError(
                    f"'{param}' of EvaluateConfig must be one of the sets ({', '.join(names)}); "
                    f"got {chosen!r}."
                )
        return reference

    def diagnosed_set(self, names: Sequence[str], reference: str) -> str | None:
        """The set whose gap is diagnosed: ``diagnose``, or for ``"auto"`` the set named
        ``wild`` when there is one and it is not the reference; ``None``: no diagnosis."""
        if self.diagnose == "auto":
            return "wild" if "wild" in names and reference != "wild" else None
        if self.diagnose is not None and (self.diagnose not in names or self.diagnose == reference):
            others = ", ".join(n for n in names if n != reference) or "none; add a wild set"
            raise EvaluationError(
                f"'diagnose' of EvaluateConfig must name a set other than the reference "
                f"{reference!r} ({others}); got {self.diagnose!r}."
            )
        return self.diagnose


def evaluate(
    model_path: str | os.PathLike,
    sets: Sequence[tuple[str, str | os.PathLike]],
    report_dir: str | os.PathLike,
    config: EvaluateConfig | None = None,
    *,
    unknown_sets: Sequence[tuple[str, str | os.PathLike]] = (),
    overwrite: bool = False,
    show_progress: bool = True,
) -> dict:
    """Evaluate ``model_path`` on each named set; write the report folder; return the report.

    ``sets`` are ``(name, folder)`` pairs; the report folder appears only when complete
    (``overwrite`` replaces an existing one). With ``config.diagnose``, the report explains
    the gap of a wild set (:mod:`edgeposinv.evaluation.diagnosis`). ``unknown_sets`` are
    ``(name, folder)`` pairs of images that are none of the classes: the report's
    ``open_set`` figures.
    """
    config = config or EvaluateConfig()
    names = [name for name, _ in sets]
    reference = config.check_sets(names)
    all_names = names + [name for name, _ in unknown_sets]
    if len(set(all_names)) != len(all_names):
        raise EvaluationError(
            f"'sets' and 'unknown_sets' of evaluate must have unique names; got {', '.join(all_names)}."
        )
    threads, sweeps = config.threads, config.sweeps
    diagnose = config.diagnosed_set(names, reference)
    report_dir = Path(report_dir)
    check_can_write(report_dir, overwrite)
    check_not_in_dataset(report_dir, [f for _, f in sets], is_dir=True, param="report_dir")
    labels = read_labels_file(config.labels_file) if config.labels_file else None
    spec = ClassifierSpec(str(model_path), labels, config.input_mean, config.input_std)
    clf = spec.open(threads=threads)
    indexes = {name: scan_set(name, Path(folder), clf.labels) for name, folder in sets}
    unknown = {name: scan_unknown(name, Path(folder)) for name, folder in unknown_sets}
    backgrounds = (
        load_backgrounds(sweeps.backgrounds_dir, clf.image_size_px, clf.prepare)
        if sweeps.position_set and sweeps.backgrounds_dir
        else []
    )

    n_workers = min(threads, sum(len(index.records) for index in indexes.values()))
    with Workers(spec, n_workers, clf if n_workers == 1 else None) as workers:
        report, rows, misclassified, data, known = _run_all(
            workers,
            clf,
            indexes,
            names,
            reference,
            config.top_k,
            sweeps,
            backgrounds,
            show_progress,
        )
        shown = None
        if diagnose is not None:
            report["diagnosis"], shown = diagnose_set(
                workers, clf, report, data[reference], diagnose, misclassified, show_progress
            )
        unknown_probs = {
            name: unknown_probabilities(workers, name, paths, show_progress)
            for name, paths in unknown.items()
        }
    add_training_overlap(report, model_path, rows, indexes, show_progress)
    report["throughput"]["startup_s"] = workers.startup_s
    rss = peak_rss_bytes()
    report["memory"] = {"peak_rss_bytes": rss["main"], "peak_rss_worker_bytes": rss["workers"]}

    from edgeposinv.evaluation.report import gallery_items, render_report_html

    confident_unknowns: list[dict] = []
    if unknown_probs or clf.open_set is not None:
        report["open_set"], confident_unknowns = open_set_section(
            clf.labels, clf.reserved_index, clf.open_set, known, unknown_probs
        )
        for name, (paths, probs) in unknown_probs.items():
            rows += unknown_rows(clf, name, Path(dict(unknown_sets)[name]), paths, probs)
    gallery = gallery_items(misclassified, clf.prepare, config.gallery_max)
    unknown_gallery = gallery_items(confident_unknowns, clf.prepare, config.gallery_max)
    html = render_report_html(report, gallery, unknown_gallery, diagnosis_shown=shown)
    with atomic_dir(report_dir, overwrite=overwrite) as tmp:
        atomic_write_json(tmp / REPORT_JSON, report)
        atomic_write_text(tmp / PREDICTIONS_CSV, predictions_csv(rows))
        atomic_write_text(tmp / REPORT_HTML, html)
    return report


def _run_all(
    workers: Workers,
    clf: TFLiteClassifier,
    indexes: dict[str, DatasetIndex],
    names: list[str],
    reference: str,
    top_k: int,
    sweeps: SweepRequest,
    backgrounds: list[np.ndarray],
    show_progress: bool,
):
    """Every set, then every sweep asked for, on the same workers → (report, csv rows, mistakes)."""

    def run(task, paths, desc) -> WorkResult:
        return workers.run(task, paths, desc=desc, show_progress=show_progress)

    results: dict[str, dict] = {}
    data: dict[str, _SetData] = {}
    rows: list[tuple] = []
    works: list[WorkResult] = []
    misclassified: list[dict] = []
    known: dict[str, tuple] = {}
    for name, index in indexes.items():
        work = run(ProbabilitiesTask(), [r.path for r in index.records], f"evaluate {name}")
        works.append(work)
        keep, y_true = kept_images(index, clf.labels, work, name)
        probs = np.stack([work.results[i] for i in keep])
        paths = [index.records[i].path for i in keep]
        check_finite(clf.path, probs, paths, name)
        data[name] = _SetData(index, y_true, paths)
        known[name] = (paths, y_true, probs)
        class_labels, class_probs, y_class = clf.labels, probs, y_true
        r = clf.reserved_index
        if r >= 0:  # the reserved output is never a class in the metrics
            class_labels = tuple(lab for i, lab in enumerate(clf.labels) if i != r)
            class_probs = np.delete(probs, r, axis=1)
            y_class = y_true - (y_true > r)
        figures = classification_metrics(y_class, class_probs, class_labels, top_k)
        results[name] = {
            "path": str(index.root),
            **figures,
            "skipped": len(work.failures) + len(index.skipped),
        }
        log.debug("%s: top-1 %.3f on %d images", name, figures["top1"], figures["n"])
        for path, true, p in zip(paths, y_class, class_probs):
            pred, conf = int(p.argmax()), float(p.max())
            rel = path.relative_to(index.root).as_posix()
            rows.append((name, rel, class_labels[true], class_labels[pred], f"{conf:.4f}"))
            if pred != true:
                misclassified.append(
                    {
                        "set": name,
                        "path": path,
                        "relative": rel,
                        "true": class_labels[true],
                        "predicted": class_labels[pred],
                        "confidence": conf,
                    }
                )

    report: dict = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generator": {"name": "edgeposinv", "version": __version__, "host": "python"},
        "model": model_summary(clf),
        "runtime": {
            "name": "ai-edge-litert",
            "version": runtime_version(),
            "threads": clf.threads,
            "delegate": "cpu",
            "platform": {
                "system": platform.system(),
                "machine": platform.machine(),
                "processor": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
        },
        "sets": results,
        "reference": reference,
        "gaps": gaps(results, reference),
    }
    size = clf.image_size_px
    if sweeps.position_set:
        d = data[sweeps.position_set]
        work = run(
            PositionTask(sweeps.position, backgrounds),
            d.paths,
            f"position sweep {sweeps.position_set}",
        )
        summary = summarize_position(
            sweeps.position, np.stack(_decoded(work)), d.y_true, sweeps.position_set
        )
        if sweeps.backgrounds_dir:
            summary["backgrounds_dir"] = str(sweeps.backgrounds_dir)
        summary["seconds"] = work.wall_s
        report["position_sweep"] = summary
    if sweeps.shift_set:
        d = data[sweeps.shift_set]
        work = run(ShiftTask(sweeps.shift), d.paths, f"shift consistency {sweeps.shift_set}")
        summary = summarize_shift(
            sweeps.shift, np.stack(_decoded(work)), d.y_true, sweeps.shift_set
        )
        summary["max_shift_px"] = sweeps.shift.max_shift_frac * size
        report["shift_consistency"] = summary
    if sweeps.rotation_set:
        d = data[sweeps.rotation_set]
        work = run(RotationTask(sweeps.rotation), d.paths, f"rotation sweep {sweeps.rotation_set}")
        report["rotation_sweep"] = summarize_rotation(
            sweeps.rotation, np.stack(_decoded(work)), d.y_true, sweeps.rotation_set
        )

    first = data[names[0]].paths[0]
    report["latency_ms"] = clf.measure_latency(clf.prepare(read_rgb(first)))
    report["throughput"] = throughput(works)
    return report, rows, misclassified, data, known
