"""Export a training run to a .tflite model that carries its labels and input contract.

The model is converted, its description embedded, and then checked with the LiteRT
interpreter against the Keras model on the run's validation split before anything is
written. ``MODEL.json`` beside the model mirrors the description for humans.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv import __version__
from edgeposinv.dataset import DatasetIndex, ImageRecord, load_images, scan_dataset
from edgeposinv.errors import ConfigError, ExportError
from edgeposinv.fsutil import atomic_write_bytes, atomic_write_json, check_can_write
from edgeposinv.images import is_image_name
from edgeposinv.runs import Run, load_keras_model, read_run
from edgeposinv.tflite_meta import CONTRACT_NAME, CONTRACT_SCHEMA, canonical_json, write_entries

log = logging.getLogger(__name__)

QUANT_MODES = ("float32", "int8")


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize. Build one with :meth:`float32` or :meth:`int8`."""

    mode: str
    calibration_dir: Path | None = None
    calibration_size: int = 200
    io_dtype: str = "uint8"

    def __post_init__(self) -> None:
        if self.mode not in QUANT_MODES:
            raise ConfigError(f"--quantize must be one of: {', '.join(QUANT_MODES)}. Got {self.mode!r}.")
        if self.mode != "int8" and self.calibration_dir is not None:
            raise ConfigError(f"--calibration applies to int8 only; --quantize {self.mode} takes no calibration set")
        if self.io_dtype not in ("uint8", "int8", "float32"):
            raise ConfigError(f"The int8 input/output type must be uint8, int8 or float32. Got {self.io_dtype!r}.")
        if self.calibration_size < 1:
            raise ConfigError(f"calibration_size must be at least 1. Got {self.calibration_size}.")

    @classmethod
    def float32(cls) -> QuantSpec:
        return cls("float32")

    @classmethod
    def int8(cls, calibration_dir: str | os.PathLike | None = None, io: str = "uint8", calibration_size: int = 200) -> QuantSpec:
        return cls("int8", Path(calibration_dir) if calibration_dir else None, calibration_size, io)


@dataclass(frozen=True)
class ExportResult:
    model_path: Path
    sidecar_path: Path
    size_bytes: int
    parity: dict


