"""``edgeposinv compare``: several report folders side by side (host vs device, float32 vs
int8, without vs with augmentation) as a table and overlaid plots.

Reports must share their label set (same labels, same order; the reserved ``_background``
output is not a class and may differ); otherwise the comparison would be meaningless and
the error lists the difference.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

from edgeposinv.errors import EvaluationError
from edgeposinv.evaluation.metrics import difference_interval
from edgeposinv.util.files import atomic_dir, atomic_write_json, atomic_write_text, check_can_write

__all__ = [
    "COMPARE_HTML",
    "COMPARE_JSON",
    "SUPPORTED_MAJOR",
    "check_same_labels",
    "compare_reports",
    "load_report",
]

COMPARE_JSON = "compare.json"
COMPARE_HTML = "compare.html"
SUPPORTED_MAJOR = "1"


def load_report(path: str | os.PathLike) -> dict:
    """Read ``DIR/report.json`` (or a ``report.json`` path) and check its schema version."""
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    if not file.is_file():
        raise EvaluationError(
            f"{path} has no report.json; pass folders written by 'edgeposinv evaluate' or the app"
        )
    try:
        report = json.loads(file.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EvaluationError(f"{file} is not valid JSON ({e}); re-run the evaluation") from None
    version = str(report.get("schema_version", "")) if isinstance(report, dict) else ""
    if version.split(".")[0] != SUPPORTED_MAJOR:
        raise EvaluationError(
            f"{file} has report schema version {version or 'none'}; this edgeposinv reads {SUPPORTED_MAJOR}.x"
        )
    check_report(report, file)
    return report


def check_report(report: dict, file: str | os.PathLike) -> None:
    """Raise :class:`EvaluationError` naming ``file`` unless ``report`` has what a reader needs."""

    def bad(what: str) -> EvaluationError:
        return EvaluationError(f"{file} is incomplete ({what}); re-run the evaluation")

    if not isinstance(report.get("model"), dict):
        raise bad("no 'model' object")
    sets = report.get("sets")
    if not isinstance(sets, dict) or not sets:
        raise bad("no 'sets'")
    for name, s in sets.items():
        if not isinstance(s, dict):
            raise bad(f"set '{name}' is not an object")
        if not isinstance(s.get("n"), int) or not isinstance(s.get("top1"), (int, float)):
            raise bad(f"set '{name}' lacks 'n' or 'top1'")
        ci = s.get("top1_ci95")
        if not (isinstance(ci, list) and len(ci) == 2):
            raise bad(f"set '{name}' lacks 'top1_ci95'")


def _names(paths: Sequence[Path]) -> list[str]:
    folders = [(p if p.is_dir() else p.parent).resolve() for p in paths]
    names = [f.name for f in folders]
    if len(set(names)) == len(names):
        return names
    names = [f"{f.parent.name}/{f.name}" for f in folders]  # e.g. host/report vs device/report
    if len(set(names)) == len(names):
        return names
    return [f"{n} ({i + 1})" for i, n in enumerate(names)]


def _class_labels(report: dict) -> list[str]:
    """The model's labels without the reserved ``_background`` output (not a class)."""
    from edgeposinv.tflite.open_set import RESERVED_LABEL

    return [lab for lab in report["model"]["labels"] if lab != RESERVED_LABEL]


def check_same_labels(reports: dict[str, dict]) -> list[str]:
    (first_name, first), *rest = reports.items()
    labels = _class_labels(first)
    problems = []
    for name, report in rest:
        other = _class_labels(report)
        if other == labels:
            continue
        missing = [lab for lab in labels if lab not in other]
        extra = [lab for lab in other if lab not in labels]
        if missing or extra:
            problems.append(
                f"'{name}' lacks [{', '.join(missing)}] and has extra [{', '.join(extra)}] compared with '{first_name}'"
            )
        else:
            problems.append(
                f"'{name}' has the labels of '{first_name}' in another order ({', '.join(other)})"
            )
    if problems:
        raise EvaluationError("Reports have different label sets: " + "; ".join(problems))
    return labels


