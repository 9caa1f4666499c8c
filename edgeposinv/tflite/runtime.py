"""Running a .tflite image classifier with the LiteRT interpreter — no TensorFlow here.

This is the same kernel library a phone runs. The model's embedded description supplies
its labels and input contract; a third-party classifier can be given labels explicitly.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.errors import ConfigError, ModelError, ParameterError
from edgeposinv.tflite.metadata import read_contract
from edgeposinv.tflite.open_set import REJECTED, OpenSet, decide, reserved_index
from edgeposinv.tflite.preprocess import InputContract, prepare, quantize_input

__all__ = [
    "ClassifierSpec",
    "TFLiteClassifier",
    "TensorInfo",
    "read_labels_file",
    "runtime_version",
]


def runtime_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-edge-litert")
    except PackageNotFoundError:
        return "unknown"


def read_labels_file(path: str | os.PathLike) -> tuple[str, ...]:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Labels file {path} does not exist (expected one label per line)")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"Labels file {path} is not readable UTF-8 text ({e})") from None
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise ModelError(f"Labels file {path} is empty (expected one label per line)")
    return labels


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything needed to open the same classifier again (in a worker process).

    ``input_mean``/``input_std`` describe a third-party float model that expects
    normalised input ``(x - mean) / std``; edgeposinv models carry their own contract.
    """

    model_path: str
    labels: tuple[str, ...] | None = None
    input_mean: float | None = None
    input_std: float | None = None

    def __post_init__(self) -> None:
        if (self.input_mean is None) != (self.input_std is None):
            raise ConfigError(
                "Give both 'input_mean' and 'input_std' (or neither)",
                params=("input_mean", "input_std"),
            )
        if self.input_std is not None and self.input_std <= 0:
            raise ParameterError("input_std", self.input_std, "must be positive")

    def open(self, threads: int = 1) -> TFLiteClassifier:
        return TFLiteClassifier(
            self.model_path,
            threads=threads,
            labels=self.labels,
            input_mean=self.input_mean,
            input_std=self.input_std,
        )


