"""Quantization modes and the TFLite conversion itself.

Every mode and the options it accepts, in one table (:data:`MODE_OPTIONS`):

============  ===========================================  ==============================
mode          what it does                                 options it accepts
============  ===========================================  ==============================
float32       plain conversion, float weights and math     —
float16       weights stored as float16, float math        —
dynamic       int8 weights, float activations (dynamic     —
              range quantization), float input/output
int8          full-integer: int8 weights and activations   calibration_dir, calibration_size,
              calibrated on representative images         io ('uint8' | 'int8' | 'float32')
int8-qat      full-integer from a quantization-aware       calibration_dir, calibration_size,
              trained run (``train --qat``)                io
============  ===========================================  ==============================

An option a mode does not accept is a :class:`~edgeposinv.errors.ConfigError`, never
silently ignored. Build specs with the named constructors: ``QuantSpec.int8(...)``,
``QuantSpec.float16()``, ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.errors import ConfigError, ExportError, ParameterError

__all__ = [
    "IO_DTYPES",
    "MODE_OPTIONS",
    "QUANT_MODES",
    "QuantSpec",
    "check_spec_for_run",
    "convert",
    "is_qat_run",
    "load_run_model",
]

log = logging.getLogger(__name__)

#: mode → the options (QuantSpec fields) it accepts besides ``mode``.
MODE_OPTIONS: dict[str, tuple[str, ...]] = {
    "float32": (),
    "float16": (),
    "dynamic": (),
    "int8": ("calibration_dir", "calibration_size", "io_dtype"),
    "int8-qat": ("calibration_dir", "calibration_size", "io_dtype"),
}
QUANT_MODES = tuple(MODE_OPTIONS)
IO_DTYPES = ("uint8", "int8", "float32")
_DEFAULTS = {"calibration_dir": None, "calibration_size": 200, "io_dtype": None}


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize. Build one with a named constructor (:meth:`int8`, :meth:`float16`, ...).

    ``io_dtype`` is the type of the input/output tensors of a full-integer model
    (``None`` means the mode's default: uint8 for int8 modes, float32 otherwise).
    """

    mode: str
    calibration_dir: Path | None = None
    calibration_size: int = 200
    io_dtype: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODE_OPTIONS:
            raise ParameterError(
                "mode", self.mode, f"must be one of: {', '.join(QUANT_MODES)}", owner="QuantSpec"
            )
        accepted = MODE_OPTIONS[self.mode]
        for option, default in _DEFAULTS.items():
            if option not in accepted and getattr(self, option) != default:
                takes = ", ".join(f"'{o}'" for o in accepted) or "no options"
                raise ConfigError(
                    f"'{option}' does not apply to 'mode' {self.mode} (it takes {takes}); "
                    f"remove '{option}' or choose 'mode' int8",
                    params=(option, "mode", *accepted),
                )
        if self.io_dtype is not None and self.io_dtype not in IO_DTYPES:
            raise ParameterError(
                "io_dtype",
                self.io_dtype,
                f"must be one of: {', '.join(IO_DTYPES)}",
                owner="QuantSpec",
            )
        if self.calibration_size < 1:
            raise ParameterError(
                "calibration_size", self.calibration_size, "must be at least 1", owner="QuantSpec"
            )

    @property
    def full_integer(self) -> bool:
        return self.mode in ("int8", "int8-qat")

    @property
    def io(self) -> str:
        """The resolved input/output tensor type."""
        if self.io_dtype is not None:
            return self.io_dtype
        return "uint8" if self.full_integer else "float32"

    @property
    def needs_calibration(self) -> bool:
        return self.full_integer

    def to_dict(self) -> dict:
        """The spec as written into MODEL.json (paths left out of the embedded description)."""
        d: dict = {"mode": self.mode, "io_dtype": self.io}
        if self.full_integer:
            d["calibration_size"] = self.calibration_size
        return d

    @classmethod
    def float32(cls) -> QuantSpec:
        return cls("float32")

    @classmethod
    def float16(cls) -> QuantSpec:
        return cls("float16")

    @classmethod
    def dynamic(cls) -> QuantSpec:
        return cls("dynamic")

    @classmethod
    def int8(
        cls,
        calibration_dir: str | os.PathLike | None = None,
        io: str = "uint8",
        calibration_size: int = 200,
    ) -> QuantSpec:
        return cls("int8", Path(calibration_dir) if calibration_dir else None, calibration_size, io)

    @classmethod
    def int8_qat(
        cls,
        calibration_dir: str | os.PathLike | None = None,
        io: str = "uint8",
        calibration_size: int = 200,
    ) -> QuantSpec:
        return cls(
            "int8-qat", Path(calibration_dir) if calibration_dir else None, calibration_size, io
        )

    @classmethod
    def from_options(
        cls,
        mode: str,
        calibration_dir: str | None = None,
        io: str | None = None,
        calibration_size: int | None = None,
    ) -> QuantSpec:
        """Build from CLI options; options the mode does not take raise :class:`ConfigError`."""
        if calibration_dir and calibration_size is not None:
            raise ConfigError(
                "'calibration_size' sizes the sample of the training split; with 'calibration_dir' "
                f"{calibration_dir} every image of that folder is used; pass one of the two",
                params=("calibration_size", "calibration_dir"),
            )
        return cls(
            mode,
            Path(calibration_dir) if calibration_dir else None,
            200 if calibration_size is None else calibration_size,
            io,
        )


