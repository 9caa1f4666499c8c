"""`edgeposinv compare`."""

from __future__ import annotations

import click


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder to create with compare.html and compare.json.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
def compare(reports, out, overwrite) -> None:
    """Put REPORT_DIR... side by side (host vs device, float32 vs int8, ...): a table and overlaid plots."""
    from edgeposinv.evaluation.compare import COMPARE_HTML, compare_reports

    summary = compare_reports(reports, out, overwrite=overwrite)
    for row in summary["reports"]:
        sets = ", ".join(f"{s} {v['top1']:.1%}" for s, v in row["sets"].items())
        click.echo(f"{row['name']:>16}: {row['quantization']}, {sets}")
    click.echo(f"Comparison: {out}/{COMPARE_HTML}")


COMMANDS = [compare]
