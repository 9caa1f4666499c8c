"""`edgeposinv capture`."""

from __future__ import annotations

import sys

import click


def _parse_resolution(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise click.BadParameter(
            f"expected WIDTHxHEIGHT, e.g. 1280x720; got {text!r}", param_hint="--resolution"
        )
    return int(parts[0]), int(parts[1])


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=str),
    help="Dataset folder (created; images go to OUT/<label>/, lines to OUT/manifest.jsonl).",
)
@click.option(
    "--label", default=None, help="Label of the object being captured (the class folder name)."
)
@click.option(
    "--labels",
    "labels_csv",
    default=None,
    metavar="A,B,C",
    help="Labels to switch between with n/p in the preview (default: just --label).",
)
@click.option(
    "--source",
    default="0",
    show_default=True,
    help="Camera index, stream URL (rtsp://, http://), video file, or folder of photos to import.",
)
@click.option(
    "--no-preview",
    is_flag=True,
    help="No window: timed captures (--every-ms) following a printed guide.",
)
@click.option(
    "--count",
    type=click.IntRange(1),
    default=None,
    help="Stop after keeping N images (default: until the source ends or Ctrl-C).",
)
@click.option(
    "--every-ms",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Milliseconds between timed captures (headless, burst) and between sampled video frames; 0 = every frame.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(1),
    default=None,
    help="Consider at most N frames (e.g. from a video).",
)
@click.option("--grid", default="3x3", show_default=True, help="Guide grid ROWSxCOLS.")
@click.option(
    "--angles",
    default="upright,tilted left,tilted right,upside down",
    show_default=True,
    help="Angle prompts the guide cycles through, comma-separated.",
)
@click.option(
    "--per-cell",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Kept images per guide cell and angle before the guide moves on.",
)
@click.option(
    "--min-sharpness",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Reject frames whose variance of the Laplacian is below this (0 = off).",
)
@click.option(
    "--min-change",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.01,
    show_default=True,
    help="Reject frames whose mean difference from the last kept frame of the label is below this fraction (0 = off).",
)
@click.option(
    "--format",
    "image_format",
    type=click.Choice(["jpg", "png"]),
    default="jpg",
    show_default=True,
    help="Image format (a folder import copies the original files as they are).",
)
@click.option(
    "--resolution",
    default=None,
    metavar="WxH",
    help="Resolution to request from a camera (the one obtained is recorded).",
)
def capture(
    out_dir,
    label,
    labels_csv,
    source,
    no_preview,
    count,
    every_ms,
    max_frames,
    grid,
    angles,
    per_cell,
    min_sharpness,
    min_change,
    image_format,
    resolution,
) -> None:
    """Capture a dataset for your device: guided, quality-gated, crash-safe.

    \b
    Preview keys: space/c capture, b burst on/off, n/p next/previous label, u undo, q/Esc quit.
    Examples:
      edgeposinv capture --out data --labels mug,pen           # webcam 0, preview window
      edgeposinv capture --out data --label mug --no-preview --count 36 --every-ms 1500
      edgeposinv capture --out data --label mug --source clip.mp4 --every-ms 250
      edgeposinv capture --out data --label mug --source ~/Pictures/mugs   # import photos
    """
    from edgeposinv.capture import (
        CaptureConfig,
        GuideConfig,
        QualityConfig,
        parse_grid,
        run_capture,
    )

    labels = [s.strip() for s in labels_csv.split(",")] if labels_csv else []
    if label and label not in labels:
        labels.insert(0, label)
    elif label:
        labels.insert(0, labels.pop(labels.index(label)))
    if not labels:
        raise click.UsageError(
            "Missing option '--label' (or '--labels a,b,c'): the class being captured."
        )
    rows, cols = parse_grid(grid)
    config = CaptureConfig(
        out_dir=out_dir,
        labels=tuple(labels),
        source=source,
        preview=not no_preview,
        count=count,
        every_ms=every_ms,
        max_frames=max_frames,
        guide=GuideConfig(rows, cols, tuple(a.strip() for a in angles.split(",")), per_cell),
        quality=QualityConfig(min_sharpness, min_change),
        image_format=image_format,
        resolution=_parse_resolution(resolution),
    )
    summary = run_capture(config, notify=click.echo)
    for line in summary.lines():
        click.echo(line)
    if summary.signal is not None:
        sys.exit(128 + summary.signal)


COMMANDS = [capture]
