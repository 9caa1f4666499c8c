"""Library parameter names → command-line flags, so errors speak the user's language.

The library names its own parameters (``'image_size_px' of TrainConfig ...``); the CLI
turns an error about a parameter into one about the flag that set it. A parameter maps to
a flag only if the running command has that flag: first through :data:`ALIASES`, then by
name (``batch_size`` → ``--batch-size``), then without a unit suffix
(``image_size_px`` → ``--image-size``).
"""

from __future__ import annotations

import click

#: Library parameter → flag(s), where the names differ by more than dashes and units.
ALIASES: dict[str, tuple[str, ...]] = {
    "run_dir": ("--out",),
    "out_path": ("--out",),
    "out_dir": ("--out",),
    "out": ("--out",),
    "report_dir": ("--report",),
    "data_dir": ("DATA",),
    "learning_rate": ("--lr",),
    "early_stopping_patience": ("--patience",),
    "max_drop_points": ("--max-drop",),
    "io_dtype": ("--io",),
    "mode": ("--quantize",),
    "calibration_dir": ("--calibration",),
    "step_deg": ("--rotation-step",),
    "max_shift_frac": ("--max-shift",),
    "grid_rows": ("--grid",),
    "grid_cols": ("--grid",),
    "grid": ("--grid",),
    "labels_file": ("--labels",),
    "augment": ("--augment", "--preset"),
    "preset": ("--preset", "--augment"),
    "augment_config": ("--augment-config",),
    "sets": ("--set",),
    "position_set": ("--sweep-position",),
    "rotation_set": ("--sweep-rotation",),
    "shift_set": ("--shift-consistency",),
    "backgrounds_dir": ("--backgrounds",),
    "timeout_s": ("--timeout",),
    "adb_path": ("--adb",),
    "image_format": ("--format",),
    "source": ("--source",),
    "labels": ("--labels", "--label"),
}

_UNITS = ("_px", "_deg", "_frac", "_ms", "_s", "_points", "_dir", "_path")


def _options(command: click.Command | None) -> dict[str, str]:
    """Every option of ``command`` (and of its sub-commands): python name and flag → flag."""
    found: dict[str, str] = {}
    if command is None:
        return found
    for param in command.params:
        if isinstance(param, click.Option):
            flag = max(param.opts, key=len)
            found.setdefault(param.name or flag, flag)
            for opt in param.opts:
                found.setdefault(opt, flag)
        elif isinstance(param, click.Argument) and param.name:
            found.setdefault(param.name.upper(), param.name.upper())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            for k, v in _options(sub).items():
                found.setdefault(k, v)
    return found


def flag_for(param: str, command: click.Command | None) -> str | None:
    """The flag of ``command`` that sets the library parameter ``param``, if it has one."""
    options = _options(command)
    for alias in ALIASES.get(param, ()):
        if alias in options:
            return options[alias]
    if param in options:
        return options[param]
    for suffix in _UNITS:
        if param.endswith(suffix) and param[: -len(suffix)] in options:
            return options[param[: -len(suffix)]]
    return None


def speak_flags(message: str, params: tuple[str, ...], command: click.Command | None) -> str:
    """``message`` with each quoted parameter name ('run_dir') replaced by its flag."""
    for param in params:
        flag = flag_for(param, command)
        if flag:
            message = message.replace(f"'{param}'", flag)
    return message
