"""`edgeposinv evaluate`."""

from __future__ import annotations

import click

from edgeposinv.commands.options import test_sets_and_report


def _grid(value: str) -> tuple[int, int]:
    rows, sep, cols = value.lower().partition("x")
    if not sep or not rows.isdigit() or not cols.isdigit():
        raise click.BadParameter(
            f"expected ROWSxCOLS such as 5x5. Got {value!r}.", param_hint="--grid"
        )
    return int(rows), int(cols)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@test_sets_and_report()
@click.option(
    "--reference", default=None, help="Set the others are compared with (default: the first)."
)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Worker processes (one interpreter each); also the interpreter threads for latency.",
)
@click.option("--top-k", "top_k", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--labels",
    "labels_file",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Labels file for a model that carries none (one per line).",
)
@click.option(
    "--input-mean",
    type=float,
    default=None,
    help="Third-party float model: feed (pixel - mean) / std (e.g. 127.5 and 127.5 for [-1, 1]).",
)
@click.option("--input-std", type=float, default=None, help="See --input-mean.")
@click.option(
    "--sweep-position",
    "position_set",
    default=None,
    metavar="SET",
    help="Place each image of SET at every cell of a grid: accuracy heatmap over the frame.",
)
@click.option("--grid", default="5x5", show_default=True, help="Position sweep grid, ROWSxCOLS.")
@click.option(
    "--object-scale",
    default=0.5,
    show_default=True,
    type=float,
    help="Position sweep: the image's size as a fraction of the frame.",
)
@click.option(
    "--background",
    default="mean",
    show_default=True,
    type=click.Choice(["mean", "blur"]),
    help="Position sweep background: the image's mean colour or a blurred copy of it.",
)
@click.option(
    "--backgrounds",
    "backgrounds_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=str),
    help="Position sweep: a folder of background images instead (cycled).",
)
@click.option(
    "--shift-consistency",
    "shift_set",
    default=None,
    metavar="SET",
    help="Fraction of pairs of random shifts of each image of SET that get the same top-1.",
)
@click.option(
    "--max-shift",
    default=0.125,
    show_default=True,
    type=float,
    help="Shift consistency: shifts drawn in ± this fraction of the side.",
)
@click.option(
    "--sweep-rotation",
    "rotation_set",
    default=None,
    metavar="SET",
    help="Top-1 of SET at angles from -180 to 180 degrees.",
)
@click.option(
    "--rotation-step",
    default=15.0,
    show_default=True,
    type=float,
    help="Rotation sweep step (degrees).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seeds the shift-consistency shifts."
)
@click.option(
    "--gallery",
    "gallery_max",
    default=48,
    show_default=True,
    type=click.IntRange(0, 10000),
    help="Most misclassified thumbnails shown in report.html.",
)
@click.option(
    "--diagnose",
    default="auto",
    show_default=True,
    metavar="SET|auto|none",
    help="Explain the gap of SET to the reference (geometry, where the model looks, a verdict); "
    "auto: the set named 'wild', if any.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
def evaluate(
    model,
    sets,
    unknown_sets,
    report,
    reference,
    threads,
    top_k,
    labels_file,
    input_mean,
    input_std,
    position_set,
    grid,
    object_scale,
    background,
    backgrounds_dir,
    shift_set,
    max_shift,
    rotation_set,
    rotation_step,
    seed,
    gallery_max,
    diagnose,
    overwrite,
) -> None:
    """Run MODEL with LiteRT on named test sets; write report.json and report.html.

    Needs no TensorFlow: the base install (pip install edgeposinv) is enough.
    """
    from edgeposinv.evaluation.evaluate import REPORT_HTML, EvaluateConfig, SweepRequest
    from edgeposinv.evaluation.evaluate import evaluate as run_evaluation
    from edgeposinv.evaluation.sweeps import (
        PositionSweepConfig,
        RotationSweepConfig,
        ShiftConsistencyConfig,
    )

    rows, cols = _grid(grid)
    sweeps = SweepRequest(
        position_set=position_set,
        position=PositionSweepConfig(
            rows, cols, object_scale, "folder" if backgrounds_dir else background
        ),
        backgrounds_dir=backgrounds_dir,
        rotation_set=rotation_set,
        rotation=RotationSweepConfig(step_deg=rotation_step),
        shift_set=shift_set,
        shift=ShiftConsistencyConfig(max_shift_frac=max_shift, seed=seed),
    )
    parsed = sets
    names = [name for name, _ in parsed]
    for flag, chosen in (
        ("--reference", reference),
        ("--sweep-position", position_set),
        ("--sweep-rotation", rotation_set),
        ("--shift-consistency", shift_set),
        ("--diagnose", None if diagnose in ("auto", "none") else diagnose),
    ):
        if chosen is not None and chosen not in names:
            raise click.BadParameter(
                f"{chosen!r} is not one of the sets: {', '.join(names)}.", param_hint=flag
            )
    result = run_evaluation(
        model,
        parsed,
        report,
        EvaluateConfig(
            threads=threads,
            top_k=top_k,
            reference=reference,
            labels_file=labels_file,
            sweeps=sweeps,
            input_mean=input_mean,
            input_std=input_std,
            gallery_max=gallery_max,
            diagnose=None if diagnose == "none" else diagnose,
        ),
        overwrite=overwrite,
        unknown_sets=unknown_sets,
    )
    for name, s in result["sets"].items():
        lo, hi = s["top1_ci95"]
        click.echo(f"{name:>12}: top-1 {s['top1']:.1%} (95% CI {lo:.1%}–{hi:.1%}, n={s['n']})")
    for name, g in result["gaps"].items():
        lo, hi = g["difference_ci95"]
        verdict = (
            "significant" if g["significant"] else "not significant: could be noise at this size"
        )
        click.echo(
            f"{'gap':>12}: {name} − {g['reference']} {100 * g['difference']:+.1f} pts "
            f"(95% CI {100 * lo:+.1f} … {100 * hi:+.1f}; {verdict})"
        )
    if "position_sweep" in result:
        p = result["position_sweep"]
        click.echo(
            f"{'position':>12}: centre {p['centre_accuracy']:.1%}, worst cell {p['worst_accuracy']:.1%}"
        )
    if "shift_consistency" in result:
        click.echo(
            f"{'consistency':>12}: {result['shift_consistency']['consistency']:.1%} "
            f"(shifts ±{max_shift:g} of the side)"
        )
    if "rotation_sweep" in result:
        r = result["rotation_sweep"]
        click.echo(
            f"{'rotation':>12}: upright {r['upright_accuracy']:.1%}, worst {r['worst_accuracy']:.1%}"
        )
    if "diagnosis" in result:
        click.echo(f"{'diagnosis':>12}: {result['diagnosis']['verdict']}")
    if "open_set" in result:
        o = result["open_set"]
        for name, u in o["unknown_sets"].items():
            acc = u["accepted"]
            click.echo(
                f"{name:>12}: unknown; "
                + (
                    f"{acc['share']:.1%} accepted at the threshold (95% CI {acc['ci95'][0]:.1%}–{acc['ci95'][1]:.1%})"
                    if acc
                    else "the model carries no threshold"
                )
                + f", {u['share_score_ge_0.9']:.0%} with score >= 0.9"
            )
        for s in o["separation"].values():
            lo, hi = s["auroc_ci95"]
            click.echo(
                f"{'AUROC':>12}: {s['known_set']} vs {s['unknown_set']} {s['auroc']:.3f} "
                f"(95% CI {lo:.3f}–{hi:.3f}), FPR at 95% TPR {s['fpr_at_95_tpr']:.1%}"
            )
    click.echo(f"Report: {report}/{REPORT_HTML}")


COMMANDS = [evaluate]
