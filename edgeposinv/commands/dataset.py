"""`edgeposinv dataset ...`: inspect dataset folders."""

from __future__ import annotations

import click


@click.group()
def dataset() -> None:
    """Inspect a dataset folder (DATA/<label>/*.jpg + manifest.jsonl)."""


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
def stats(data, chart, json_path) -> None:
    """Counts per label, session and guide cell; problems; a coverage chart."""
    import os

    from edgeposinv.data.stats import dataset_stats, write_coverage_chart
    from edgeposinv.util.files import atomic_write_json

    result = dataset_stats(data)
    for line in result.lines():
        click.echo(line)
    chart = chart or os.path.join(data, "coverage.png")
    write_coverage_chart(result, chart)
    click.echo(f"Coverage chart: {chart}")
    if json_path:
        atomic_write_json(json_path, result.to_dict())
        click.echo(f"Statistics: {json_path}")


COMMANDS = [dataset]
