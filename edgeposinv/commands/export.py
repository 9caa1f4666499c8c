"""`edgeposinv export`, `edgeposinv inspect`, `edgeposinv calibration build`."""

from __future__ import annotations

import click

QUANT_CHOICES = ["float32", "float16", "dynamic", "int8", "int8-qat"]


@click.command()
@click.argument("run", type=click.Path(path_type=str))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=str),
    help="MODEL.tflite to write (plus MODEL.json), or a folder models/NAME "
    "(model.tflite, MODEL.json, MODEL_CARD.md).",
)
@click.option(
    "--quantize",
    default="int8",
    show_default=True,
    type=click.Choice(QUANT_CHOICES),
    help="int8-qat needs a run trained with --qat.",
)
@click.option(
    "--io",
    "io",
    type=click.Choice(["uint8", "int8", "float32"]),
    default=None,
    help="Input/output tensor type of int8 modes [default: uint8].",
)
@click.option(
    "--calibration",
    type=click.Path(path_type=str),
    default=None,
    help="Calibration folder for int8 modes, e.g. calibration/NAME (default: a stratified "
    "sample of the run's training split).",
)
@click.option(
    "--calibration-size",
    type=int,
    default=None,
    help="Images sampled from the training split when no --calibration is given [default: 200].",
)
@click.option(
    "--max-drop",
    type=float,
    default=2.0,
    show_default=True,
    help="Refuse the model if its validation accuracy drops more than this many points "
    "(and by two images or more: one image is the check's resolution).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Keep a model that fails the parity gate (figures go into MODEL.json).",
)
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="Interpreter threads for the latency figure.",
)
@click.option(
    "--android-assets",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Also copy the model where the Android demo picks it up "
    "(android_demo/app/src/main/assets).",
)
@click.option(
    "--report-json",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="report.json of 'edgeposinv evaluate': per-set accuracy for MODEL_CARD.md.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the calibration sample."
)
@click.option(
    "--fingerprints",
    is_flag=True,
    help="Embed the training images' perceptual hashes (8 bytes each) so 'evaluate' can "
    "warn when a test set overlaps the training data.",
)
@click.option(
    "--keep-correct",
    "keep_correct",
    type=float,
    default=0.95,
    show_default=True,
    help="Open-set threshold target: keep this share of correctly classified validation images.",
)
@click.option(
    "--max-unknown-accepted",
    "max_unknown_accepted",
    type=float,
    default=0.05,
    show_default=True,
    help="With at least 1/this many unknown validation images: lower the threshold as far as this "
    "share of them stays accepted (0: off).",
)
@click.option(
    "--unknown-score",
    "unknown_score",
    type=click.Choice(["softmax", "features"]),
    default="softmax",
    show_default=True,
    help="What rejects 'none of the classes': the class probabilities as trained, or "
    "'features': an added _background output from the distance to the training images' "
    "features (works without any unknown images).",
)
@click.option(
    "--no-temperature",
    "no_temperature",
    is_flag=True,
    help="Do not fit and bake temperature scaling into the model.",
)
@click.option(
    "--no-threshold",
    "no_threshold",
    is_flag=True,
    help="Write no open-set threshold (and fit no temperature): a plain closed-set model.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def export(
    run,
    out,
    quantize,
    io,
    calibration,
    calibration_size,
    max_drop,
    force,
    threads,
    android_assets,
    report_json,
    seed,
    fingerprints,
    keep_correct,
    max_unknown_accepted,
    unknown_score,
    no_temperature,
    no_threshold,
    overwrite,
) -> None:
    """Convert a training run to a checked .tflite that carries its labels.  [extra: train]"""
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv export'")
    from pathlib import Path

    from edgeposinv.export.export import ExportOptions, export_run
    from edgeposinv.export.open_set import OpenSetOptions
    from edgeposinv.export.quantize import QuantSpec

    spec = QuantSpec.from_options(quantize, calibration, io, calibration_size)
    options = ExportOptions(
        max_drop_points=max_drop,
        force=force,
        threads=threads,
        android_assets=Path(android_assets) if android_assets else None,
        report_json=Path(report_json) if report_json else None,
        fingerprints=fingerprints,
        open_set=OpenSetOptions(
            enabled=not no_threshold,
            temperature=not no_temperature,
            keep_correct=keep_correct,
            max_unknown_accepted=max_unknown_accepted,
            unknown_score=unknown_score,
        ),
    )
    result = export_run(run, out, spec, overwrite=overwrite, seed=seed, options=options)
    s = result.sidecar
    parity = result.parity
    if parity.get("checked"):
        click.echo(
            f"Parity on {parity['n']} {'validation' if parity.get('split', 'val') == 'val' else 'training-sample'} images: top-1 agreement {parity['top1_agreement']:.1%}, "
            f"keras {parity['keras_top1']:.1%} vs tflite {parity['tflite_top1']:.1%}, "
            f"mean |dp| {parity['mean_abs_prob_diff']:.4f}"
            + ("  [GATE FAILED, kept with --force]" if s["gate"]["forced"] else "")
        )
    ratio = s["size"].get("ratio_to_float32")
    lat = s["latency"]
    click.echo(
        f"Size {result.size_bytes / 1024:.1f} KiB"
        + (f" ({ratio:.2f}x float32)" if ratio else "")
        + f"; host latency {lat['median_ms']:.2f} ms median of {lat['runs']} runs, "
        f"{lat['threads']} thread(s), {lat['machine']['cpu']}"
    )
    open_set = s.get("open_set")
    if open_set:
        e = open_set["expected"]
        click.echo(
            f"Open set: threshold {open_set['score_threshold']:.3f} (temperature {open_set['temperature']:.2f}); "
            f"on validation: {e['known_rejected']:.1%} of known images rejected"
            + (
                f", {e['unknown_accepted']:.1%} of {e['n_unknown']} unknown images accepted"
                if "unknown_accepted" in e
                else ""
            )
        )
    click.echo(f"Wrote {result.model_path} and {result.sidecar_path}")
    if android_assets:
        click.echo(f"Copied the model to {android_assets}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def inspect(model, as_json) -> None:
    """Print what a .tflite carries: labels, input contract, tensors, quantization, ops, size."""
    import json

    from edgeposinv.tflite.inspect import format_report, inspect_model

    facts = inspect_model(model)
    click.echo(json.dumps(facts, indent=2) if as_json else format_report(facts))


@click.group()
def calibration() -> None:
    """Calibration sets for int8 export (calibration/NAME)."""


@calibration.command("build")
@click.argument("data", type=click.Path(path_type=str))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=str),
    help="Folder to write, e.g. calibration/NAME.",
)
@click.option("--per-class", type=int, default=20, show_default=True, help="Images per class.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing folder.")
def calibration_build(data, out, per_class, seed, overwrite) -> None:
    """Pick a stratified sample of DATA (over classes, sessions, guide cells) for calibration."""
    from edgeposinv.data.calibration import CalibrationBuildConfig, build_calibration_set

    result = build_calibration_set(
        data, out, CalibrationBuildConfig(per_class=per_class, seed=seed), overwrite
    )
    click.echo(
        f"Wrote {result.n_images} images to {result.root} "
        f"({', '.join(f'{k}: {v}' for k, v in result.per_label.items())})"
        + (f"; skipped {len(result.skipped)} unreadable file(s)" if result.skipped else "")
    )


COMMANDS = [export, inspect, calibration]
