"""`edgeposinv train`."""

from __future__ import annotations

import click


@click.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "out", required=True, type=click.Path(path_type=str), help="Run folder to create.")
@click.option("--arch", default="tiny", show_default=True, help="Model architecture from the registry.")
@click.option("--image-size", "image_size", default=64, show_default=True, type=int, help="Square input size in pixels.")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", "batch_size", default=32, show_default=True, type=int)
@click.option("--augment", default="default", show_default=True, type=click.Choice(["none", "default"]),
              help="Position augmentation preset.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the split, initialisation and augmentation.")
@click.option("--val-split", "val_split", default=0.2, show_default=True, type=float, help="Validation fraction.")
@click.option("--overwrite", is_flag=True, help="Replace an existing, non-empty run folder.")
def train(data, out, arch, image_size, epochs, batch_size, augment, seed, val_split, overwrite) -> None:
    """Train a classifier on DATA/<label>/*.jpg and write a run folder.  [extra: train]"""
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv train'")
    from edgeposinv.train import TrainConfig
    from edgeposinv.train import train as run_training

    config = TrainConfig(arch=arch, image_size_px=image_size, epochs=epochs, batch_size=batch_size,
                         augment=augment, seed=seed, val_split=val_split)
    result = run_training(data, out, config, overwrite=overwrite)
    click.echo(f"Run written to {result.run_dir} (validation top-1 {result.val_accuracy:.1%}, "
               f"{result.n_train} train / {result.n_val} val images)")


COMMANDS = [train]
