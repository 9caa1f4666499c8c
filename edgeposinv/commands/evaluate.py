"""`edgeposinv evaluate`."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@click.option("--set", "sets", multiple=True, required=True, metavar="NAME=DIR",
              help="A named test set (repeatable), e.g. --set published=test --set wild=phone.")
@click.option("--report", "report", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Report folder to create.")
@click.option("--reference", default=None, help="Set the others are compared with (default: the first).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--top-k", "top_k", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Labels file for a model that carries none (one per line).")
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
def evaluate(model, sets, report, reference, threads, top_k, labels_file, overwrite) -> None:
    """Run MODEL with LiteRT on named test sets; write report.json and report.html."""
    from edgeposinv.evaluate import REPORT_HTML, parse_set
    from edgeposinv.evaluate import evaluate as run_evaluation

    parsed = [parse_set(s) for s in sets]
    result = run_evaluation(model, parsed, report, threads=threads, top_k=top_k, reference=reference,
                            labels_file=labels_file, overwrite=overwrite)
    for name, s in result["sets"].items():
        lo, hi = s["top1_ci95"]
        click.echo(f"{name:>12}: top-1 {s['top1']:.1%} (95% CI {lo:.1%}–{hi:.1%}, n={s['n']})")
    click.echo(f"Report: {report}/{REPORT_HTML}")


COMMANDS = [evaluate]
