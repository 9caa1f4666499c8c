"""`edgeposinv device-eval` and `edgeposinv device-pull` (the Android app over adb)."""

from __future__ import annotations

import click

from edgeposinv.commands.options import test_sets_and_report


@click.command("device-eval")
@click.argument("model", type=click.Path(dir_okay=False, path_type=str))
@test_sets_and_report(where="pushed to the phone")
@click.option(
    "--serial", default=None, help="Device serial (adb devices) when several are attached."
)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option(
    "--delegate",
    default="cpu",
    show_default=True,
    type=click.Choice(["cpu", "xnnpack", "gpu", "nnapi"]),
)
@click.option("--top-k", "top_k", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--timeout",
    "timeout_s",
    default=1800,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds to wait for the phone's report.",
)
@click.option(
    "--adb",
    "adb_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="adb executable (default: $EDGEPOSINV_ADB, adb on PATH, $ANDROID_HOME/platform-tools).",
)
@click.option(
    "--keep-on-device", is_flag=True, help="Leave the pushed model, sets and output on the phone."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
def device_eval(
    model,
    sets,
    unknown_sets,
    report,
    serial,
    threads,
    delegate,
    top_k,
    timeout_s,
    adb_path,
    keep_on_device,
    overwrite,
) -> None:
    """Run MODEL on the phone's edgeposinv app over adb and write a report like 'evaluate'."""
    from edgeposinv.device.adb_eval import DeviceEvalConfig
    from edgeposinv.device.adb_eval import device_eval as run_device_eval
    from edgeposinv.evaluation.evaluate import REPORT_HTML

    parsed = sets
    config = DeviceEvalConfig(
        threads=threads,
        delegate=delegate,
        top_k=top_k,
        timeout_s=float(timeout_s),
        keep_on_device=keep_on_device,
    )
    result = run_device_eval(
        model,
        parsed,
        report,
        config,
        serial=serial,
        adb_path=adb_path,
        overwrite=overwrite,
        unknown_sets=unknown_sets,
    )
    platform = result["runtime"]["platform"]
    click.echo(
        f"Device: {platform.get('device_model', '?')}, Android {platform.get('android_version', '?')}, "
        f"{result['runtime'].get('delegate', '?')} with {result['runtime']['threads']} thread(s)"
    )
    for name, s in result["sets"].items():
        lo, hi = s["top1_ci95"]
        click.echo(f"{name:>12}: top-1 {s['top1']:.1%} (95% CI {lo:.1%}–{hi:.1%}, n={s['n']})")
    lat = result["latency_ms"]
    click.echo(f"Latency on device: median {lat['median']:.2f} ms, p90 {lat['p90']:.2f} ms")
    o = result.get("open_set") or {}
    for name, u in (o.get("unknown_sets") or {}).items():
        acc = u.get("accepted")
        click.echo(
            f"{name:>12}: unknown; "
            + (
                f"{acc['share']:.1%} accepted at the threshold (n={acc['n']})"
                if acc
                else "the model carries no threshold"
            )
            + f", {u['share_score_ge_0.9']:.0%} with score >= 0.9"
        )
    for sep in (o.get("separation") or {}).values():
        click.echo(
            f"{'AUROC':>12}: {sep['known_set']} vs {sep['unknown_set']} {sep['auroc']:.3f}, "
            f"FPR at 95% TPR {sep['fpr_at_95_tpr']:.1%}"
        )
    click.echo(f"Report: {report}/{REPORT_HTML}")


@click.command("device-pull")
@click.argument("data", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--serial", default=None, help="Device serial (adb devices) when several are attached."
)
@click.option(
    "--adb",
    "adb_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="adb executable (default: $EDGEPOSINV_ADB, adb on PATH, $ANDROID_HOME/platform-tools).",
)
def device_pull(data, serial, adb_path) -> None:
    """Pull the app's captured dataset into DATA, merging without overwriting anything."""
    from edgeposinv.device.pull import device_pull as run_pull

    s = run_pull(data, serial=serial, adb_path=adb_path)
    click.echo(
        f"{s.added} new image(s) in {data} ({s.already_present} already there, {s.renamed} renamed "
        f"to avoid overwriting); manifest.jsonl +{s.manifest_lines_added} line(s); "
        f"labels: {', '.join(s.labels) or 'none'}"
    )


COMMANDS = [device_eval, device_pull]
