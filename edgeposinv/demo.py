"""``edgeposinv demo``: the whole journey on the embedded digits, through files.

data → train (no augmentation, and default augmentation) → export int8 → evaluate on
``published`` and ``wild`` → one comparison page. Each stage reads and writes folders,
exactly as a user running the commands one by one would.
"""

from __future__ import annotations

import html
import logging
import os
import time
from pathlib import Path

import numpy as np

from edgeposinv.data.digits import DemoDataConfig, build_demo_datasets
from edgeposinv.evaluation.evaluate import REPORT_JSON, EvaluateConfig, evaluate
from edgeposinv.evaluation.report import accuracy_figure, figure_to_img_tag, page
from edgeposinv.export.export import QuantSpec, export_run
from edgeposinv.training.train import TrainConfig, train
from edgeposinv.util.files import atomic_dir, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

MODELS = {"baseline": "none", "robust": "default"}


def _sample_strip(folder: Path, n: int = 8) -> str:
    from edgeposinv.data.images import read_rgb
    from edgeposinv.util.plots import pyplot

    plt = pyplot()
    every = sorted(folder.rglob("*.png"))
    files = every[:: max(1, len(every) // n)][:n]
    fig, axes = plt.subplots(1, len(files), figsize=(1.1 * len(files), 1.3))
    for ax, f in zip(np.atleast_1d(axes), files):
        ax.imshow(read_rgb(f))
        ax.set_title(f.parent.name, fontsize=8)
        ax.axis("off")
    return figure_to_img_tag(fig, f"samples of {folder.name}")


def _comparison_html(
    summary: dict, reports: dict[str, dict], folders: dict[str, Path], out: Path
) -> str:
    groups = {f"{name} (augment {MODELS[name]})": reports[name]["sets"] for name in MODELS}
    rows = "".join(
        f"<tr><td>{name}</td><td>{MODELS[name]}</td><td>{summary[name]['published']:.1%}</td>"
        f"<td>{summary[name]['wild']:.1%}</td><td>{100 * (summary[name]['wild'] - summary[name]['published']):+.1f} pts</td>"
        f"<td><a href='{html.escape(os.path.relpath(summary[name]['report'], out))}'>report</a></td></tr>"
        for name in MODELS
    )
    body = (
        "<p>Two tiny CNNs, trained on the same centred, upright digits (scikit-learn's bundled "
        "handwritten digits), exported to int8 TFLite and run with the LiteRT interpreter. "
        "<b>published</b>: held-out digits, centred and upright like the training set. "
        "<b>wild</b>: the same held-out digits off-centre, rotated, smaller, on cluttered backgrounds.</p>"
        f"<table><tr><th>model</th><th>augmentation</th><th>published</th><th>wild</th><th>gap</th><th></th></tr>{rows}</table>"
        f"<div class='figs'>{figure_to_img_tag(accuracy_figure(groups, 'published vs wild, int8 TFLite'), 'accuracy')}</div>"
        f"<h2>What the sets look like</h2><p>published</p>{_sample_strip(folders['published_test'])}"
        f"<p>wild</p>{_sample_strip(folders['wild_test'])}"
        f"<p class='note'>Finished in {summary['seconds']:.0f} s.</p>"
    )
    return page("edgeposinv demo: published vs wild", body)


def run_demo(
    out: str | os.PathLike = "edgeposinv-demo",
    epochs: int = 40,
    seed: int = 0,
    overwrite: bool = False,
    show_progress: bool = True,
) -> dict:
    """Run the demo into ``out``; return the summary (also written to ``out/summary.json``)."""
    out = Path(out)
    started = time.monotonic()
    final = out.resolve()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        log.info("[1/4] rendering the published and wild digit sets")
        folders = build_demo_datasets(tmp / "data", DemoDataConfig(seed=seed), show_progress)
        summary: dict = {}
        reports: dict[str, dict] = {}
        for step, (name, augment) in enumerate(MODELS.items()):
            log.info("[%d/4] training the %s model (--augment %s)", 2 + step, name, augment)
            run_dir = tmp / "runs" / name
            config = TrainConfig(
                arch="tiny", image_size_px=64, epochs=epochs, augment=augment, seed=seed
            )
            train(folders["published_train"], run_dir, config, show_progress=show_progress)
            model_path = tmp / "models" / f"{name}.tflite"
            export_run(run_dir, model_path, QuantSpec.int8(), seed=seed)
            report_dir = tmp / "reports" / name
            reports[name] = evaluate(
                model_path,
                [("published", folders["published_test"]), ("wild", folders["wild_test"])],
                report_dir,
                EvaluateConfig(threads=os.cpu_count() or 1),
                show_progress=show_progress,
            )
            summary[name] = {
                "augment": augment,
                "published": reports[name]["sets"]["published"]["top1"],
                "wild": reports[name]["sets"]["wild"]["top1"],
                "model": str(final / "models" / f"{name}.tflite"),
                "report": str(final / "reports" / name / REPORT_JSON),
            }
        log.info("[4/4] writing the comparison page")
        summary["seconds"] = time.monotonic() - started
        summary["html"] = str(final / "index.html")
        atomic_write_text(tmp / "index.html", _comparison_html(summary, reports, folders, final))
        atomic_write_json(tmp / "summary.json", summary)
    return summary
