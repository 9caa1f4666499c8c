"""What a .tflite carries, read from the flatbuffer alone — no TensorFlow, no interpreter.

Labels and the input contract (the ``edgeposinv.model`` entry and the standard TFLite
Metadata), the input/output tensors with shapes, dtypes and quantization parameters,
the operator list and the size.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

from edgeposinv.errors import ModelError
from edgeposinv.tflite.metadata import read_contract, read_entries
from edgeposinv.tflite.std_metadata import METADATA_NAME, parse_metadata, read_associated_files

_ZERO_POINT_SLOT = 10  # QuantizationParameters.zero_point in the TFLite schema (vtable offset)


def enum_names(enum_cls) -> dict[int, str]:
    """Value → name of a flatbuffers-generated enum class (e.g. ``schema.BuiltinOperator``)."""
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _tensor(schema, subgraph, index: int, dtypes: dict[int, str]) -> dict:
    t = subgraph.Tensors(index)
    d = {
        "name": t.Name().decode("utf-8"),
        "shape": [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else [],
        "dtype": dtypes.get(t.Type(), str(t.Type())).lower(),
    }
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        scales, zps = q.ScaleAsNumpy(), q.ZeroPointAsNumpy()
        d["quantization"] = (
            {"scale": float(scales[0]), "zero_point": int(zps[0])}
            if len(scales) == 1
            else {"per_channel": int(len(scales)), "axis": int(q.QuantizedDimension())}
        )
    return d


def inspect_model(path: str | os.PathLike) -> dict:
    """The facts of the model at ``path`` as a JSON-ready dict."""

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Model file {path} does not exist")
    data = path.read_bytes()
    try:
        return _facts(path, data)
    except ModelError as e:
        raise ModelError(str(e) if str(path) in str(e) else f"{path}: {e}") from None
    except Exception as e:  # a damaged flatbuffer raises many types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(
            f"{path} is not a readable .tflite model ({first}); re-export or re-download it"
        ) from None


def _facts(path: Path, data: bytes) -> dict:
    from ai_edge_litert import schema_py_generated as schema

    contract = read_contract(data)  # raises ModelError for a non-TFLite file
    entries = read_entries(data)
    model = schema.Model.GetRootAs(data, 0)
    dtypes = enum_names(schema.TensorType)
    ops_by_code = enum_names(schema.BuiltinOperator)
    sg = model.Subgraphs(0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        codes.append(
            oc.CustomCode().decode("utf-8") if oc.CustomCode() else ops_by_code.get(code, str(code))
        )
    ops = Counter(codes[sg.Operators(i).OpcodeIndex()] for i in range(sg.OperatorsLength()))
    quant_params, zero_point_vectors = 0, set()
    for i in range(sg.TensorsLength()):
        q = sg.Tensors(i).Quantization()
        if q is not None:
            quant_params += 4 * q.ScaleLength() + 4 * (q.MinLength() + q.MaxLength())
            field = q._tab.Offset(_ZERO_POINT_SLOT)
            if (
                field and q._tab.Vector(field) not in zero_point_vectors
            ):  # shared vectors count once
                zero_point_vectors.add(q._tab.Vector(field))
                quant_params += 8 * q.ZeroPointLength()
    size_parts = {  # where the bytes go: weights vs per-channel quantization parameters vs names
        "tensor_data": int(
            sum(model.Buffers(i).DataLength() for i in range(model.BuffersLength()))
        ),
        "quantization_params": int(quant_params),
        "tensor_names": int(
            sum(len(sg.Tensors(i).Name() or b"") for i in range(sg.TensorsLength()))
        ),
    }
    facts: dict = {
        "path": str(path),
        "size_bytes": len(data),
        "size_parts": size_parts,
        "sha256": hashlib.sha256(data).hexdigest(),
        "inputs": [_tensor(schema, sg, int(i), dtypes) for i in sg.InputsAsNumpy()],
        "outputs": [_tensor(schema, sg, int(i), dtypes) for i in sg.OutputsAsNumpy()],
        "ops": dict(sorted(ops.items())),
        "n_ops": int(sg.OperatorsLength()),
        "metadata_entries": sorted(entries),
        "edgeposinv": contract,
        "standard_metadata": None,
        "associated_files": sorted(read_associated_files(data)),
    }
    if METADATA_NAME in entries:
        try:
            facts["standard_metadata"] = parse_metadata(entries[METADATA_NAME])
        except ValueError as e:
            facts["standard_metadata"] = {"error": str(e)}
    sidecar = (
        path.with_suffix(".json") if path.name != "model.tflite" else path.with_name("MODEL.json")
    )
    if sidecar.is_file():
        try:
            side = json.loads(sidecar.read_text("utf-8"))
            facts["sidecar"] = {
                k: side.get(k) for k in ("parity", "gate", "size", "latency", "calibration")
            }
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            facts["sidecar"] = None
    return facts


def _tensor_line(t: dict) -> str:
    q = t.get("quantization")
    qs = (
        ""
        if not q
        else (
            f", scale {q['scale']:.6g}, zero point {q['zero_point']}"
            if "scale" in q
            else f", per-channel ({q['per_channel']} scales, axis {q['axis']})"
        )
    )
    return f"  {t['name']}: {t['shape']} {t['dtype']}{qs}"


def format_report(facts: dict) -> str:
    """Human-readable text of :func:`inspect_model`'s facts (``ModelError`` if they are incomplete)."""
    try:
        return _format_report(facts)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise ModelError(
            f"{facts.get('path')}: its embedded description is incomplete (no {e}); "
            "see it with 'as_json', or re-export the model",
            params=("as_json",),
        ) from None


