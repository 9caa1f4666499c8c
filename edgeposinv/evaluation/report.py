"""HTML reports rendered from report.json: self-contained pages with inline PNG plots."""

from __future__ import annotations

import base64
import html
import io
import json

import numpy as np

from edgeposinv.util.plots import pyplot


def figure_to_img_tag(fig, alt: str) -> str:
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def accuracy_figure(groups: dict[str, dict[str, dict]], title: str):
    """Grouped bars of top-1 with 95% intervals. ``groups``: series name → set name → set figures."""
    plt = pyplot()
    set_names = list(dict.fromkeys(s for series in groups.values() for s in series))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(set_names) * max(1, len(groups)) / 2, 3.2))
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(set_names))
    for i, (series, sets) in enumerate(groups.items()):
        vals = [sets[s]["top1"] if s in sets else np.nan for s in set_names]
        lo = [sets[s]["top1"] - sets[s]["top1_ci95"][0] if s in sets else 0 for s in set_names]
        hi = [sets[s]["top1_ci95"][1] - sets[s]["top1"] if s in sets else 0 for s in set_names]
        bars = ax.bar(
            x + (i - (len(groups) - 1) / 2) * width,
            vals,
            width,
            yerr=[lo, hi],
            capsize=3,
            label=series,
        )
        ax.bar_label(
            bars,
            labels=[f"{v:.0%}" if not np.isnan(v) else "" for v in vals],
            padding=2,
            fontsize=8,
        )
    ax.set_xticks(x, set_names)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("top-1 (95% CI)")
    ax.set_title(title)
    if len(groups) > 1:
        ax.legend(
            fontsize=8,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=min(2, len(groups)),
            frameon=False,
        )
    return fig