def calibration_images(run: Run, spec: QuantSpec, seed: int = 0) -> np.ndarray:
    """Calibration pixels: every image under ``spec.calibration_dir``, or a stratified
    sample of the run's training split."""
    size = run.contract.image_size_px
    if spec.calibration_dir is not None:
        root = spec.calibration_dir
        if not root.is_dir():
            raise ExportError(f"Calibration folder {root} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file() and is_image_name(p))
        if not files:
            raise ExportError(f"No images in calibration folder {root} (looked for .jpg, .jpeg, .png, .bmp, .webp)")
        index = DatasetIndex(root, ("calibration",), tuple(ImageRecord(p, "calibration") for p in files))
        return load_images(index, size, show_progress=False).images
    from sklearn.model_selection import train_test_split

    paths = run.split_paths("train")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ExportError(
            f"{len(missing)} training image(s) of the run are gone (e.g. {missing[0]}); "
            "pass --calibration DIR with images from the target device"
        )
    labels = [p.parent.name for p in paths]
    if len(paths) > spec.calibration_size:
        paths, _, labels, _ = train_test_split(
            paths, labels, train_size=spec.calibration_size, stratify=labels, random_state=seed
        )
    index = DatasetIndex(run.data_dir, run.labels, tuple(ImageRecord(p, lab) for p, lab in zip(paths, labels)))
    return load_images(index, size, show_progress=False).images


def convert(model, spec: QuantSpec, calibration: np.ndarray | None = None) -> bytes:
    """Convert a tf_keras model to .tflite bytes."""
    from edgeposinv._keras import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if spec.mode == "int8":
        if calibration is None or len(calibration) == 0:
            raise ExportError("int8 export needs calibration images")

        def representative():
            for img in calibration:
                sample = img[None].astype(np.float32)
                # One black and one white pixel pin the input range to 0..255, so the
                # uint8 input tensor gets scale 1 / zero point 0: camera pixels feed in as is.
                sample[0, 0, 0, :], sample[0, 0, 1, :] = 0.0, 255.0
                yield [sample]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = {"uint8": tf.uint8, "int8": tf.int8, "float32": tf.float32}[spec.io_dtype]
        converter.inference_input_type = io
        converter.inference_output_type = io
    try:
        return bytes(converter.convert())
    except Exception as e:  # the converter raises many types; report the first line
        raise ExportError(f"TFLite conversion failed: {str(e).splitlines()[0]}") from None


def model_description(run: Run, spec: QuantSpec) -> dict:
    """The facts embedded in the model (no timestamps or paths: identical inputs → identical bytes)."""
    return {
        "schema": CONTRACT_SCHEMA,
        "task": "image_classification",
        "labels": list(run.labels),
        "input": run.contract.to_dict(),
        "quantization": spec.mode,
        "io_dtype": spec.io_dtype if spec.mode == "int8" else "float32",
        "arch": run.config["train"]["arch"],
        "generator": f"edgeposinv {__version__}",
    }


def parity_check(model, model_bytes: bytes, run: Run, labels: tuple[str, ...]) -> dict:
    """Compare the .tflite with the Keras model on the run's validation split."""
    import tempfile

    from edgeposinv.runtime import TFLiteClassifier

    index = scan_dataset(run.data_dir) if run.data_dir.is_dir() else None
    val_paths = [p for p in run.split_paths("val") if p.is_file()]
    if index is None or not val_paths:
        log.warning("validation images of the run are not available; parity check skipped")
        return {"checked": False}
    records = tuple(ImageRecord(p, p.parent.name) for p in val_paths)
    data = load_images(DatasetIndex(run.data_dir, labels, records), run.contract.image_size_px, labels=labels, show_progress=False)
    keras_probs = model.predict(data.images.astype(np.float32), verbose=0, batch_size=64)
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(model_bytes)
        f.flush()
        clf = TFLiteClassifier(f.name, threads=os.cpu_count() or 1)
        lite_probs = np.stack([clf.predict_proba(x) for x in data.images])
    k_top, l_top = keras_probs.argmax(1), lite_probs.argmax(1)
    return {
        "checked": True,
        "n": int(len(data.images)),
        "top1_agreement": float((k_top == l_top).mean()),
        "keras_top1": float((k_top == data.label_ids).mean()),
        "tflite_top1": float((l_top == data.label_ids).mean()),
        "mean_abs_prob_diff": float(np.abs(keras_probs - lite_probs).mean()),
    }


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def export_run(
    run_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    spec: QuantSpec = QuantSpec.int8(),
    overwrite: bool = False,
    seed: int = 0,
) -> ExportResult:
    """Convert the run in ``run_dir`` and write ``out_path`` (.tflite) plus its ``.json`` sidecar."""
    out_path = Path(out_path)
    if out_path.suffix != ".tflite":
        raise ConfigError(f"--out must name a .tflite file. Got {out_path}.")
    check_can_write(out_path, overwrite)
    check_can_write(sidecar_path(out_path), overwrite)
    run = read_run(run_dir)
    model = load_keras_model(run)
    calibration = calibration_images(run, spec, seed) if spec.mode == "int8" else None
    log.info("converting %s to %s TFLite", run.root, spec.mode)
    converted = convert(model, spec, calibration)
    description = model_description(run, spec)
    model_bytes = write_entries(converted, {CONTRACT_NAME: canonical_json(description)})
    parity = parity_check(model, model_bytes, run, run.labels)
    if parity.get("checked"):
        log.info(
            "parity on %d validation images: top-1 agreement %.3f, keras %.3f, tflite %.3f",
            parity["n"], parity["top1_agreement"], parity["keras_top1"], parity["tflite_top1"],
        )
    sidecar = {
        **description,
        "size_bytes": len(model_bytes),
        "calibration": (
            None if spec.mode != "int8"
            else {"source": str(spec.calibration_dir) if spec.calibration_dir else "training split sample",
                  "n_images": int(len(calibration))}
        ),
        "provenance": {"run": str(Path(run_dir)), "train": run.config.get("train"),
                       "dataset": run.config.get("dataset", {}).get("path"),
                       "versions": run.config.get("versions")},
        "parity": parity,
    }
    atomic_write_json(sidecar_path(out_path), sidecar)  # the model last: its presence means both are complete
    atomic_write_bytes(out_path, model_bytes)
    return ExportResult(out_path, sidecar_path(out_path), len(model_bytes), parity)
