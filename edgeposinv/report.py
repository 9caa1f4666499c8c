"""HTML reports rendered from report.json: self-contained pages with inline PNG plots."""

from __future__ import annotations

import base64
import html
import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_to_img_tag(fig, alt: str) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def accuracy_figure(groups: dict[str, dict[str, dict]], title: str):
    """Grouped bars of top-1 with 95% intervals. ``groups``: series name → set name → set figures."""
    plt = _pyplot()
    set_names = list(dict.fromkeys(s for series in groups.values() for s in series))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(set_names) * max(1, len(groups)) / 2, 3.2))
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(set_names))
    for i, (series, sets) in enumerate(groups.items()):
        vals = [sets[s]["top1"] if s in sets else np.nan for s in set_names]
        lo = [sets[s]["top1"] - sets[s]["top1_ci95"][0] if s in sets else 0 for s in set_names]
        hi = [sets[s]["top1_ci95"][1] - sets[s]["top1"] if s in sets else 0 for s in set_names]
        bars = ax.bar(x + (i - (len(groups) - 1) / 2) * width, vals, width, yerr=[lo, hi], capsize=3, label=series)
        ax.bar_label(bars, labels=[f"{v:.0%}" if not np.isnan(v) else "" for v in vals], padding=2, fontsize=8)
    ax.set_xticks(x, set_names)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("top-1 (95% CI)")
    ax.set_title(title)
    if len(groups) > 1:
        ax.legend(fontsize=8, loc="lower right")
    return fig


def confusion_figure(confusion: list[list[int]], labels: list[str], title: str):
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * n, 1.2 + 0.45 * n))
    ConfusionMatrixDisplay(np.asarray(confusion), display_labels=labels).plot(
        ax=ax, colorbar=False, cmap="Blues", values_format="d"
    )
    ax.set_title(title)
    return fig


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.note{color:#555;font-size:.9em}
"""


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def render_report_html(report: dict) -> str:
    model, sets = report["model"], report["sets"]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['n']}</td><td>{_pct(s['top1'])}</td>"
        f"<td>{_pct(s['top1_ci95'][0])} – {_pct(s['top1_ci95'][1])}</td>"
        f"<td>{_pct(s['top_k']['accuracy'])} (k={s['top_k']['k']})</td></tr>"
        for name, s in sets.items()
    )
    gap_rows = "".join(
        f"<tr><td>{html.escape(name)} − {html.escape(g['reference'])}</td><td>{100 * g['difference']:+.1f} pts</td>"
        f"<td>{100 * g['difference_ci95'][0]:+.1f} … {100 * g['difference_ci95'][1]:+.1f}</td>"
        f"<td>{'yes' if g['significant'] else 'no — could be noise at this sample size'}</td></tr>"
        for name, g in report.get("gaps", {}).items()
    )
    figs = [figure_to_img_tag(accuracy_figure({"model": sets}, "top-1 per set"), "top-1 per set")]
    figs += [
        figure_to_img_tag(confusion_figure(s["confusion"], model["labels"], f"confusion: {name}"), f"confusion {name}")
        for name, s in sets.items()
    ]
    lat = report["latency_ms"]
    rt = report["runtime"]
    body = (
        f"<p>Model <code>{html.escape(model['path'])}</code> — {model['quantization']}, "
        f"input {model['input']['height']}×{model['input']['width']} {model['input']['dtype']}, "
        f"{model['size_bytes'] / 1024:.1f} KiB, sha256 <code>{model['sha256'][:16]}…</code></p>"
        f"<h2>Accuracy per set</h2><table><tr><th>set</th><th>n</th><th>top-1</th><th>95% CI</th><th>top-k</th></tr>{rows}</table>"
        + (f"<h2>Gap to the reference set</h2><table><tr><th>difference</th><th>top-1</th><th>95% CI</th><th>significant</th></tr>{gap_rows}</table>" if gap_rows else "")
        + f"<div class='figs'>{''.join(figs)}</div>"
        f"<h2>Latency and runtime</h2><p>median {lat['median']:.2f} ms, p90 {lat['p90']:.2f} ms per image "
        f"({lat['runs']} runs after {lat['warmup']} warm-up, {lat['threads']} thread(s)) on "
        f"{html.escape(rt['platform']['machine'])} with {html.escape(rt['name'])} {html.escape(rt['version'])}</p>"
        f"<h2>Labels</h2><p>{html.escape(', '.join(model['labels']))}</p>"
    )
    return page("edgeposinv evaluation report", body)
