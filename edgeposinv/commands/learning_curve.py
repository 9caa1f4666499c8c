"""`edgeposinv learning-curve`: wild accuracy against the number of device captures."""

from __future__ import annotations

import click

from edgeposinv.commands.options import model_options


def _steps(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"expects comma-separated captures per class, e.g. 0,5,15,30. Got {value!r}."
        ) from None


@click.command("learning-curve")
@click.argument("rig_data", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--captures",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Device captures, DIR/<label>/*.jpg (the photos whose number the curve varies).",
)
@click.option(
    "--wild",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Wild test set, DIR/<label>/*.jpg (other photos from the device; never the captures).",
)
@click.option("--out", required=True, type=click.Path(path_type=str), help="Folder to create.")
@click.option(
    "--steps",
    default=None,
    help="Captures per class to try [default: 0,5,15,30,60,... up to what exists, and all].",
)
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--time-budget",
    "time_budget_min",
    default=None,
    type=float,
    help="Minutes; no new step starts when one more would pass it.",
)
@model_options
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", "batch_size", default=32, show_default=True, type=int)
@click.option(
    "--augment",
    default="default",
    show_default=True,
    type=click.Choice(["none", "default", "strong"]),
)
@click.option(
    "--folder-weights",
    "folder_weights",
    default="equal",
    show_default=True,
    help="Share of every batch for the rig and the captures folder (see train --folder-weights).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
def learning_curve(
    rig_data,
    captures,
    wild,
    out,
    steps,
    seeds,
    time_budget_min,
    arch,
    alpha,
    weights,
    image_size,
    epochs,
    batch_size,
    augment,
    folder_weights,
    seed,
    overwrite,
) -> None:
    """Train on RIG_DATA plus growing numbers of captures; measure int8 on --wild.  [extra: train]

    Writes OUT/curve.json and OUT/curve.png and prints what doubling the captures would gain.
    """
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv learning-curve'")
    from edgeposinv.training.learning_curve import LearningCurveConfig, describe
    from edgeposinv.training.learning_curve import learning_curve as run_curve
    from edgeposinv.training.train import TrainConfig

    config = LearningCurveConfig(
        train=TrainConfig(
            arch=arch,
            alpha=alpha,
            weights=weights,
            image_size_px=image_size,
            epochs=epochs,
            batch_size=batch_size,
            augment=augment,
            seed=seed,
            folder_weights=folder_weights,
        ),
        steps=_steps(steps),
        seeds=seeds,
        time_budget_s=None if time_budget_min is None else 60.0 * time_budget_min,
    )
    curve = run_curve(rig_data, captures, wild, out, config, overwrite=overwrite)
    for line in describe(curve):
        click.echo(line)
    click.echo(f"Curve: {out}/curve.json, {out}/curve.png")


COMMANDS = [learning_curve]
