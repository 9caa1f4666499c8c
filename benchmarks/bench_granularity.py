"""Can int8 MobileNetV2-0.35 reach 0.3x the float32 size by giving some layers one scale?

    python benchmarks/bench_granularity.py [--run RUN] [--limits 2.1 3 4 6 8]

An experiment behind the size figures in ``models/README.md``, not an export mode. The
converter quantizes every convolution per output channel: one float32 weight scale, one
float32 bias scale and one int64 zero point per channel. On a model as small as
MobileNetV2-0.35 that is the difference between 0.30x and 0.33x of the float32 file.

For each ``--limits`` value L, this rewrites the int8 model so that every convolution
whose per-channel weight ranges differ by at most a factor of L (among live channels)
uses a single scale, requantizing its weights and biases from the per-channel values,
and reports the size, validation top-1 and agreement with the per-channel model. Also
prints the size ratio with tensor names removed from both files (the smallest the
standard per-channel format gets without dropping any quantization parameter).

Without ``--run`` it trains the same run as ``bench_export.py`` (frozen ImageNet
MobileNetV2-0.35, head fine-tuned on ../shared/datasets/sign_digits).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

_LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_LIVE = (
    1e-3  # a channel whose weight range is under this fraction of the largest is dead either way
)


def _per_channel_layers(model):
    """(operator, weight tensor, float weights, spread) of every per-channel layer of a ModelT."""
    from ai_edge_litert import schema_py_generated as schema

    from edgeposinv.tflite.inspect import enum_names

    names = enum_names(schema.BuiltinOperator)
    sg = model.subgraphs[0]
    codes = [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in model.operatorCodes]
    for op in sg.operators:
        if codes[op.opcodeIndex] not in _LAYER_OPS:
            continue
        w = sg.tensors[op.inputs[1]]
        q = w.quantization
        if q is None or q.scale is None or len(q.scale) < 2:
            continue
        axis = q.quantizedDimension
        ints = (
            np.frombuffer(bytes(model.buffers[w.buffer].data), np.int8)
            .reshape(w.shape)
            .astype(np.float64)
        )
        shape = [1] * ints.ndim
        shape[axis] = -1
        weights = ints * np.asarray(q.scale, np.float64).reshape(shape)
        ranges = np.moveaxis(np.abs(weights), axis, 0).reshape(len(q.scale), -1).max(1)
        live = ranges[ranges > _LIVE * ranges.max()]
        yield op, w, weights, float(ranges.max() / live.min())


def per_tensor_where(model_bytes: bytes, max_spread: float) -> tuple[bytes, list[str]]:
    """The model with every layer of spread <= ``max_spread`` requantized to one scale."""
    from ai_edge_litert import schema_py_generated as schema

    from edgeposinv.tflite.metadata import _FILE_IDENTIFIER, _SharingBuilder

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    sg = model.subgraphs[0]
    changed = []
    for op, w, weights, spread in list(_per_channel_layers(model)):
        if spread > max_spread:
            continue
        scale = np.float32(np.abs(weights).max() / 127.0)
        ints = np.clip(np.round(weights / np.float64(scale)), -127, 127).astype(np.int8)
        model.buffers[w.buffer].data = ints.ravel().view(np.uint8)
        w.quantization.scale, w.quantization.zeroPoint = (
            np.array([scale], np.float32),
            np.array([0], np.int64),
        )
        w.quantization.quantizedDimension = 0
        if (
            len(op.inputs) > 2 and op.inputs[2] >= 0
        ):  # int32 bias, scale = input scale x weight scale
            b = sg.tensors[op.inputs[2]]
            bias = np.frombuffer(bytes(model.buffers[b.buffer].data), np.int32).astype(
                np.float64
            ) * np.asarray(b.quantization.scale, np.float64)
            bias_scale = np.float32(
                np.float64(sg.tensors[op.inputs[0]].quantization.scale[0]) * np.float64(scale)
            )
            model.buffers[b.buffer].data = (
                np.round(bias / np.float64(bias_scale)).astype(np.int32).view(np.uint8)
            )
            b.quantization.scale, b.quantization.zeroPoint = (
                np.array([bias_scale], np.float32),
                np.array([0], np.int64),
            )
            b.quantization.quantizedDimension = 0
        changed.append(f"{w.name.decode('utf-8').split('/')[1]} ({spread:.1f}x)")
    builder = _SharingBuilder(len(model_bytes) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output()), changed


def _names_bytes(model_bytes: bytes) -> int:
    from edgeposinv.tflite.inspect import inspect_model

    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(model_bytes)
        f.flush()
        return inspect_model(f.name)["size_parts"]["tensor_names"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--run",
        type=Path,
        help="a trained run folder (default: train bench_export's MobileNetV2 run)",
    )
    ap.add_argument(
        "--limits",
        type=float,
        nargs="+",
        default=[2.1, 3.0, 4.0, 6.0, 8.0],
        help="largest per-channel range spread a layer may have to get one scale",
    )
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()

    from bench_export import DATA, WEIGHTS, train_mobilenet_run

    from edgeposinv.data.calibration import load_calibration
    from edgeposinv.export.description import embed_metadata, model_description
    from edgeposinv.export.export import validation_images
    from edgeposinv.export.parity import open_classifier
    from edgeposinv.export.quantize import QuantSpec, convert, load_run_model
    from edgeposinv.training.runs import read_run
    from edgeposinv.util.machine import machine_info

    run_dir = args.run
    if run_dir is None:
        for path in (WEIGHTS, DATA):
            if not path.exists():
                print(f"skipped: {path} is not present (../shared holds the real data and weights)")
                return 0
        run_dir = (
            args.work or Path(tempfile.mkdtemp(prefix="bench-granularity-"))
        ) / "run_mobilenet_v2"
        train_mobilenet_run(DATA, run_dir, 96, 6, seed=0)
    run = read_run(run_dir)
    model = load_run_model(run)
    val = validation_images(run)
    spec = QuantSpec.int8()
    calibration, _ = load_calibration(run, None, spec.calibration_size, 32, seed=0)
    t0 = time.monotonic()
    f32 = convert(model, QuantSpec.float32())
    i8 = convert(model, spec, calibration)
    print(f"converted in {time.monotonic() - t0:.0f}s")
    f32_size = len(embed_metadata(f32, model_description(run, QuantSpec.float32())))

    def measure(converted: bytes) -> tuple[int, np.ndarray]:
        final = embed_metadata(converted, model_description(run, spec))
        clf = open_classifier(final, 1)
        return len(final), np.array([int(np.argmax(clf.predict_proba(x))) for x in val.images])

    base_size, base_pred = measure(i8)
    m = machine_info()
    print(f"\nrun {run_dir}; validation split: {len(val.images)} images; machine: {m['cpu']}\n")
    print(
        "| per-tensor where spread <= | layers given one scale | size KiB | x float32 | top-1 | agree w/ per-channel |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| (converter: all per-channel) | 0 | {base_size / 1024:.1f} | {base_size / f32_size:.3f} | "
        f"{(base_pred == val.label_ids).mean():.1%} | 100.0% |"
    )
    for limit in args.limits:
        rewritten, changed = per_tensor_where(i8, limit)
        size, pred = measure(rewritten)
        print(
            f"| {limit:g} | {len(changed)} | {size / 1024:.1f} | {size / f32_size:.3f} | "
            f"{(pred == val.label_ids).mean():.1%} | {(pred == base_pred).mean():.1%} |"
        )
        print(f"|   | {', '.join(changed)} | | | | |")
    names_i8, names_f32 = _names_bytes(i8), _names_bytes(f32)
    print(
        f"\nper-channel int8 with tensor names removed from both files: "
        f"{(base_size - names_i8) / (f32_size - names_f32):.3f}x float32 "
        f"(names: {names_i8 / 1024:.1f} KiB int8, {names_f32 / 1024:.1f} KiB float32)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
