"""Export a training run to a .tflite model that carries its labels and input contract.

The model is converted (:mod:`edgeposinv.export.quantize`), its description embedded twice —
the ``edgeposinv.model`` JSON entry the project's runtimes read, and standard TensorFlow
Lite Metadata with a label file that third-party consumers read — and then checked: the
LiteRT interpreter and the Keras model classify the run's validation split, and a model
whose accuracy drops too far is refused (nothing is written) unless ``force`` is set
(:mod:`edgeposinv.export.parity`). ``MODEL.json`` beside the model mirrors the facts for humans,
with the parity figures, size, host latency and training provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeposinv.data.calibration import load_calibration
from edgeposinv.data.dataset import DatasetIndex, ImageRecord, load_images
from edgeposinv.errors import ParameterError
from edgeposinv.export.description import (
    embed_fingerprints,
    embed_metadata,
    model_description,
    standard_metadata,
)
from edgeposinv.export.open_set import OpenSetOptions
from edgeposinv.export.parity import open_classifier, parity_check, parity_gate
from edgeposinv.export.quantize import QuantSpec, check_spec_for_run, convert, load_run_model
from edgeposinv.training.runs import Run, read_run

log = logging.getLogger(__name__)

#: Training images (a stratified sample) the feature-distance gate is fitted on.
FEATURE_GATE_SAMPLE = 2000

__all__ = [
    "QuantSpec",
    "ExportOptions",
    "ExportResult",
    "export_run",
    "embed_metadata",
    "sidecar_path",
    "unknown_validation_images",
]


@dataclass(frozen=True)
class ExportOptions:
    """What export checks and measures, and where it delivers (besides ``--out``)."""

    max_drop_points: float = 2.0
    force: bool = False
    latency_runs: int = 50
    latency_warmup: int = 5
    threads: int = 1
    compare_float32: bool = True
    android_assets: Path | None = None
    report_json: Path | None = None
    fingerprints: bool = False  # embed the training split's perceptual hashes (8 bytes/image)
    open_set: OpenSetOptions = OpenSetOptions()

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_drop_points <= 100.0:
            raise ParameterError(
                "max_drop_points",
                self.max_drop_points,
                "must be in [0, 100] accuracy points",
                owner="ExportOptions",
            )
        if self.latency_runs < 1:
            raise ParameterError(
                "latency_runs", self.latency_runs, "must be at least 1", owner="ExportOptions"
            )
        if self.latency_warmup < 0:
            raise ParameterError(
                "latency_warmup", self.latency_warmup, "must be at least 0", owner="ExportOptions"
            )
        if self.threads < 1:
            raise ParameterError(
                "threads", self.threads, "must be at least 1", owner="ExportOptions"
            )


@dataclass(frozen=True)
class ExportResult:
    model_path: Path
    sidecar_path: Path
    size_bytes: int
    parity: dict
    sidecar: dict


def validation_images(run: Run):
    """The run's validation images and labels as arrays, or None when the split has none."""
    val_paths = [p for p in run.split_paths("val") if p.is_file()]
    if not val_paths:
        return None
    records = tuple(ImageRecord(p, p.parent.name) for p in val_paths)
    return load_images(
        DatasetIndex(run.data_dir, run.class_labels, records),
        run.contract.image_size_px,
        labels=run.labels,
        show_progress=False,
    )


def _training_sample(run: Run, size: int, seed: int):
    """A labelled, stratified sample of the run's training images (for runs without validation)."""
    from edgeposinv.data.folders import stratified_sample

    paths = [p for p in run.split_paths("train") if p.is_file()]
    if not paths:
        return None
    labels = [p.parent.name for p in paths]
    folders = [0] * len(paths)
    keep = stratified_sample(folders, labels, [1.0], min(size, len(paths)), seed)
    records = tuple(ImageRecord(paths[i], labels[i]) for i in keep)
    return load_images(
        DatasetIndex(run.data_dir, run.class_labels, records),
        run.contract.image_size_px,
        labels=run.labels,
        show_progress=False,
    )


def unknown_validation_images(run: Run) -> np.ndarray:
    """The run's unknown validation images (none of the classes), prepared."""
    from edgeposinv.data.dataset import load_unknown_images

    paths = [p for p in run.unknown_paths("val") if p.is_file()]
    return load_unknown_images(paths, run.contract.image_size_px)[0]


def host_latency(model_bytes: bytes, pixels: np.ndarray, options: ExportOptions) -> dict:
    """Median single-image invoke time on this machine, after warm-up, threads stated."""
    from edgeposinv.util.machine import machine_info

    clf = open_classifier(model_bytes, options.threads)
    lat = clf.measure_latency(pixels, runs=options.latency_runs, warmup=options.latency_warmup)
    return {
        "median_ms": lat["median"],
        "p90_ms": lat["p90"],
        "runs": lat["runs"],
        "warmup": lat["warmup"],
        "threads": lat["threads"],
        "machine": machine_info(),
    }


