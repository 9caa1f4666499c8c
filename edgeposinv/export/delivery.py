"""Where an exported model goes: a file, a ``models/<name>/`` folder, the Android app's assets.

``models/<name>/`` holds ``model.tflite``, ``MODEL.json`` (the embedded facts plus parity,
size, latency and training provenance) and a generated ``MODEL_CARD.md``. Every write is
atomic, and nothing existing is replaced without ``overwrite``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.errors import ConfigError, ParameterError
from edgeposinv.export.parity import kept_within_resolution
from edgeposinv.util.files import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_files,
    atomic_write_text,
    check_can_write,
    read_json,
)

MODEL_FILE = "model.tflite"
SIDECAR_FILE = "MODEL.json"
CARD_FILE = "MODEL_CARD.md"
ASSET_LABELS = "labels.txt"


@dataclass(frozen=True)
class OutputPlan:
    model_path: Path
    sidecar_path: Path
    folder: Path | None  # set for a models/<name>/ folder
    overwrite: bool

    @property
    def card_path(self) -> Path | None:
        return self.folder / CARD_FILE if self.folder else None


def plan_outputs(out: Path, overwrite: bool, options) -> OutputPlan:
    """Decide the output files and refuse existing ones now, before any conversion work."""
    if out.suffix == ".tflite":
        plan = OutputPlan(out, out.with_suffix(".json"), None, overwrite)
        check_can_write(plan.model_path, overwrite)
        check_can_write(plan.sidecar_path, overwrite)
    elif out.suffix:
        raise ParameterError(
            "out_path", str(out), "must be a .tflite file or a model folder (models/<name>)"
        )
    else:
        plan = OutputPlan(out / MODEL_FILE, out / SIDECAR_FILE, out, overwrite)
        check_can_write(out, overwrite)
    if options.android_assets is not None:
        assets = Path(options.android_assets)
        if not assets.parent.is_dir():
            raise ParameterError(
                "android_assets",
                str(assets),
                "must be a folder whose parent exists",
                fix="pass the app's assets folder, e.g. android_demo/app/src/main/assets",
            )
        check_can_write(assets / MODEL_FILE, overwrite)
    if options.report_json is not None:
        _read_report(options.report_json)  # now, not after the conversion
    return plan


def write_outputs(plan: OutputPlan, model_bytes: bytes, sidecar: dict, options) -> None:
    sidecar_bytes = (json.dumps(sidecar, indent=2) + "\n").encode("utf-8")
    if plan.folder is None:
        # Both files appear together or neither does (a full disk leaves no lone sidecar).
        atomic_write_files({plan.sidecar_path: sidecar_bytes, plan.model_path: model_bytes})
    else:
        report = _read_report(options.report_json) if options.report_json else None
        with atomic_dir(plan.folder, overwrite=plan.overwrite) as tmp:
            atomic_write_bytes(tmp / MODEL_FILE, model_bytes)
            atomic_write_bytes(tmp / SIDECAR_FILE, sidecar_bytes)
            atomic_write_text(tmp / CARD_FILE, model_card(sidecar, report, plan.folder.name))
    if options.android_assets is not None:
        assets = Path(options.android_assets)
        labels = ("\n".join(sidecar["labels"]) + "\n").encode("utf-8")
        atomic_write_files({assets / ASSET_LABELS: labels, assets / MODEL_FILE: model_bytes})


def _read_report(path) -> dict:
    report = read_json(path, ConfigError, "pass the report.json of 'edgeposinv evaluate'")
    if not isinstance(report.get("sets"), dict):
        raise ConfigError(
            f"{path} has no 'sets'; it is not a complete report.json of 'edgeposinv evaluate'"
        )
    return report


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _open_set_lines(o: dict | None) -> list[str]:
    """The card's "none of the above" section: threshold, temperature, expected rejections."""
    if not o:
        return []
    e = o.get("expected") or {}
    target = o.get("target") or {}
    lines = [
        "## None of the above",
        "",
        f'The model answers "none of the classes" when its highest class probability is below '
        f"**{o['score_threshold']:.4f}**"
        + (
            f" or when its `{o['reserved_label']}` output is on top"
            if o.get("reserved_label")
            else ""
        )
        + f". Temperature {o['temperature']:.3f} is baked into the model (its outputs are calibrated "
        f"probabilities). Target: keep {_pct(target.get('keep_correct'))} of the correctly classified "
        "validation images"
        + (
            f", lowered while at most {_pct(target['max_unknown_accepted'])} of the unknown validation images pass"
            if "max_unknown_accepted" in target
            else ""
        )
        + ".",
        "",
        f"Expected on the validation split ({e.get('n_known', '?')} known images): "
        f"{_pct(e.get('known_rejected'))} of known images rejected, accuracy "
        f"{_pct(e.get('known_accuracy'))} without the threshold and "
        f"{_pct(e.get('known_accuracy_at_threshold'))} with it (a rejection counts as an error)"
        + (
            f"; {_pct(e['unknown_accepted'])} of {e['n_unknown']} unknown images accepted "
            f"(95% CI {_pct(e['unknown_accepted_ci95'][0])} – {_pct(e['unknown_accepted_ci95'][1])})"
            if "unknown_accepted" in e
            else "; no unknown images were available to measure how many would be accepted"
        )
        + ". Images in the wild are less tidy than a validation split: measure with "
        "`edgeposinv evaluate --unknown-set`.",
        "",
    ]
    gate = e.get("feature_gate")
    if gate:
        lines += [
            f"The `{o.get('reserved_label')}` output was added at export (`--unknown-score "
            f"features`), not trained: it grows with the distance of an image's features from "
            f"those of {gate['n_train']} training images ({gate['components']} whitened "
            f"directions), scaled so that {_pct(target.get('keep_correct'))} of the "
            f"{gate['n_val']} validation images are nearer than where it reaches 50%. It "
            "rejects whatever is unlike the validation images, hands in other places included "
            "when the validation split comes from the rig only (`--val-from CAPTURES`).",
            "",
        ]
    return lines