def confusion_figure(confusion: list[list[int]], labels: list[str], title: str):
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = pyplot()
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
.gallery{display:flex;flex-wrap:wrap;gap:.5em}.thumb{margin:0;width:8.5em;font-size:.8em}
.thumb img{width:8em;height:8em;image-rendering:pixelated;border:1px solid #ccc}.bad{color:#b00}
.thumb figcaption{overflow-wrap:anywhere;word-break:break-word}
.thumb.wide{width:16.5em}.thumb.wide img{width:16em}
"""


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def heatmap_figure(
    accuracy: list[list[float]], title: str, vmin: float = 0.0, vmax: float = 1.0, ax=None
):
    """Accuracy per grid cell, as the frame is seen (row 0 at the top)."""
    plt = pyplot()
    acc = np.asarray(accuracy, float)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.2 + 0.55 * acc.shape[1], 0.9 + 0.55 * acc.shape[0]))
    im = ax.imshow(acc, vmin=vmin, vmax=vmax, cmap="RdYlGn")
    for (r, c), v in np.ndenumerate(acc):
        ax.text(c, r, f"{100 * v:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    if fig is not None:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="top-1")
    return fig if fig is not None else ax.figure


def rotation_figure(curves: dict[str, dict], title: str):
    """Top-1 against rotation angle; one line per report (overlaid in ``compare``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for name, sweep in curves.items():
        ax.plot(sweep["angles_deg"], sweep["accuracy"], marker="o", markersize=3, label=name)
    ax.set_xlim(-180, 180)
    ax.set_xticks(range(-180, 181, 45))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("rotation (degrees, counter-clockwise)")
    ax.set_ylabel("top-1")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    return fig


def gallery_items(misclassified: list[dict], prepare, limit: int) -> list[dict]:
    """Thumbnails (what the model saw, as JPEG data URIs) of the most confident mistakes."""
    import cv2

    from edgeposinv.data.images import ImageDecodeError, read_rgb

    items = []
    for m in sorted(misclassified, key=lambda m: -m["confidence"])[:limit]:
        try:
            pixels = prepare(read_rgb(m["path"]))
        except ImageDecodeError:
            continue
        if pixels.shape[0] < 96:
            pixels = cv2.resize(pixels, (96, 96), interpolation=cv2.INTER_NEAREST)  # display only
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        if ok:
            items.append(
                {
                    **m,
                    "src": "data:image/jpeg;base64,"
                    + base64.b64encode(buf.tobytes()).decode("ascii"),
                }
            )
    return items


def short_name(name: str, keep: int = 28) -> str:
    """A long file name cut in the middle (the full name goes in a tooltip)."""
    return name if len(name) <= keep else name[: keep // 2 - 1] + "…" + name[-(keep // 2) :]


def _gallery_html(gallery: list[dict], total: int) -> str:
    if not total:
        return "<h2>Misclassified images</h2><p>None: every image was classified correctly.</p>"
    cells = "".join(
        f"<figure class='thumb'><img src='{g['src']}' alt='{html.escape(g['relative'])}'>"
        f"<figcaption><b>{html.escape(g['true'])}</b> → <span class='bad'>{html.escape(g['predicted'])}</span> "
        f"{100 * g['confidence']:.0f}%<br><span class='note' title='{html.escape(g['relative'])}'>"
        f"{html.escape(g['set'])}: {html.escape(short_name(g['relative']))}</span>"
        "</figcaption></figure>"
        for g in gallery
    )
    shown = (
        f"the {len(gallery)} most confident of {total}" if len(gallery) < total else f"all {total}"
    )
    return (
        f"<h2>Misclassified images</h2><p class='note'>What the model saw (after the input contract), "
        f"true → predicted (confidence); {shown}. Full list: predictions.csv.</p><div class='gallery'>{cells}</div>"
    )


def _sweeps_html(report: dict) -> str:
    parts = []
    pos = report.get("position_sweep")
    if pos:
        ratio = pos["worst_to_centre"]
        parts.append(
            f"<h2>Where in the frame does it work? (set {html.escape(pos['set'])})</h2>"
            f"<p>Each of {pos['n']} images shrunk to {pos['object_scale']:.0%} of the frame and placed at every cell of a "
            f"{pos['grid'][0]}×{pos['grid'][1]} grid over a {html.escape(pos['background'])} background. "
            f"Centre {_pct(pos['centre_accuracy'])}, worst cell {_pct(pos['worst_accuracy'])} "
            f"(row {pos['worst_cell'][0]}, column {pos['worst_cell'][1]}), corners {_pct(pos['corner_accuracy'])}; "
            f"worst/centre {'n/a' if ratio is None else f'{ratio:.2f}'}.</p>"
            + figure_to_img_tag(
                heatmap_figure(pos["accuracy"], "top-1 by object position"), "position heatmap"
            )
        )
    shift = report.get("shift_consistency")
    if shift:
        lo, hi = shift["consistency_ci95"]
        parts.append(
            f"<h2>Shift consistency (set {html.escape(shift['set'])})</h2><p>{_pct(shift['consistency'])} "
            f"(95% CI {_pct(lo)} – {_pct(hi)}) of {shift['pairs']} pairs of random shifts of the same image get the same "
            f"top-1; shifts uniform in ±{shift['max_shift_frac']:.3g} of the side (±{shift['max_shift_px']:.1f} px) on each "
            f"axis, borders filled '{html.escape(shift['fill_mode'])}' (Zhang 2019).</p>"
        )
    rot = report.get("rotation_sweep")
    if rot:
        parts.append(
            f"<h2>Accuracy vs rotation (set {html.escape(rot['set'])})</h2><p>{rot['n']} images, every "
            f"{rot['step_deg']:g}°; upright {_pct(rot['upright_accuracy'])}, worst {_pct(rot['worst_accuracy'])}.</p>"
            + figure_to_img_tag(
                rotation_figure({"model": rot}, "top-1 vs rotation"), "rotation curve"
            )
        )
    return "".join(parts)


def _per_class_html(name: str, s: dict) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{c['n']}</td><td>{_pct(c['precision'])}</td><td>{_pct(c['recall'])}</td></tr>"
        for label, c in s["per_class"].items()
    )
    return (
        f"<table><tr><th>{html.escape(name)}: class</th><th>n</th><th>precision</th><th>recall</th></tr>"
        f"{rows}</table>"
    )


def _diagnosis_html(report: dict, shown: list[dict] | None) -> str:
    if "diagnosis" not in report:
        return ""
    from edgeposinv.evaluation.diagnosis import diagnosis_html

    return diagnosis_html(report["diagnosis"], shown or [])


def render_report_html(
    report: dict,
    gallery: list[dict] | None = None,
    unknown_gallery: list[dict] | None = None,
    diagnosis_shown: list[dict] | None = None,
) -> str:
    """The self-contained report page (plots and thumbnails inline).

    Order: accuracy per set and the gap first, then where the gap comes from (when
    diagnosed), the figures and sweeps, the misclassified gallery, then the details.
    """
    from edgeposinv.evaluation.open_set_report import open_set_html

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
        figure_to_img_tag(
            confusion_figure(s["confusion"], list(s["per_class"]), f"confusion: {name}"),
            f"confusion {name}",
        )
        for name, s in sets.items()
    ]
    n_wrong = sum(s["n"] - s.get("correct", round(s["top1"] * s["n"])) for s in sets.values())
    lat = report["latency_ms"]
    rt = report["runtime"]
    extra = ""
    if "throughput" in report:
        t = report["throughput"]
        extra += (
            f"; evaluation: {t['images']} images in {t['seconds']:.1f} s with {t['workers']} worker process(es) "
            f"on {t['cores']} cores"
        )
    if "memory" in report:
        extra += f"; peak RSS {report['memory']['peak_rss_bytes'] / 2**20:.0f} MiB"
    meta = json.dumps(model.get("metadata", {}), indent=1, sort_keys=True)
    contract = json.dumps(model.get("contract", {}), sort_keys=True)
    body = (
        f"<p>Model <code>{html.escape(model['path'])}</code> — {html.escape(str(model['quantization']))}, "
        f"input {model['input']['height']}×{model['input']['width']} {model['input']['dtype']}, "
        f"{model['size_bytes'] / 1024:.1f} KiB, sha256 <code>{model['sha256'][:16]}…</code></p>"
        + f"<h2>Accuracy per set</h2><table><tr><th>set</th><th>n</th><th>top-1</th><th>95% CI</th><th>top-k</th></tr>{rows}</table>"
        + (
            f"<h2>Gap to the reference set</h2><table><tr><th>difference</th><th>top-1</th><th>95% CI</th><th>significant</th></tr>{gap_rows}</table>"
            "<p class='note'>A gap whose interval contains 0 is not established at these set sizes: collect more images.</p>"
            if gap_rows
            else ""
        )
        + _diagnosis_html(report, diagnosis_shown)
        + f"<div class='figs'>{''.join(figs)}</div>"
        + "<h2>Per class</h2><div class='figs'>"
        + "".join(_per_class_html(n, s) for n, s in sets.items())
        + "</div>"
        + open_set_html(report, unknown_gallery)
        + _sweeps_html(report)
        + (_gallery_html(gallery or [], n_wrong) if gallery is not None else "")
        + f"<h2>Latency, size and runtime</h2><p>median {lat['median']:.2f} ms, p90 {lat['p90']:.2f} ms per image "
        f"({lat['runs']} runs after {lat['warmup']} warm-up, {lat['threads']} thread(s)) on "
        f"{html.escape(rt['platform']['machine'])} with {html.escape(rt['name'])} {html.escape(rt['version'])}; "
        f"model {model['size_bytes']:,} bytes{extra}.</p>"
        f"<h2>Model metadata</h2><p>Labels: {html.escape(', '.join(model['labels']))}</p>"
        f"<p>Input contract: <code>{html.escape(contract)}</code></p><pre>{html.escape(meta)}</pre>"
    )
    return page("edgeposinv evaluation report", body)
