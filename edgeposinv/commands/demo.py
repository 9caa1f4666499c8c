"""`edgeposinv demo`."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--out",
    "out",
    default="edgeposinv-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=str),
)
@click.option(
    "--epochs", default=40, show_default=True, type=int, help="Epochs for each of the two models."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--overwrite", is_flag=True, help="Replace an existing demo folder.")
def demo(out, epochs, seed, overwrite) -> None:
    """The whole journey on scikit-learn's handwritten digits: published vs wild.  [extra: train]

    Trains one model without and one with position augmentation, exports both to int8,
    evaluates both on a centred ("published") and an off-centre, rotated, cluttered
    ("wild") test set, and writes one HTML page comparing them.
    """
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv demo'")
    from edgeposinv.demo import run_demo

    summary = run_demo(out, epochs=epochs, seed=seed, overwrite=overwrite)
    for name in ("baseline", "robust"):
        s = summary[name]
        click.echo(
            f"{name:>9} ({s['augment']:>7} augmentation): published {s['published']:.1%}, wild {s['wild']:.1%}"
        )
    click.echo(f"Report: {summary['html']}")


COMMANDS = [demo]
