"""The ``edgeposinv`` command line. Thin: parse options, call one library function, print.

Heavy imports (TensorFlow, OpenCV, LiteRT) happen inside the commands, so ``--help`` is
instant and never imports TensorFlow.
"""

from __future__ import annotations

import logging
import sys

import click

from edgeposinv import __version__

#: Modules under edgeposinv.commands, each defining click commands in ``COMMANDS``.
COMMAND_MODULES = (
    "train",
    "export",
    "evaluate",
    "demo",
    "capture",
    "dataset",
    "device",
    "compare",
    "android",
)


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        from edgeposinv.errors import EdgeposinvError

        try:
            return super().invoke(ctx)
        except EdgeposinvError as e:
            raise click.ClickException(str(e)) from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s" if not verbose else "%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeposinv")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """Build position-robust image classifiers for your device and measure them in the wild.

    \b
    Journey: capture → train → export → evaluate (see each command's --help).
    Training and export need the 'train' extra: pip install 'edgeposinv[train]'.
    """
    _setup_logging(verbose)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edgeposinv.commands.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="edgeposinv")
