"""The report's "none of the above" section: rejection figures, risk–coverage curve,
reliability diagram and the most confident unknown images (rendered from report.json)."""

from __future__ import annotations

import html

__all__ = [
    "open_set_html",
    "reliability_figure",
    "risk_coverage_figure",
]


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _ci(ci) -> str:
    return f"{_pct(ci[0])} – {_pct(ci[1])}"


def risk_coverage_figure(curves: dict[str, list], title: str):
    """Accuracy of the kept images against the share kept (highest scores first)."""
    from edgeposinv.util.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for name, curve in curves.items():
        if curve:
            ax.plot([c for c, _ in curve], [a for _, a in curve], label=name)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage (share of images answered)")
    ax.set_ylabel("accuracy of the answered")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def reliability_figure(bins_by_name: dict[str, tuple[list[dict], float]], title: str):
    """Accuracy per confidence bin against the bin's mean confidence (diagonal: calibrated)."""
    from edgeposinv.util.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.0, 3.6))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    for name, (bins, ece) in bins_by_name.items():
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            markersize=3,
            label=f"{name} (ECE {ece:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (top known-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def _known_n(k: dict):
    if "accuracy_at_coverage" in k:
        return k["accuracy_at_coverage"]["1"]["n"]
    return k.get("at_threshold", {}).get("accepted", {}).get("n", "?")


def _gallery(items: list[dict]) -> str:
    if not items:
        return ""
    cells = "".join(
        f"<figure class='thumb'><img src='{g['src']}' alt='{html.escape(g['relative'])}'>"
        f"<figcaption><span class='bad'>{html.escape(g['predicted'])}</span> {100 * g['confidence']:.0f}%"
        f"<br><span class='note'>{html.escape(g['set'])}: {html.escape(g['relative'][:40])}</span>"
        "</figcaption></figure>"
        for g in items
    )
    return (
        "<h3>The most confident unknown images</h3><p class='note'>Images of none of the classes, "
        "what the model answered and its score, highest first.</p>"
        f"<div class='gallery'>{cells}</div>"
    )


def open_set_html(report: dict, unknown_gallery: list[dict] | None = None) -> str:
    from edgeposinv.evaluation.report import figure_to_img_tag

    o = report.get("open_set")
    if not o:
        return ""
    t = o.get("threshold")
    head = (
        f"<h2>None of the above</h2><p>Score: the {html.escape(o['score'])}"
        + (
            f"; the model's threshold {t:.3f} (temperature {o['temperature']:.2f} baked in"
            + (
                f", reserved label <code>{html.escape(o['reserved_label'])}</code>"
                if o.get("reserved_label")
                else ""
            )
            + (f", target {html.escape(str(o['target']))}" if o.get("target") else "")
            + ")"
            if t is not None
            else "; the model carries no threshold"
        )
        + ".</p>"
    )
    rows = ""
    for name, k in o["known_sets"].items():
        at = k.get("at_threshold")
        rows += (
            f"<tr><td>{html.escape(name)} (known)</td><td>{_known_n(k)}</td>"
            + (
                f"<td>{_pct(at['accepted']['share'])} ({_ci(at['accepted']['ci95'])})</td>"
                f"<td>{_pct(at['accuracy'])} ({_ci(at['accuracy_ci95'])})</td>"
                f"<td>{_pct(at['selective_accuracy'])}</td>"
                if at
                else "<td>n/a</td><td>n/a</td><td>n/a</td>"
            )
            + f"<td>{k['ece']:.3f}</td></tr>"
        )
    for name, u in o["unknown_sets"].items():
        acc = u.get("accepted")
        rows += (
            f"<tr><td>{html.escape(name)} (unknown)</td><td>{u['n']}</td>"
            + (f"<td>{_pct(acc['share'])} ({_ci(acc['ci95'])})</td>" if acc else "<td>n/a</td>")
            + f"<td></td><td></td><td>≥ 0.9: {_pct(u['share_score_ge_0.9'])}</td></tr>"
        )
    table = (
        "<table><tr><th>set</th><th>n</th><th>accepted at the threshold (95% CI)</th>"
        "<th>accuracy, rejections as errors</th><th>accuracy of the accepted</th><th>ECE</th></tr>"
        f"{rows}</table>"
    )
    sep_rows = "".join(
        f"<tr><td>{html.escape(s['known_set'])} vs {html.escape(s['unknown_set'])}</td>"
        f"<td>{s['auroc']:.3f}"
        + (f" ({s['auroc_ci95'][0]:.3f} – {s['auroc_ci95'][1]:.3f})" if "auroc_ci95" in s else "")
        + f"</td><td>{_pct(s['fpr_at_95_tpr'])}"
        + (f" ({_ci(s['fpr_at_95_tpr_ci95'])})" if "fpr_at_95_tpr_ci95" in s else "")
        + "</td></tr>"
        for s in o["separation"].values()
    )
    sep = (
        "<table><tr><th>known vs unknown</th><th>AUROC (95% CI, bootstrap)</th>"
        f"<th>FPR at 95% TPR</th></tr>{sep_rows}</table>"
        if sep_rows
        else ""
    )
    cov_rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{_pct(v['accuracy'])}</td>" for v in k["accuracy_at_coverage"].values())
        + "</tr>"
        for name, k in o["known_sets"].items()
        if "accuracy_at_coverage" in k
    )
    first = next((k for k in o["known_sets"].values() if "accuracy_at_coverage" in k), None)
    cov = (
        "<table><tr><th>accuracy at coverage</th>"
        + "".join(f"<th>{float(c):.0%}</th>" for c in first["accuracy_at_coverage"])
        + f"</tr>{cov_rows}</table>"
        if first
        else ""
    )
    figs = ""
    if first:  # the curves need per-image figures (host reports)
        figs = (
            "<div class='figs'>"
            + figure_to_img_tag(
                risk_coverage_figure(
                    {
                        n: k["risk_coverage"]
                        for n, k in o["known_sets"].items()
                        if "risk_coverage" in k
                    },
                    "risk–coverage",
                ),
                "risk-coverage curve",
            )
            + figure_to_img_tag(
                reliability_figure(
                    {
                        n: (k["reliability"], k["ece"])
                        for n, k in o["known_sets"].items()
                        if "reliability" in k
                    },
                    "reliability",
                ),
                "reliability diagram",
            )
            + "</div>"
        )
    return head + table + sep + cov + figs + _gallery(unknown_gallery or [])