def _float_network(model, spec: QuantSpec):
    """The model whose float32 export is the size baseline: for int8-qat, the float network
    inside the QAT model (its own float32 export keeps every fake-quantization point)."""
    if spec.mode != "int8-qat":
        return model
    from edgeposinv.training.qat import float_copy

    return float_copy(model)


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def export_run(
    run_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    spec: QuantSpec = QuantSpec.int8(),
    overwrite: bool = False,
    seed: int = 0,
    options: ExportOptions = ExportOptions(),
) -> ExportResult:
    """Convert the run in ``run_dir``, check it, and write it.

    ``out_path`` ending in ``.tflite``: that file plus a ``.json`` sidecar beside it.
    Otherwise a model folder (``models/<name>/``): ``model.tflite``, ``MODEL.json`` and
    ``MODEL_CARD.md``. Nothing is written when the parity gate refuses the model.
    """
    from edgeposinv.export.delivery import plan_outputs, write_outputs

    plan = plan_outputs(Path(out_path), overwrite, options)
    if spec.calibration_dir is not None and not Path(spec.calibration_dir).is_dir():
        raise ParameterError(
            "calibration_dir",
            str(spec.calibration_dir),
            "must be an existing folder of images",
            fix="build one with 'edgeposinv calibration build DATA --out calibration/NAME'",
        )
    run = read_run(run_dir)
    check_spec_for_run(spec, run)
    model = load_run_model(run)
    data = validation_images(run)
    no_validation = not run.split.get("val")
    open_opts = options.open_set
    unknown_val = unknown_validation_images(run) if open_opts.enabled else np.zeros((0,))
    temperature = {"temperature": 1.0, "fitted": False}
    if open_opts.enabled and no_validation:
        log.warning("the run has no validation images: no temperature and no open-set threshold")
    elif open_opts.enabled and open_opts.temperature and data is not None and len(data.images):
        from edgeposinv.export.open_set import fit_and_bake

        temperature = fit_and_bake(model, run.labels, data, unknown_val)
    gate_info = None
    if open_opts.enabled and open_opts.unknown_score == "features":
        from edgeposinv.export.feature_gate import add_to_model

        model, run, gate_info = add_to_model(
            model,
            run,
            lambda: _training_sample(run, FEATURE_GATE_SAMPLE, seed),
            data,
            open_opts.keep_correct,
        )
    calibration, calibration_info = None, None
    if spec.needs_calibration:
        batch = int(run.config.get("train", {}).get("batch_size", 1))
        calibration, calibration_info = load_calibration(
            run, spec.calibration_dir, spec.calibration_size, batch, seed
        )
        if gate_info is not None:
            from edgeposinv.export.feature_gate import range_images

            calibration = np.concatenate([calibration, range_images(calibration, seed)])
            calibration_info = {**calibration_info, "feature_gate_range_images": True}
    log.info("converting %s to %s TFLite", run.root, spec.mode)
    converted = convert(model, spec, calibration)
    open_set = None
    if open_opts.enabled and not no_validation and data is not None and len(data.images):
        from edgeposinv.export.open_set import choose

        clf = open_classifier(converted, options.threads, run.labels)
        known = np.stack([clf.predict_proba(x) for x in data.images])
        unknown = (
            np.stack([clf.predict_proba(x) for x in unknown_val]) if len(unknown_val) else known[:0]
        )
        open_set = choose(run.labels, known, data.label_ids, unknown, open_opts, temperature)
        if gate_info is not None:
            open_set = dataclasses.replace(
                open_set, expected={**(open_set.expected or {}), "feature_gate": gate_info}
            )
        log.info(
            "open-set threshold %.4f (T %.3f): %s",
            open_set.score_threshold,
            open_set.temperature,
            open_set.expected,
        )
    elif open_opts.enabled and not no_validation:
        log.warning("validation images of the run are not available; no open-set threshold")
    description = model_description(run, spec, open_set)
    model_bytes = embed_metadata(converted, description)
    fingerprints_info = None
    if options.fingerprints:
        model_bytes, fingerprints_info = embed_fingerprints(model_bytes, run)

    if no_validation:  # --val-split 0: the calibration sample of the training split stands in
        data = _training_sample(run, spec.calibration_size, seed)
    parity = parity_check(model, model_bytes, data, options.threads)
    if no_validation and parity["checked"]:
        parity["split"] = "train_sample"
        parity["note"] = (
            "the run has no validation images (--val-split 0): parity was checked on a "
            "stratified sample of its training images (the calibration sample when int8 "
            "calibrates on the training split); accuracies here are on seen images"
        )
    gate = parity_gate(parity, options.max_drop_points, options.force, spec.mode)

    size: dict[str, Any] = {"bytes": len(model_bytes)}
    if options.compare_float32:
        float_bytes = (
            model_bytes
            if spec.mode == "float32"
            else embed_metadata(
                convert(_float_network(model, spec), QuantSpec.float32()),
                model_description(run, QuantSpec.float32(), open_set),
            )
        )
        size.update(
            float32_bytes=len(float_bytes),
            ratio_to_float32=round(len(model_bytes) / len(float_bytes), 4),
        )
    pixels = (
        data.images[0]
        if data is not None and len(data.images)
        else np.zeros((run.contract.image_size_px,) * 2 + (3,), np.uint8)
    )
    latency = host_latency(model_bytes, pixels, options)

    sidecar = {
        **description,
        "standard_metadata": standard_metadata(description).to_dict(),
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "size": size,
        "size_bytes": len(model_bytes),
        "export": {**spec.to_dict(), "seed": seed},
        "calibration": calibration_info,
        "parity": parity,
        "gate": gate,
        "latency": latency,
        "train_fingerprints": fingerprints_info,
        "provenance": {
            "run": str(Path(run_dir)),
            "train": run.config.get("train"),
            "augment": run.config.get("augment"),
            "dataset": run.config.get("dataset"),
            "result": run.config.get("result"),
            "versions": run.config.get("versions"),
        },
    }
    write_outputs(plan, model_bytes, sidecar, options)
    return ExportResult(plan.model_path, plan.sidecar_path, len(model_bytes), parity, sidecar)
