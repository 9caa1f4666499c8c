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
    "learning_curve",
)


class _Group(click.Group):
    """Turns library errors into one line on stderr: exit 1, or 2 for a bad parameter.

    A :class:`~edgeposinv.errors.ParameterError` about a parameter that a flag of the
    running command sets becomes click's usage error naming that flag (exit 2); other
    library errors, and OS errors that escaped the library, print one line and exit 1
    (an interrupted command 128 + the signal number).
    """

    def resolve_command(self, ctx: click.Context, args):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta["edgeposinv.command"] = command
        return name, command, rest

    def invoke(self, ctx: click.Context):
        from edgeposinv.commands.flags import flag_for, speak_flags
        from edgeposinv.errors import EdgeposinvError, ParameterError
        from edgeposinv.util.files import describe_os_error
        from edgeposinv.util.signals import signals_as_exceptions

        try:
            # SIGTERM and SIGHUP unwind like Ctrl-C, so temporary files are removed and
            # the command says it was stopped (exit 128 + N), whatever it was doing.
            with signals_as_exceptions():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            error = click.ClickException("Interrupted (Ctrl-C)")
            setattr(error, "exit_code", 130)  # noqa: B010 - a class variable in click
            raise error from None
        except EdgeposinvError as e:
            command = ctx.meta.get("edgeposinv.command")
            if isinstance(e, ParameterError) and str(e) == e.describe():
                flag = flag_for(e.param, command)
                if flag:
                    detail = speak_flags(e.detail(), e.params, command)
                    raise click.BadParameter(detail, param_hint=f"'{flag}'") from None
            error = click.ClickException(speak_flags(str(e), e.params, command))
            setattr(error, "exit_code", e.exit_code)  # noqa: B010 - a class variable in click
            raise error from None
        except OSError as e:
            raise click.ClickException(describe_os_error(e, verb="use")) from None


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
