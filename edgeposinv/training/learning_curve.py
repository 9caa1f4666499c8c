""" "How many more photos?": wild accuracy against the number of device captures per class.

For each step *k* (captures per class: 0, 5, 15, ... up to what exists) a model is trained
on the rig data plus *k* captures per class (a second dataset folder, its batch share set
by ``TrainConfig.folder_weights``), exported to int8 and run with LiteRT on the
wild set. ``OUT/curve.json`` and ``OUT/curve.png`` record the points with Wilson 95%
intervals and a projection of what doubling the captures would gain.

Projection: a weighted least-squares fit ``top1 = a + b * log2(k)`` over the steps with
k > 0 (weights: the inverse binomial variance of each point), so ``b`` is the gain of
one doubling; its interval is ``b ± 1.96 SE(b)`` from the binomial noise of the points.
Learning curves bend (they flatten as they rise), so the log-linear fit is an estimate
for the next doubling, not for far beyond the data.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgeposinv.errors import ConfigError, DatasetError
from edgeposinv.training.train import TrainConfig

log = logging.getLogger(__name__)

CURVE_JSON = "curve.json"
CURVE_PNG = "curve.png"
DEFAULT_STEPS = (0, 5, 15, 30, 60, 120, 240, 480)


@dataclass(frozen=True)
class LearningCurveConfig:
    """``steps``: captures per class (``None``: 0, 5, 15, 30, 60, ... up to what exists, plus
    all of them). ``seeds``: models per step. ``time_budget_s``: no new step is started when
    the time so far plus one more step (as long as the slowest so far) would pass it."""

    train: TrainConfig = field(default_factory=TrainConfig)
    steps: tuple[int, ...] | None = None
    seeds: int = 1
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        if self.steps is not None and (not self.steps or min(self.steps) < 0):
            raise ConfigError(f"--steps must be captures per class, each >= 0. Got {self.steps}.")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1. Got {self.seeds}.")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ConfigError(f"--time-budget must be positive. Got {self.time_budget_s}.")

    def resolved_steps(self, available: int) -> list[int]:
        wanted = self.steps if self.steps is not None else DEFAULT_STEPS
        steps = sorted({min(k, available) for k in wanted})
        if self.steps is None and available not in steps:
            steps.append(available)
        return steps


def _class_files(root: Path) -> dict[str, list[Path]]:
    from edgeposinv.data.dataset import scan_dataset

    index = scan_dataset(root, min_classes=1)
    out: dict[str, list[Path]] = {lab: [] for lab in index.labels}
    for rec in index.records:
        out[rec.label].append(rec.path)
    return out


def captures_folder(dest: Path, captures: dict[str, list[Path]]) -> Path:
    """The first captures of each class as symlinks in one dataset folder (trained as a
    second folder beside the rig data, so its batch share follows ``folder_weights``)."""
    for label, paths in sorted(captures.items()):
        if not paths:
            continue
        (dest / label).mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(paths):
            os.symlink(path.resolve(), dest / label / f"{i:05d}_{path.name}")
    return dest


def wild_accuracy(model_path: Path, wild: dict[str, list[Path]]) -> tuple[int, int]:
    """(correct, n) of an exported model on the wild set (LiteRT, the model's input contract)."""
    from edgeposinv.data.images import ImageDecodeError, read_rgb
    from edgeposinv.tflite.runtime import TFLiteClassifier

    clf = TFLiteClassifier(model_path)
    correct = n = 0
    for label, paths in wild.items():
        target = clf.labels.index(label)
        for path in paths:
            try:
                pixels = clf.prepare(read_rgb(path))
            except ImageDecodeError:
                continue
            correct += int(clf.predict_proba(pixels).argmax() == target)
            n += 1
    return correct, n


def fit_doubling(points: list[dict]) -> dict | None:
    """Weighted log-linear fit over points with k > 0: the gain of one doubling with its interval."""
    pts = [p for p in points if p["captures_per_class"] > 0]
    if len({p["captures_per_class"] for p in pts}) < 2:
        return None
    x = np.array([math.log2(p["captures_per_class"]) for p in pts])
    y = np.array([p["top1"] for p in pts])
    n = np.array([p["n"] for p in pts], float)
    var = np.maximum(y * (1 - y), 0.25 / n) / n  # no zero variance at 0% or 100%
    w = 1.0 / var
    design = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(design.T @ (design * w[:, None]))
    a, b = cov @ design.T @ (w * y)
    se = float(math.sqrt(cov[1, 1]))
    k_max = max(p["captures_per_class"] for p in pts)
    at_max = float(a + b * math.log2(k_max))
    return {
        "method": "weighted least squares, top1 = a + b * log2(captures per class), k > 0; "
        "weights 1/binomial variance; interval b ± 1.96 SE(b)",
        "intercept": float(a),
        "gain_per_doubling": float(b),
        "gain_per_doubling_ci95": [float(b - 1.96 * se), float(b + 1.96 * se)],
        "from_captures_per_class": k_max,
        "to_captures_per_class": 2 * k_max,
        "fitted_top1_now": at_max,
        "projected_top1": float(min(1.0, at_max + b)),
    }


def curve_figure(curve: dict):
    from edgeposinv.util.plots import pyplot

    plt = pyplot()

    pts = curve["points"]
    ks = np.array([p["captures_per_class"] for p in pts], float)
    xs = np.where(ks > 0, ks, 0.5)  # k = 0 drawn at 0.5 on the log axis
    ys = np.array([p["top1"] for p in pts])
    lo = ys - np.array([p["top1_ci95"][0] for p in pts])
    hi = np.array([p["top1_ci95"][1] for p in pts]) - ys
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label="wild top-1 (95% CI)")
    fit = curve.get("projection")
    if fit:
        grid = np.geomspace(max(1.0, xs[xs >= 1].min()), fit["to_captures_per_class"], 50)
        ax.plot(
            grid,
            fit["intercept"] + fit["gain_per_doubling"] * np.log2(grid),
            "--",
            color="grey",
            label="log-linear fit",
        )
        ax.errorbar(
            [fit["to_captures_per_class"]],
            [fit["projected_top1"]],
            yerr=[
                [fit["gain_per_doubling"] - fit["gain_per_doubling_ci95"][0]],
                [fit["gain_per_doubling_ci95"][1] - fit["gain_per_doubling"]],
            ],
            fmt="s",
            mfc="white",
            capsize=3,
            color="grey",
            label="projected (doubling)",
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(xs) + ([fit["to_captures_per_class"]] if fit else []))
    ax.set_xticklabels(
        [str(int(k)) for k in ks] + ([str(fit["to_captures_per_class"])] if fit else [])
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("device captures per class")
    ax.set_ylabel("wild top-1 (int8)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def learning_curve(
    rig_dir: str | os.PathLike,
    captures_dir: str | os.PathLike,
    wild_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: LearningCurveConfig = LearningCurveConfig(),
    overwrite: bool = False,
    show_progress: bool = True,
) -> dict:
    """Train, export (int8) and measure one model per step and seed; write ``OUT/curve.json``/``.png``."""
    from edgeposinv.evaluation.metrics import wilson_interval
    from edgeposinv.export.export import ExportOptions, QuantSpec, export_run
    from edgeposinv.training.train import config_dict, train
    from edgeposinv.util.files import atomic_dir, atomic_write_json, check_can_write
    from edgeposinv.util.progress import progress

    out_dir = Path(out_dir)
    check_can_write(out_dir, overwrite)
    rig, captures, wild = (_class_files(Path(d)) for d in (rig_dir, captures_dir, wild_dir))
    for name, folder, files in (("captures", captures_dir, captures), ("wild", wild_dir, wild)):
        extra = sorted(set(files) - set(rig))
        if extra:
            raise DatasetError(
                f"The {name} folder {folder} has classes the rig data {rig_dir} lacks: {', '.join(extra)}; "
                "every class needs rig images (rename or remove the folders)"
            )
    available = min(len(captures.get(lab, [])) for lab in rig)
    if available == 0:
        missing = [lab for lab in rig if not captures.get(lab)]
        raise DatasetError(
            f"The captures folder {captures_dir} has no images of {', '.join(missing)}; "
            "a learning curve needs captures of every class"
        )
    steps = config.resolved_steps(available)
    rng = np.random.default_rng(config.train.seed)
    order = {lab: [captures[lab][i] for i in rng.permutation(len(captures[lab]))] for lab in rig}
    points: list[dict] = []
    started = time.monotonic()
    slowest = 0.0
    stopped = None
    jobs = [(k, s) for k in steps for s in range(config.seeds)]
    with tempfile.TemporaryDirectory(prefix="edgeposinv-curve-") as tmp:
        for k, seed_offset in progress(
            jobs, desc="learning curve", unit="model", disable=not show_progress
        ):
            elapsed = time.monotonic() - started
            if (
                config.time_budget_s is not None
                and points
                and elapsed + slowest > config.time_budget_s
            ):
                stopped = f"time budget {config.time_budget_s:.0f} s: stopped before {k} captures per class (seed {seed_offset})"
                log.warning("%s", stopped)
                break
            t0 = time.monotonic()
            work = Path(tmp) / f"k{k}_s{seed_offset}"
            data: list[Path] = [Path(rig_dir)]
            if k:
                data.append(
                    captures_folder(work / "captures", {lab: order[lab][:k] for lab in rig})
                )
            settings = {**asdict(config.train), "seed": config.train.seed + seed_offset}
            if k and not settings["val_dirs"] and settings["val_split"] > 0:
                # the rig validates: all k captures per class train (the curve's x axis)
                settings["val_from"] = settings["val_from"] or str(rig_dir)
            tc = TrainConfig.from_dict(settings)
            train(data, work / "run", tc, show_progress=False)
            split = json.loads((work / "run" / "split.json").read_text("utf-8"))
            trained_captures = sum(f == 1 for f in split.get("train_folder", ()))
            model = work / "model.tflite"
            export = export_run(
                work / "run",
                model,
                QuantSpec.int8(),
                options=ExportOptions(
                    force=True, compare_float32=False, latency_runs=1, latency_warmup=0
                ),
            )
            correct, n = wild_accuracy(model, wild)
            seconds = time.monotonic() - t0
            slowest = max(slowest, seconds)
            points.append(
                {
                    "captures_per_class": k,
                    "seed": tc.seed,
                    "n": n,
                    "correct": correct,
                    "top1": correct / n if n else 0.0,
                    "top1_ci95": list(wilson_interval(correct, n)),
                    "val_top1_int8": export.parity.get("tflite_top1"),
                    "captures_trained": trained_captures,
                    "seconds": seconds,
                }
            )
    if not points:
        raise DatasetError("No step finished; raise --time-budget")
    merged = _merge_seeds(points, wilson_interval)
    curve = {
        "rig": str(Path(rig_dir).resolve()),
        "captures": str(Path(captures_dir).resolve()),
        "wild": str(Path(wild_dir).resolve()),
        "captures_available_per_class": available,
        "train": config_dict(config.train),
        "seeds": config.seeds,
        "time_budget_s": config.time_budget_s,
        "stopped": stopped,
        "seconds": time.monotonic() - started,
        "runs": points,
        "points": merged,
        "projection": fit_doubling(merged),
    }
    from edgeposinv.util.plots import pyplot

    with atomic_dir(out_dir, overwrite=overwrite) as tmp_out:
        atomic_write_json(tmp_out / CURVE_JSON, curve)
        fig = curve_figure(curve)
        fig.savefig(tmp_out / CURVE_PNG, dpi=110, bbox_inches="tight")
        pyplot().close(fig)
    return curve


def _merge_seeds(points: list[dict], wilson_interval) -> list[dict]:
    """One point per step: the seeds' counts pooled (each seed is a different model)."""
    by_k: dict[int, list[dict]] = {}
    for p in points:
        by_k.setdefault(p["captures_per_class"], []).append(p)
    out = []
    for k, ps in sorted(by_k.items()):
        correct, n = sum(p["correct"] for p in ps), sum(p["n"] for p in ps)
        out.append(
            {
                "captures_per_class": k,
                "seeds": len(ps),
                "n": n,
                "correct": correct,
                "top1": correct / n if n else 0.0,
                "top1_ci95": list(wilson_interval(correct, n)),
            }
        )
    return out


def describe(curve: dict) -> list[str]:
    """Lines for the terminal: each point, then the projection."""
    lines = [
        f"{p['captures_per_class']:>5} per class: wild top-1 {p['top1']:.1%} "
        f"(95% CI {p['top1_ci95'][0]:.1%}–{p['top1_ci95'][1]:.1%}, n={p['n']})"
        for p in curve["points"]
    ]
    fit = curve["projection"]
    if fit:
        lo, hi = fit["gain_per_doubling_ci95"]
        lines.append(
            f"Doubling the captures ({fit['from_captures_per_class']} → {fit['to_captures_per_class']} per class) "
            f"is projected to gain {100 * fit['gain_per_doubling']:+.1f} points (95% CI {100 * lo:+.1f} … {100 * hi:+.1f}), "
            f"to about {fit['projected_top1']:.0%} (log-linear fit over the steps with captures)."
        )
    else:
        lines.append("No projection: it needs at least two steps with captures.")
    if curve["stopped"]:
        lines.append(f"Stopped early: {curve['stopped']}.")
    return lines


def to_json(curve: dict) -> str:
    return json.dumps(curve, indent=2)