def _row(name: str, path: Path, r: dict) -> dict:
    model, runtime = r["model"], r.get("runtime", {})
    row = {
        "name": name,
        "path": str(path),
        "model": model.get("path"),
        "sha256": model.get("sha256"),
        "quantization": model.get("quantization"),
        "size_bytes": model.get("size_bytes"),
        "host": r.get("generator", {}).get("host"),
        "threads": runtime.get("threads"),
        "platform": runtime.get("platform", {}),
        "latency_ms": r.get("latency_ms"),
        "sets": {
            s: {k: v[k] for k in ("n", "top1", "top1_ci95") if k in v} for s, v in r["sets"].items()
        },
    }
    if "position_sweep" in r:
        p = r["position_sweep"]
        row["position"] = {
            k: p[k] for k in ("set", "centre_accuracy", "worst_accuracy", "worst_to_centre")
        }
    if "shift_consistency" in r:
        row["shift_consistency"] = r["shift_consistency"]["consistency"]
    if "rotation_sweep" in r:
        row["rotation"] = {
            k: r["rotation_sweep"][k] for k in ("upright_accuracy", "worst_accuracy")
        }
    if "open_set" in r:
        o = r["open_set"]
        row["open_set"] = {
            "threshold": o.get("threshold"),
            "temperature": o.get("temperature"),
            "unknown_accepted": {
                n: u["accepted"] for n, u in o["unknown_sets"].items() if u.get("accepted")
            },
            "separation": {
                k: {f: v[f] for f in ("auroc", "auroc_ci95", "fpr_at_95_tpr") if f in v}
                for k, v in o["separation"].items()
            },
            "known": {
                n: {
                    "ece": k["ece"],
                    **({"at_threshold": k["at_threshold"]} if "at_threshold" in k else {}),
                }
                for n, k in o["known_sets"].items()
            },
        }
    return row


def _open_set_html(summary: dict, reports: dict[str, dict]) -> str:
    """Open-set figures side by side: AUROC, unknowns accepted, ECE, and overlaid curves."""
    from edgeposinv.evaluation.open_set_report import reliability_figure, risk_coverage_figure
    from edgeposinv.evaluation.report import figure_to_img_tag

    rows = ""
    for row in summary["reports"]:
        o = row.get("open_set")
        if not o:
            continue
        sep = "; ".join(
            f"{k}: {v['auroc']:.3f}"
            + (f" ({v['auroc_ci95'][0]:.3f}–{v['auroc_ci95'][1]:.3f})" if "auroc_ci95" in v else "")
            + f", FPR@95 {100 * v['fpr_at_95_tpr']:.1f}%"
            for k, v in o["separation"].items()
        )
        acc = "; ".join(
            f"{n}: {100 * a['share']:.1f}% ({100 * a['ci95'][0]:.1f}–{100 * a['ci95'][1]:.1f})"
            for n, a in o["unknown_accepted"].items()
        )
        ece = "; ".join(f"{n}: {k['ece']:.3f}" for n, k in o["known"].items())
        thr = "–" if o["threshold"] is None else f"{o['threshold']:.3f} (T {o['temperature']:.2f})"
        rows += (
            f"<tr><td>{html.escape(row['name'])}</td><td>{thr}</td><td>{html.escape(sep)}</td>"
            f"<td>{html.escape(acc)}</td><td>{html.escape(ece)}</td></tr>"
        )
    if not rows or not any(r.get("open_set", {}).get("unknown_sets") for r in reports.values()):
        return ""  # shown when unknown images were measured
    curves = {
        f"{n}: {s}": k["risk_coverage"]
        for n, r in reports.items()
        for s, k in r.get("open_set", {}).get("known_sets", {}).items()
        if "risk_coverage" in k
    }
    bins = {
        f"{n}: {s}": (k["reliability"], k["ece"])
        for n, r in reports.items()
        for s, k in r.get("open_set", {}).get("known_sets", {}).items()
        if "reliability" in k
    }
    return (
        "<h2>None of the above</h2><table><tr><th>report</th><th>threshold</th>"
        "<th>AUROC (95% CI), FPR at 95% TPR</th><th>unknowns accepted (95% CI)</th><th>ECE</th></tr>"
        f"{rows}</table>"
        + (
            "<div class='figs'>"
            + figure_to_img_tag(
                risk_coverage_figure(curves, "risk–coverage"), "risk-coverage curves"
            )
            + figure_to_img_tag(reliability_figure(bins, "reliability"), "reliability diagrams")
            + "</div>"
            if curves
            else ""
        )
    )


def _differences(reports: dict[str, dict]) -> dict:
    """Top-1 of every report against the first, per shared set (independent-samples Newcombe interval)."""
    (base_name, base), *rest = reports.items()
    out: dict[str, dict] = {}
    for set_name, b in base["sets"].items():
        for name, r in rest:
            s = r["sets"].get(set_name)
            if s is None or not s["n"] or not b["n"]:
                continue
            k1 = s.get("correct", round(s["top1"] * s["n"]))
            k2 = b.get("correct", round(b["top1"] * b["n"]))
            lo, hi = difference_interval(k1, s["n"], k2, b["n"])
            out.setdefault(set_name, {})[name] = {
                "against": base_name,
                "difference": s["top1"] - b["top1"],
                "difference_ci95": [lo, hi],
                "significant": not (lo <= 0.0 <= hi),
            }
    return out


