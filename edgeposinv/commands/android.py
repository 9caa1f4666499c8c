"""`edgeposinv android-apk`: the Android app as a signed debug APK, built without Android Studio."""

from __future__ import annotations

import click


@click.command("android-apk")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The .apk file to write, e.g. demo.apk.",
)
@click.option(
    "--model",
    "model",
    default=None,
    type=click.Path(path_type=str),
    help="MODEL.tflite or a models/NAME folder to bundle as assets/model.tflite (byte for byte). "
    "Default: whatever android_demo/app/src/main/assets holds.",
)
@click.option(
    "--abi",
    "abi",
    default=None,
    metavar="ABI[,ABI...]",
    help="Native code to include: arm64-v8a, armeabi-v7a, x86, x86_64 (default: all four; "
    "arm64-v8a alone covers nearly every current phone and is a quarter of the size).",
)
@click.option(
    "--project",
    default=None,
    type=click.Path(file_okay=False, path_type=str),
    help="The app's folder (default: android_demo/ of this source checkout).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def android_apk(out, model, abi, project, overwrite) -> None:
    """Build the Android app as a signed debug APK: then 'adb install -r OUT' is all a phone needs.

    \b
    Needs a JDK 17 and Debian's aapt, zipalign and apksigner packages; the platform jar, D8 and
    TensorFlow Lite come from Maven Central once and are cached in ~/.cache/edgeposinv/android.
    """
    from edgeposinv.device.apk import build_apk, parse_abis
    from edgeposinv.errors import ConfigError

    try:
        abis = parse_abis(abi)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--abi") from None
    r = build_apk(out, model=model, abis=abis, overwrite=overwrite, project=project)
    what = (
        f"model {r.model} ({r.labels} labels)"
        if r.model
        else "no model given (the app's assets as they are)"
    )
    click.echo(
        f"Wrote {r.path}: {r.size_bytes / 1e6:.1f} MB, {', '.join(r.abis)}, {what}, in {r.seconds:.0f} s"
    )
    click.echo(f"Install it: adb install -r {r.path}")


COMMANDS = [android_apk]
