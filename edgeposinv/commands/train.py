"""`edgeposinv train` and `edgeposinv augment-preview`."""

from __future__ import annotations

import click

from edgeposinv.commands.options import model_options


@click.command()
@click.argument("data", nargs=-1, type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "out", type=click.Path(path_type=str), help="Run folder to create.")
@click.option(
    "--resume",
    "resume",
    type=click.Path(file_okay=False, path_type=str),
    help="Continue a killed run folder from its last completed epoch (other options come from it).",
)
@model_options
@click.option("--minimalistic", is_flag=True, help="MobileNetV3-Small minimalistic variant.")
@click.option(
    "--antialias", is_flag=True, help="Blur before every subsampling (tiny, mobilenet_v2)."
)
@click.option("--epochs", default=20, show_default=True, type=int)
@click.option(
    "--frozen-epochs",
    "frozen_epochs",
    default=None,
    type=int,
    help="Epochs with a pretrained backbone frozen before fine-tuning [default: 30% of --epochs].",
)
@click.option("--batch-size", "batch_size", default=32, show_default=True, type=int)
@click.option(
    "--lr",
    "lr",
    default=1e-3,
    show_default=True,
    type=float,
    help="Peak learning rate (warm-up, then cosine).",
)
@click.option(
    "--optimizer", default="adam", show_default=True, type=click.Choice(["adam", "adamw"])
)
@click.option(
    "--weight-decay",
    "weight_decay",
    default=1e-4,
    show_default=True,
    type=float,
    help="AdamW weight decay.",
)
@click.option("--warmup-epochs", "warmup_epochs", default=1, show_default=True, type=int)
@click.option("--label-smoothing", "label_smoothing", default=0.0, show_default=True, type=float)
@click.option(
    "--class-weight",
    "class_weight",
    default="none",
    show_default=True,
    type=click.Choice(["none", "balanced"]),
)
@click.option(
    "--patience",
    default=0,
    show_default=True,
    type=int,
    help="Early stopping on validation loss (0: off).",
)
@click.option(
    "--augment",
    default="default",
    show_default=True,
    type=click.Choice(["none", "default", "strong"]),
    help="Augmentation preset.",
)
@click.option(
    "--augment-config",
    "augment_config",
    type=click.Path(dir_okay=False, path_type=str),
    help="YAML/JSON file of augmentation settings (overrides --augment).",
)
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning after float training.")
@click.option("--qat-epochs", "qat_epochs", default=2, show_default=True, type=int)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seeds the split, initialisation and augmentation.",
)
@click.option(
    "--val-split",
    "val_split",
    default=0.2,
    show_default=True,
    type=float,
    help="Validation fraction, split by capture session / near-duplicate cluster (0: no "
    "validation; the best epoch follows the training loss).",
)
@click.option(
    "--folder-weights",
    "folder_weights",
    default="equal",
    show_default=True,
    help="Several DATA folders: each folder's share of every batch — equal, sqrt (of its "
    "image count), size, or one weight per folder (e.g. 3,1).",
)
@click.option(
    "--randconv",
    "randconv_copies",
    default=0,
    show_default=True,
    type=click.IntRange(0, 8),
    help="Random-convolution copies of every training image (colours and textures change, "
    "shapes stay; N+1 times the images and the time per epoch). Measured: docs/training.md.",
)
@click.option(
    "--val",
    "val_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=str),
    help="A folder of validation images (DIR/<label>/...), used instead of a split; repeatable.",
)
@click.option(
    "--val-from",
    "val_from",
    type=click.Path(file_okay=False, path_type=str),
    help="Several DATA folders: draw the validation split from this one only (the others all train).",
)
@click.option(
    "--near-duplicates",
    "near_duplicates",
    type=click.Choice(["hash", "features", "hash+features", "off"]),
    default=None,
    help="How images without a session are grouped when splitting: perceptual hash "
    "(default), backbone features (MobileNetV2-0.35 ImageNet), both, or off.",
)
@click.option(
    "--no-near-duplicates",
    "no_near_duplicates",
    is_flag=True,
    help="Same as --near-duplicates off.",
)
@click.option(
    "--distribute",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "none", "mirrored", "multi-worker"]),
    help="tf.distribute strategy: several GPUs (mirrored) or machines (multi-worker, from "
    "TF_CONFIG); auto picks one from what it finds. See docs/distributed.md.",
)
@click.option(
    "--no-tensorboard",
    "no_tensorboard",
    is_flag=True,
    help="Do not write TensorBoard logs into RUN/logs/.",
)
@click.option(
    "--adapt",
    "adapt_dir",
    default=None,
    type=click.Path(path_type=str),
    help="Folder of unlabeled device frames: re-estimate BatchNorm statistics on them (AdaBN).",
)
@click.option(
    "--unknown",
    "unknown",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder of images that are none of the classes (like DATA/_background): trains the model to reject them.",
)
@click.option(
    "--open-set-mode",
    "open_set_mode",
    default="background",
    show_default=True,
    type=click.Choice(["background", "uniform"]),
    help="How unknown images train: an extra _background output, or a uniform target (outlier exposure).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing, non-empty run folder.")