def _format_report(facts: dict) -> str:
    lines = [
        f"{facts['path']}: {facts['size_bytes'] / 1024:.1f} KiB, sha256 {facts['sha256'][:16]}…"
    ]
    desc = facts.get("edgeposinv")
    if desc:
        c = desc["input"]
        lines += [
            f"Labels ({len(desc['labels'])}): {', '.join(desc['labels'])}",
            f"Input contract: {c['image_size_px']}x{c['image_size_px']} {c['color_order']}, values "
            f"{c['pixel_range'][0]}..{c['pixel_range'][1]}, normalisation (x - {c['normalization_mean'][0]}) / "
            f"{c['normalization_std'][0]} {'inside the model' if c['normalization_inside_model'] else 'by the caller'}, "
            f"orientation {c['orientation']}, crop {c['crop']}, resize {c['resize_down']} (down) / {c['resize_up']} (up)",
            f"Quantization: {desc['quantization']} (input/output {desc['io_dtype']}), arch {desc['arch']}, "
            f"{desc['generator']}",
        ]
        o = desc.get("open_set")
        if o:
            lines.append(
                f"None of the classes below score {o['score_threshold']:.4f} (temperature "
                f"{o['temperature']:.3f} baked in"
                + (f", reserved label {o['reserved_label']}" if o.get("reserved_label") else "")
                + ")"
            )
    else:
        lines.append("No edgeposinv description embedded (a foreign model).")
    std = facts.get("standard_metadata")
    if std and "error" not in std:
        inp = (std.get("inputs") or [{}])[0]
        out = (std.get("outputs") or [{}])[0]
        norm = inp.get("normalization", {})
        lines.append(
            f"Standard TFLite Metadata: {std.get('name')!r}, input {inp.get('content')} {inp.get('color_space')} "
            f"{inp.get('default_size')}, normalization mean {norm.get('mean')} std {norm.get('std')}; "
            f"output labels {[f['name'] for f in out.get('associated_files', [])]}"
        )
    elif std:
        lines.append(f"Standard TFLite Metadata unreadable: {std['error']}")
    else:
        lines.append("No standard TFLite Metadata.")
    lines += [
        "Inputs:",
        *map(_tensor_line, facts["inputs"]),
        "Outputs:",
        *map(_tensor_line, facts["outputs"]),
    ]
    parts = facts["size_parts"]
    lines.append(
        f"Size: tensor data {parts['tensor_data'] / 1024:.1f} KiB (includes metadata), quantization "
        f"parameters {parts['quantization_params'] / 1024:.1f} KiB, tensor names {parts['tensor_names'] / 1024:.1f} KiB"
    )
    lines.append(
        f"Ops ({facts['n_ops']}): " + ", ".join(f"{k} x{v}" for k, v in facts["ops"].items())
    )
    lines.append(
        f"Metadata entries: {', '.join(facts['metadata_entries']) or 'none'}; "
        f"associated files: {', '.join(facts['associated_files']) or 'none'}"
    )
    side = facts.get("sidecar")
    if side and side.get("parity", {}).get("checked"):
        p = side["parity"]
        lines.append(
            f"Parity (sidecar): keras {p['keras_top1']:.1%} vs tflite {p['tflite_top1']:.1%}, "
            f"agreement {p['top1_agreement']:.1%} on {p['n']} validation images"
        )
    return "\n".join(lines)
