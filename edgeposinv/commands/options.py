"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _parse_sets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    parsed: list[tuple[str, Path]] = []
    for spec in values:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise click.BadParameter(
                f"expected NAME=DIR (e.g. --set wild=photos/wild). Got {spec!r}.", ctx, param
            )
        parsed.append((name, Path(folder)))
    return parsed


def parse_named_folders(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, Path]]:
    """Click callback: repeatable ``NAME=DIR`` values → ``[(name, Path)]`` (usage error otherwise)."""
    return _parse_sets(ctx, param, values)


def test_sets_and_report(*, where: str = "") -> Callable[[F], F]:
    """``--set NAME=DIR`` (repeatable, parsed to ``[(name, Path)]``) and ``--report DIR``.

    ``where`` completes the --set help, e.g. "pushed to the phone".
    """
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
            "--set",
            "sets",
            multiple=True,
            required=True,
            metavar="NAME=DIR",
            callback=_parse_sets,
            help=set_help,
        )(f)
        return f

    return decorate