def train(
    data,
    out,
    resume,
    arch,
    alpha,
    minimalistic,
    weights,
    antialias,
    image_size,
    epochs,
    frozen_epochs,
    batch_size,
    lr,
    optimizer,
    weight_decay,
    warmup_epochs,
    label_smoothing,
    class_weight,
    patience,
    augment,
    augment_config,
    qat,
    qat_epochs,
    seed,
    val_split,
    folder_weights,
    randconv_copies,
    val_dirs,
    val_from,
    near_duplicates,
    no_near_duplicates,
    distribute,
    no_tensorboard,
    adapt_dir,
    unknown,
    open_set_mode,
    overwrite,
) -> None:
    """Train a classifier on DATA/<label>/*.jpg and write a run folder.  [extra: train]

    Several DATA folders (e.g. rig photos and a few device captures) train together under
    one label set; --folder-weights sets each folder's share of every batch.
    """
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv train'")
    if resume:
        if data or out:
            raise click.UsageError("--resume RUN takes no DATA or --out: the run folder knows both")
        from edgeposinv.training.train import resume as resume_training

        result = resume_training(
            resume, distribute=distribute, tensorboard=False if no_tensorboard else None
        )
    else:
        if not data or not out:
            raise click.UsageError("give DATA [DATA2 ...] and --out RUN (or --resume RUN)")
        if no_near_duplicates and near_duplicates not in (None, "off"):
            raise click.UsageError(
                f"--no-near-duplicates contradicts --near-duplicates {near_duplicates}; give one"
            )
        from edgeposinv.training.train import TrainConfig
        from edgeposinv.training.train import train as run_training

        config = TrainConfig(
            arch=arch,
            image_size_px=image_size,
            epochs=epochs,
            batch_size=batch_size,
            augment=augment,
            augment_config=augment_config,
            seed=seed,
            val_split=val_split,
            learning_rate=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            warmup_epochs=warmup_epochs,
            label_smoothing=label_smoothing,
            class_weight=class_weight,
            early_stopping_patience=patience,
            weights=weights,
            alpha=alpha,
            minimalistic=minimalistic,
            antialias=antialias,
            frozen_epochs=frozen_epochs,
            qat=qat,
            qat_epochs=qat_epochs,
            folder_weights=folder_weights,
            randconv_copies=randconv_copies,
            val_dirs=tuple(val_dirs),
            val_from=val_from,
            near_duplicates="off" if no_near_duplicates else (near_duplicates or "hash"),
            adapt_dir=adapt_dir,
            unknown_dir=unknown,
            open_set_mode=open_set_mode,
        )
        result = run_training(
            list(data),
            out,
            config,
            overwrite=overwrite,
            distribute=distribute,
            tensorboard=not no_tensorboard,
        )
    if result.worker_index:
        click.echo(
            f"Worker {result.worker_index} of {result.n_workers} finished; the chief wrote "
            f"{result.run_dir} (weights sha256 {result.weights_sha256})"
        )
        return
    if result.weights_sha256:
        click.echo(f"Chief of {result.n_workers} worker(s): weights sha256 {result.weights_sha256}")
    val = (
        f"validation top-1 {result.val_accuracy:.1%}"
        if result.n_val
        else "no validation images: the best epoch is the lowest training loss"
    )
    click.echo(
        f"Run written to {result.run_dir} ({val}, "
        f"{result.n_train} train / {result.n_val} val images, {result.epochs_run} epochs)"
    )


@click.command("augment-preview")
@click.argument("data", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="PNG contact sheet to write.",
)
@click.option(
    "--preset",
    default="default",
    show_default=True,
    type=click.Choice(["none", "default", "strong"]),
)
@click.option(
    "--augment-config",
    "augment_config",
    type=click.Path(dir_okay=False, path_type=str),
    help="YAML/JSON augmentation settings (overrides --preset).",
)
@click.option("--image-size", "image_size", default=128, show_default=True, type=int)
@click.option("--rows", default=4, show_default=True, type=int, help="Source images (one per row).")
@click.option("--cols", default=6, show_default=True, type=int, help="Augmented samples per image.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--overwrite", is_flag=True, help="Replace an existing PNG.")
def augment_preview(
    data, out, preset, augment_config, image_size, rows, cols, seed, overwrite
) -> None:
    """Write a contact sheet of augmented samples of DATA [DATA2 ...] (first column: the
    original; rows alternate between the folders)."""
    from edgeposinv.transforms.preview import preview

    path = preview(
        list(data) if len(data) > 1 else data[0],
        out,
        preset=preset,
        augment_config=augment_config,
        image_size_px=image_size,
        rows=rows,
        cols=cols,
        seed=seed,
        overwrite=overwrite,
    )
    click.echo(f"Contact sheet written to {path}")


COMMANDS = [train, augment_preview]
