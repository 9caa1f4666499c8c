"""`edgeposinv dataset ...`: inspect dataset folders."""

from __future__ import annotations

import click


@click.group()
def dataset() -> None:
    """Inspect dataset folders (DATA/<label>/*.jpg + manifest.jsonl)."""


@dataset.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--chart",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="Coverage chart PNG to write (default: DATA/coverage.png).",
)
@click.option(
    "--json",
    "json_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the statistics as JSON.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --chart or --json file.")
def stats(data, chart, json_path, overwrite) -> None:
    """Counts per label, session and guide cell; problems; a coverage chart."""
    import os
    from pathlib import Path

    from edgeposinv.data.dataset import check_dataset_dir
    from edgeposinv.data.stats import dataset_stats, write_coverage_chart
    from edgeposinv.errors import OutputError
    from edgeposinv.util.files import atomic_write_json, check_can_write, check_not_in_dataset

    check_dataset_dir(Path(data))
    for path, param in ((chart, "chart"), (json_path, "json_path")):
        if path:
            check_not_in_dataset(path, [data], is_dir=False, param=param)
            check_can_write(path, overwrite)
    default_chart = None
    if not chart:
        # The default chart is the command's own file in DATA, replaced on every run; a
        # read-only dataset gets no chart rather than an error.
        default_chart = os.path.join(data, "coverage.png")
        try:
            check_can_write(default_chart, overwrite=True)
        except OutputError:
            default_chart = None
    result = dataset_stats(data)
    for line in result.lines():
        click.echo(line)
    target = chart or default_chart
    if target:
        write_coverage_chart(result, target)
        click.echo(f"Coverage chart: {target}")
    else:
        click.echo(f"Coverage chart: not written ({data} is not writable; pass --chart PATH)")
    if json_path:
        atomic_write_json(json_path, result.to_dict())
        click.echo(f"Statistics: {json_path}")


@dataset.command()
@click.argument("a", type=click.Path(file_okay=False, path_type=str))
@click.argument("b", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--json",
    "json_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write every pair as JSON.",
)
def overlap(a, b, json_path) -> None:
    """Images of B that are exact or near copies of images in A (e.g. train vs test)."""
    from edgeposinv.data.overlap import find_overlap
    from edgeposinv.util.files import atomic_write_json

    result = find_overlap(a, b)
    for line in result.lines():
        click.echo(line)
    if json_path:
        atomic_write_json(json_path, result.to_dict())
        click.echo(f"Pairs: {json_path}")


COMMANDS = [dataset]