def model_card(sidecar: dict, report: dict | None, name: str) -> str:
    """A human-readable card: data, classes, recipe, export, accuracy, size, latency, machine."""
    prov = sidecar.get("provenance") or {}
    train, dataset, result = (
        prov.get("train") or {},
        prov.get("dataset") or {},
        prov.get("result") or {},
    )
    contract, parity, size, lat = (
        sidecar["input"],
        sidecar["parity"],
        sidecar["size"],
        sidecar["latency"],
    )
    lines = [
        f"# {name}",
        "",
        f"An edgeposinv image classifier (`{sidecar['arch']}`) for {len(sidecar['labels'])} classes, "
        f"exported as **{sidecar['quantization']}** (input/output {sidecar['io_dtype']}).",
        "",
        "## Data",
        "",
        f"- Dataset: `{dataset.get('path', 'unknown')}` ({dataset.get('n_images', '?')} images, "
        f"{dataset.get('n_skipped', 0)} skipped)",
        f"- Split: {result.get('n_train', '?')} training / {result.get('n_val', '?')} validation images",
        f"- Classes: {', '.join(f'`{lab}`' for lab in sidecar['labels'])}",
        "",
        "## Training recipe",
        "",
        *(f"- {k}: `{v}`" for k, v in sorted(train.items())),
        "",
        "## Input contract",
        "",
        f"RGB pixels 0..255 at {contract['image_size_px']}x{contract['image_size_px']}: EXIF orientation, "
        f"{contract['crop']} crop, {contract['resize_down']} resize when shrinking, {contract['resize_up']} when "
        "enlarging. Normalisation is inside the model. Labels and this contract are embedded in the .tflite "
        "(standard TFLite Metadata and the `edgeposinv.model` entry).",
        "",
        "## Export",
        "",
        f"- Mode: `{sidecar['export']['mode']}`, input/output `{sidecar['export']['io_dtype']}`",
    ]
    if sidecar.get("calibration"):
        cal = sidecar["calibration"]
        lines.append(f"- Calibration: {cal['n_images']} images from {cal['source']}")
    ratio = size.get("ratio_to_float32")
    lines += [
        f"- Size: {size['bytes'] / 1024:.1f} KiB"
        + (f" ({ratio:.2f}x the float32 export)" if ratio else ""),
        f"- Host latency: {lat['median_ms']:.2f} ms median of {lat['runs']} runs after {lat['warmup']} warm-up, "
        f"{lat['threads']} thread(s), on {lat['machine']['cpu']} ({lat['machine']['cores']} cores, "
        f"{lat['machine']['system']} {lat['machine']['machine']})",
        f"- sha256: `{sidecar['sha256']}`",
        "",
        "## Accuracy",
        "",
    ]
    if parity.get("checked"):
        lines += [
            ("Validation split" if parity.get("split", "val") == "val" else "Training sample")
            + f" ({parity['n']} images): Keras {_pct(parity['keras_top1'])}, "
            f"TFLite {_pct(parity['tflite_top1'])}, top-1 agreement {_pct(parity['top1_agreement'])}, "
            f"mean |Δp| {parity['mean_abs_prob_diff']:.4f}. Parity gate (max drop "
            f"{sidecar['gate']['max_drop_points']:g} points): "
            + ("passed" if sidecar["gate"]["passed"] else "FAILED, kept with --force")
            + (
                f" ({parity['drop_points']:.1f} points, but {parity['images_lost']} image: "
                "within the check's resolution)"
                if kept_within_resolution(parity, sidecar["gate"]["max_drop_points"])
                else ""
            )
            + "."
            + (f" Note: {parity['note']}." if parity.get("note") else ""),
            "",
        ]
    else:
        lines += ["The validation split was not available: parity was not checked.", ""]
    lines += _open_set_lines(sidecar.get("open_set"))
    if report:
        lines += ["| set | images | top-1 | 95% CI |", "|---|---|---|---|"]
        for set_name, s in report.get("sets", {}).items():
            ci = s.get("top1_ci95") or [None, None]
            lines.append(
                f"| {set_name} | {s.get('n', '?')} | {_pct(s.get('top1'))} | {_pct(ci[0])} – {_pct(ci[1])} |"
            )
        runtime = report.get("runtime", {})
        lines += [
            "",
            f"Evaluated with {runtime.get('name', '?')} {runtime.get('version', '')}.",
            "",
        ]
    return "\n".join(lines) + "\n"
