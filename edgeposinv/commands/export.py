"""`edgeposinv export`."""

from __future__ import annotations

import click


@click.command()
@click.argument("run", type=click.Path(path_type=str))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=str), help="MODEL.tflite to write.")
@click.option("--quantize", default="int8", show_default=True, type=click.Choice(["float32", "int8"]))
@click.option("--calibration", type=click.Path(path_type=str), default=None,
              help="Folder of calibration images for int8 (default: a sample of the training split).")
@click.option("--overwrite", is_flag=True, help="Replace an existing model file.")
def export(run, out, quantize, calibration, overwrite) -> None:
    """Convert a training run to a .tflite that carries its labels.  [extra: train]"""
    from edgeposinv.extras import require_train_extra

    require_train_extra("'edgeposinv export'")
    from edgeposinv.export import QuantSpec, export_run

    spec = QuantSpec.int8(calibration) if quantize == "int8" else QuantSpec.float32()
    result = export_run(run, out, spec, overwrite=overwrite)
    parity = result.parity
    if parity.get("checked"):
        click.echo(f"Parity on {parity['n']} validation images: top-1 agreement {parity['top1_agreement']:.1%}, "
                   f"keras {parity['keras_top1']:.1%} vs tflite {parity['tflite_top1']:.1%}")
    click.echo(f"Wrote {result.model_path} ({result.size_bytes / 1024:.1f} KiB) and {result.sidecar_path}")


COMMANDS = [export]