def _representative(calibration: np.ndarray):
    def gen():
        for img in calibration:
            sample = img[None].astype(np.float32)
            # One black and one white pixel pin the input range to 0..255, so the uint8
            # input tensor gets scale 1 / zero point 0: camera pixels feed in as is.
            sample[0, 0, 0, :], sample[0, 0, 1, :] = 0.0, 255.0
            yield [sample]

    return gen


@contextlib.contextmanager
def _converter(model, via_saved_model: bool):
    """A TFLiteConverter for a tf_keras model; through a SavedModel where asked (QAT models)."""
    from edgeposinv.training.keras_api import tf

    if not via_saved_model:
        yield tf.lite.TFLiteConverter.from_keras_model(model)
        return
    with tempfile.TemporaryDirectory(prefix="edgeposinv-savedmodel-") as tmp:
        spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32, name="pixels")
        serve = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
        tf.saved_model.save(model, tmp, signatures=serve)
        yield tf.lite.TFLiteConverter.from_saved_model(tmp)


def convert(model, spec: QuantSpec, calibration: np.ndarray | None = None) -> bytes:
    """Convert a tf_keras model (QAT-wrapped included) to .tflite bytes, deterministically.

    QAT models go through a SavedModel export; others through ``from_keras_model``, and
    through a SavedModel when that fails.
    """
    if spec.full_integer and (calibration is None or len(calibration) == 0):
        raise ExportError(
            f"'mode' {spec.mode} needs calibration images; none were loaded", params=("mode",)
        )
    if spec.mode == "int8-qat":
        return _convert(model, spec, calibration, via_saved_model=True)
    try:
        return _convert(model, spec, calibration, via_saved_model=False)
    except ExportError as e:
        log.info("from_keras_model failed (%s); converting through a SavedModel", e)
        return _convert(model, spec, calibration, via_saved_model=True)


def _convert(
    model, spec: QuantSpec, calibration: np.ndarray | None, via_saved_model: bool
) -> bytes:
    from edgeposinv.training.keras_api import tf

    with _converter(model, via_saved_model) as converter:
        if spec.mode == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif spec.mode == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif spec.full_integer:
            if calibration is None:
                raise ExportError(
                    f"'calibration' of convert is required for {spec.mode} (representative "
                    "images for the int8 ranges); got None."
                )
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = _representative(calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io = {"uint8": tf.uint8, "int8": tf.int8, "float32": tf.float32}[spec.io]
            converter.inference_input_type = io
            converter.inference_output_type = io
        try:
            return bytes(converter.convert())
        except Exception as e:  # the converter raises many types; report the first line
            raise ExportError(
                f"TFLite conversion ({spec.mode}) failed: {str(e).splitlines()[0]}"
            ) from None


def load_run_model(run):
    """Load a run's Keras model; a QAT run (``config.json`` train.qat) under tfmot's quantize scope."""
    from edgeposinv.training.runs import load_keras_model

    if not is_qat_run(run):
        return load_keras_model(run)
    try:
        import tensorflow_model_optimization  # noqa: F401 - checked here for a clear message
    except ImportError:
        raise ExportError(
            f"{run.root} was trained with quantization-aware training; loading it needs "
            "tensorflow-model-optimization (pip install 'edgeposinv[train]')"
        ) from None
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import quantize_scope

    with quantize_scope():
        with open(run.model_path, "rb") as f:
            is_hdf5 = f.read(8) == b"\x89HDF\r\n\x1a\n"
        try:
            if is_hdf5:  # model.save(path, save_format="h5"): the format QAT wrappers round-trip in
                import h5py

                with h5py.File(run.model_path, "r") as h5:
                    return keras.models.load_model(h5, compile=False)
            return keras.models.load_model(run.model_path, compile=False)
        except ValueError as e:
            raise ExportError(
                f"The QAT model {run.model_path} does not load ({str(e).splitlines()[0]}); tf_keras 2.21 "
                "cannot reload tfmot wrappers from the .keras zip format: save the QAT model with "
                "model.save(path, save_format='h5')"
            ) from None


def is_qat_run(run) -> bool:
    return bool(run.config.get("train", {}).get("qat", False))


def check_spec_for_run(spec: QuantSpec, run) -> None:
    """int8-qat needs a QAT run; a QAT run exports only with int8-qat."""
    qat = is_qat_run(run)
    if spec.mode == "int8-qat" and not qat:
        raise ConfigError(
            f"'mode' int8-qat needs a run trained with quantization-aware training, but "
            f"{run.root} was not (config.json train.qat is not true); retrain with "
            "'edgeposinv train --qat' or use 'mode' int8",
            params=("mode",),
        )
    if qat and spec.mode != "int8-qat":
        raise ConfigError(
            f"{run.root} was trained with quantization-aware training (its model holds "
            f"fake-quantization layers); export it with 'mode' int8-qat, not {spec.mode}",
            params=("mode",),
        )