def _html(summary: dict, reports: dict[str, dict]) -> str:
    from edgeposinv.evaluation.report import (
        accuracy_figure,
        figure_to_img_tag,
        heatmap_figure,
        page,
        rotation_figure,
    )
    from edgeposinv.util.plots import pyplot

    def pct(v) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    set_names = list(dict.fromkeys(s for r in reports.values() for s in r["sets"]))
    head = "".join(f"<th>{html.escape(s)} top-1 (95% CI)</th>" for s in set_names)
    rows = ""
    for row in summary["reports"]:
        cells = ""
        for s in set_names:
            v = row["sets"].get(s)
            cells += (
                "<td>–</td>"
                if v is None
                else (
                    f"<td>{pct(v['top1'])} ({pct(v['top1_ci95'][0])}–{pct(v['top1_ci95'][1])}, n={v['n']})</td>"
                )
            )
        lat = row.get("latency_ms") or {}
        pos = row.get("position", {})
        rows += (
            f"<tr><td>{html.escape(row['name'])}</td><td>{html.escape(str(row['host']))}</td>"
            f"<td>{html.escape(str(row['quantization']))}</td><td>{(row['size_bytes'] or 0) / 1024:.1f} KiB</td>{cells}"
            f"<td>{lat.get('median', float('nan')):.2f} / {lat.get('p90', float('nan')):.2f} ms ({lat.get('threads', '?')} thr)</td>"
            f"<td>{pct(pos.get('centre_accuracy'))} / {pct(pos.get('worst_accuracy'))}</td>"
            f"<td>{pct(row.get('shift_consistency'))}</td></tr>"
        )
    diff_rows = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{html.escape(name)} − {html.escape(d['against'])}</td>"
        f"<td>{100 * d['difference']:+.1f} pts</td><td>{100 * d['difference_ci95'][0]:+.1f} … {100 * d['difference_ci95'][1]:+.1f}</td>"
        f"<td>{'yes' if d['significant'] else 'no — could be noise'}</td></tr>"
        for s, by in summary["differences"].items()
        for name, d in by.items()
    )
    figs = [
        figure_to_img_tag(
            accuracy_figure({n: r["sets"] for n, r in reports.items()}, "top-1 per set"), "top-1"
        )
    ]
    curves = {n: r["rotation_sweep"] for n, r in reports.items() if "rotation_sweep" in r}
    if curves:
        figs.append(
            figure_to_img_tag(rotation_figure(curves, "top-1 vs rotation"), "rotation curves")
        )
    heat = {n: r["position_sweep"] for n, r in reports.items() if "position_sweep" in r}
    if heat:
        plt = pyplot()
        fig, axes = plt.subplots(1, len(heat), figsize=(3.2 * len(heat), 3.2), squeeze=False)
        for ax, (n, p) in zip(axes[0], heat.items()):
            heatmap_figure(
                p["accuracy"],
                f"{n}: centre {pct(p['centre_accuracy'])}, worst {pct(p['worst_accuracy'])}",
                ax=ax,
            )
        figs.append(figure_to_img_tag(fig, "position heatmaps"))
    body = (
        f"<p>Labels: {html.escape(', '.join(summary['labels']))}</p>"
        "<table><tr><th>report</th><th>host</th><th>quantization</th><th>size</th>"
        f"{head}<th>latency median / p90</th><th>position centre / worst</th><th>shift consistency</th></tr>{rows}</table>"
        + (
            f"<h2>Differences to the first report</h2><table><tr><th>set</th><th>difference</th><th>top-1</th>"
            f"<th>95% CI</th><th>significant</th></tr>{diff_rows}</table>"
            "<p class='note'>Intervals treat the runs as independent samples (conservative when the images are the same).</p>"
            if diff_rows
            else ""
        )
        + f"<div class='figs'>{''.join(figs)}</div>"
        + _open_set_html(summary, reports)
    )
    return page("edgeposinv comparison", body)


def compare_reports(
    report_paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, overwrite: bool = False
) -> dict:
    """Write ``OUT/compare.json`` and ``OUT/compare.html`` for two or more reports."""
    if len(report_paths) < 2:
        raise EvaluationError(
            f"compare needs at least two report folders. Got {len(report_paths)}."
        )
    out_dir = Path(out_dir)
    check_can_write(out_dir, overwrite)
    paths = [Path(p) for p in report_paths]
    reports = dict(zip(_names(paths), (load_report(p) for p in paths)))
    labels = check_same_labels(reports)
    summary = {
        "schema_version": "1.0",
        "labels": labels,
        "reports": [_row(name, path, r) for (name, r), path in zip(reports.items(), paths)],
        "differences": _differences(reports),
    }
    page_html = _html(summary, reports)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        atomic_write_json(tmp / COMPARE_JSON, summary)
        atomic_write_text(tmp / COMPARE_HTML, page_html)
    return summary
