"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_named_folders(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, Path]]:
    """Click callback: repeatable ``NAME=DIR`` values → ``[(name, Path)]`` (usage error otherwise)."""
    parsed: list[tuple[str, Path]] = []
    for spec in values:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            flag = param.opts[0] if param.opts else "--set"
            raise click.BadParameter(
                f"expected NAME=DIR (e.g. {flag} wild=photos/wild). Got {spec!r}.", ctx, param
            )
        parsed.append((name, Path(folder)))
    return parsed


ARCHS = ["tiny", "mobilenet_v2", "mobilenet_v3_small"]


def model_options(f: F) -> F:
    """``--arch``, ``--alpha``, ``--weights`` and ``--image-size``: which network trains, from
    which weights, at which input size (``train`` and ``learning-curve``)."""
    f = click.option(
        "--image-size",
        "image_size",
        default=0,
        type=int,
        help="Square input size in pixels (MobileNets: 96..224) "
        "[default: 64 for tiny, 160 for MobileNets].",
    )(f)
    f = click.option(
        "--weights",
        default="default",
        help="imagenet | none | PATH [default: imagenet for MobileNets, none for tiny].",
    )(f)
    f = click.option(
        "--alpha", default=0.35, show_default=True, type=float, help="MobileNet width multiplier."
    )(f)
    return click.option(
        "--arch",
        default="tiny",
        show_default=True,
        type=click.Choice(ARCHS),
        help="Model architecture.",
    )(f)


def test_sets_and_report(*, where: str = "") -> Callable[[F], F]:
    """``--set NAME=DIR`` and ``--unknown-set NAME=DIR`` (repeatable, parsed to
    ``[(name, Path)]``) and ``--report DIR``.

    ``where`` completes the --set/--unknown-set help, e.g. "pushed to the phone".
    """
    suffix = f", {where}" if where else ""
    set_help = "A named test set (repeatable), e.g. --set published=test --set wild=phone"
    set_help += f"; {where}." if where else "."

    def decorate(f: F) -> F:
        f = click.option(
            "--report",
            "report",
            required=True,
            type=click.Path(file_okay=False, path_type=str),
            help="Report folder to create (report.json, report.html, predictions.csv).",
        )(f)
        f = click.option(
            "--unknown-set",
            "unknown_sets",
            multiple=True,
            metavar="NAME=DIR",
            callback=parse_named_folders,
            help="A named folder of images that are none of the classes (repeatable)"
            + suffix
            + ": AUROC, FPR at 95% TPR and the share accepted at the model's threshold.",
        )(f)
        f = click.option(
            "--set",
            "sets",
            multiple=True,
            required=True,
            metavar="NAME=DIR",
            callback=parse_named_folders,
            help=set_help,
        )(f)
        return f

    return decorate