class TFLiteClassifier:
    """A .tflite classifier with a ``(1, S, S, 3)`` input and a ``(1, C)`` output."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        threads: int = 1,
        labels: tuple[str, ...] | None = None,
        input_mean: float | None = None,
        input_std: float | None = None,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(f"Model file {self.path} does not exist")
        self.model_bytes = self.path.read_bytes()
        self.threads = threads
        try:
            self.description = read_contract(self.model_bytes) or {}
            self.interpreter = Interpreter(model_content=self.model_bytes, num_threads=threads)
            self.interpreter.allocate_tensors()
        except ModelError as e:
            raise ModelError(
                f"{self.path} is not a loadable .tflite model ({e}); re-export or re-download it"
            ) from None
        except Exception as e:  # the flatbuffer reader and the interpreter raise many types
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(
                f"{self.path} is not a loadable .tflite model ({first}); is the file truncated? re-export or re-download it"
            ) from None
        inputs, outputs = (
            self.interpreter.get_input_details(),
            self.interpreter.get_output_details(),
        )
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; an image classifier has one of each"
            )
        self._in, self._out = inputs[0], outputs[0]
        in_shape = tuple(int(d) for d in self._in["shape"])
        if len(in_shape) != 4 or in_shape[3] != 3 or in_shape[1] != in_shape[2]:
            raise ModelError(
                f"{self.path} input shape is {list(in_shape)}; expected [1, S, S, 3] (square RGB)"
            )
        out_shape = tuple(int(d) for d in self._out["shape"])
        if len(out_shape) != 2:
            raise ModelError(
                f"{self.path} output shape is {list(out_shape)}; an image classifier outputs [1, num_classes]"
            )
        carried = self.description.get("labels")
        if carried is not None:
            if not isinstance(carried, list) or not all(isinstance(x, str) for x in carried):
                raise ModelError(
                    f"{self.path}: its embedded labels are not a list of text; re-export the model"
                )
            if labels is not None and tuple(labels) != tuple(carried):
                raise ConfigError(
                    f"{self.path} carries its own labels ({', '.join(carried)}) and the "
                    f"'labels_file' lists others ({', '.join(labels)}); a model's own labels are "
                    "never replaced, drop 'labels_file'",
                    params=("labels_file",),
                )
            labels = tuple(carried)
        if labels is None:
            raise ModelError(
                f"{self.path} carries no labels; pass a 'labels_file' (one label per line)",
                params=("labels_file",),
            )
        if len(labels) != out_shape[1]:
            raise ModelError(
                f"{self.path} has {out_shape[1]} outputs but {len(labels)} labels were given; they must match"
            )
        self.labels = tuple(labels)
        if "input" in self.description:
            if input_mean is not None:
                raise ModelError(
                    f"{self.path} carries its own input contract; 'input_mean' and 'input_std' are for "
                    "third-party models only",
                    params=("input_mean", "input_std"),
                )
            try:
                self.contract = InputContract.from_dict(self.description["input"])
            except (KeyError, TypeError, ValueError) as e:
                raise ModelError(
                    f"{self.path}: its embedded input contract is unusable ({e}); re-export the model"
                ) from None
        elif input_mean is not None and input_std is not None:
            self.contract = InputContract(
                image_size_px=in_shape[1],
                normalization_inside_model=False,
                normalization_mean=(float(input_mean),) * 3,
                normalization_std=(float(input_std),) * 3,
            )
        else:
            self.contract = InputContract(image_size_px=in_shape[1])
        supported = InputContract(image_size_px=in_shape[1])
        for key in (
            "color_order",
            "orientation",
            "crop",
            "resize_down",
            "resize_up",
            "policy_version",
        ):
            if getattr(self.contract, key) != getattr(supported, key):
                raise ModelError(
                    f"{self.path} asks for input {key}={getattr(self.contract, key)!r}; this edgeposinv implements "
                    f"{key}={getattr(supported, key)!r} (preprocessing policy v{supported.policy_version}): upgrade edgeposinv"
                )
        if self.contract.image_size_px != in_shape[1]:
            raise ModelError(
                f"{self.path}: embedded image size {self.contract.image_size_px} differs from the input tensor {in_shape[1]}"
            )
        self._input_info, self._output_info = self._info(self._in), self._info(self._out)
        info = self._input_info
        # edgeposinv's int8 exports take camera pixels unchanged (uint8, scale 1, zero point 0).
        self._pixels_as_is = (
            self.contract.normalization_inside_model
            and info.dtype == "uint8"
            and info.scale in (0.0, 1.0)
            and info.zero_point == 0
        )
        out = self._output_info
        self._out_scale, self._out_zero = np.float32(out.scale), np.float32(out.zero_point)
        self.open_set = OpenSet.from_dict(self.description.get("open_set"))
        reserved = self.open_set.reserved_label if self.open_set else None
        self.reserved_index = reserved_index(self.labels, reserved)

    @staticmethod
    def _info(detail: dict) -> TensorInfo:
        scale, zero_point = detail["quantization"]
        return TensorInfo(
            tuple(int(d) for d in detail["shape"]),
            np.dtype(detail["dtype"]).name,
            float(scale),
            int(zero_point),
        )

    @property
    def input_info(self) -> TensorInfo:
        return self._input_info

    @property
    def output_info(self) -> TensorInfo:
        return self._output_info

    @property
    def image_size_px(self) -> int:
        return self.contract.image_size_px

    @property
    def quantization(self) -> str:
        if "quantization" in self.description:
            return str(self.description["quantization"])
        return "int8" if self.input_info.dtype in ("uint8", "int8") else "float32"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_bytes).hexdigest()

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        return prepare(rgb, self.image_size_px)

    def to_tensor(self, pixels: np.ndarray) -> np.ndarray:
        """A prepared ``(S, S, 3)`` uint8 image → the ``(1, S, S, 3)`` input tensor the model expects."""
        if self._pixels_as_is:
            return np.ascontiguousarray(pixels, np.uint8)[None]
        info = self.input_info
        if not self.contract.normalization_inside_model:
            mean = np.asarray(self.contract.normalization_mean, np.float32)
            std = np.asarray(self.contract.normalization_std, np.float32)
            values = (pixels.astype(np.float32) - mean) / std
            if info.dtype == "float32":
                return values[None]
            q = np.round(values / info.scale) + info.zero_point
            limits = np.iinfo(np.dtype(info.dtype))
            return np.clip(q, limits.min, limits.max).astype(info.dtype)[None]
        return quantize_input(pixels, np.dtype(info.dtype), info.scale, info.zero_point)[None]

    def invoke_tensor(self, tensor: np.ndarray) -> np.ndarray:
        """Run one ready input tensor; return the raw output row (the bare loop of the benchmark)."""
        self.interpreter.set_tensor(self._in["index"], tensor)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"])[0].copy()

    def predict_raw(self, pixels: np.ndarray) -> np.ndarray:
        """Run one prepared ``(S, S, 3)`` uint8 image; return the raw output row."""
        return self.invoke_tensor(self.to_tensor(pixels))

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self._out_scale == 0:
            return raw.astype(np.float32)
        return (raw.astype(np.float32) - self._out_zero) * self._out_scale

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        return self.dequantize(self.predict_raw(pixels))

    @property
    def score_threshold(self) -> float | None:
        """The open-set threshold the model carries (``None``: a closed-set model)."""
        return self.open_set.score_threshold if self.open_set else None

    def decide(self, probs: np.ndarray) -> tuple[str | None, float]:
        """The model's answer for one probability row: a class label, or ``None`` for "none of
        the classes" (see :mod:`edgeposinv.tflite.open_set`), and its score."""
        idx, score = decide(probs, self.reserved_index, self.score_threshold)
        return (None if idx == REJECTED else self.labels[idx]), score

    def classify(self, pixels: np.ndarray) -> tuple[str | None, float]:
        """Run one prepared image and apply the model's open-set rule."""
        return self.decide(self.predict_proba(pixels))

    def measure_latency(self, pixels: np.ndarray, runs: int = 50, warmup: int = 5) -> dict:
        """Median and p90 of single-image invoke time (ms), after ``warmup`` invocations."""
        for _ in range(warmup):
            self.predict_raw(pixels)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.predict_raw(pixels)
            times.append((time.perf_counter() - t0) * 1000.0)
        return {
            "median": float(np.median(times)),
            "p90": float(np.percentile(times, 90)),
            "runs": runs,
            "warmup": warmup,
            "threads": self.threads,
        }
