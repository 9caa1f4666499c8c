"""Standard TensorFlow Lite Metadata, written and read with the ``flatbuffers`` package.

``tflite-support`` (the official writer) cannot be installed beside TensorFlow 2.21, so
this module builds the ``ModelMetadata`` flatbuffer itself, slot by slot, following the
published schema (tflite-support ``metadata_schema.fbs``, file identifier ``M001``).
The result is stored as the model's ``TFLITE_METADATA`` metadata entry, and the label
file is packed, uncompressed, as the standard zip appended to the model — which is what
the TFLite Support library and MediaPipe Tasks read.

Only the tables an image classifier needs are written: ModelMetadata → SubGraphMetadata
→ TensorMetadata (input: ImageProperties RGB + NormalizationOptions + Stats; output:
FeatureProperties + Stats + a ``TENSOR_AXIS_LABELS`` associated file, and — for a model
with an open-set threshold — ScoreThresholdingOptions with its ``global_score_threshold``).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
from flatbuffers.table import Table

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"

# Enum values and union tags from metadata_schema.fbs.
COLOR_SPACES = {0: "UNKNOWN", 1: "RGB", 2: "GRAYSCALE"}
TENSOR_AXIS_LABELS = 2
_CONTENT_FEATURE, _CONTENT_IMAGE = 1, 2  # ContentProperties union
_UNIT_NORMALIZATION = 1  # ProcessUnitOptions union
_UNIT_SCORE_THRESHOLDING = 3


@dataclass(frozen=True)
class StdMetadata:
    """What the standard metadata says about an image classifier."""

    name: str
    description: str
    version: str
    author: str
    image_size_px: int
    color_space: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_min: float
    input_max: float
    input_description: str
    output_description: str
    labels_file: str
    score_threshold: float | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "author": self.author,
            "min_parser_version": MIN_PARSER_VERSION,
            "input": {
                "name": "image",
                "description": self.input_description,
                "content": "ImageProperties",
                "color_space": self.color_space,
                "default_size": [self.image_size_px, self.image_size_px],
                "normalization": {"mean": list(self.mean), "std": list(self.std)},
                "stats": {"min": [self.input_min], "max": [self.input_max]},
            },
            "output": {
                "name": "probability",
                "description": self.output_description,
                "content": "FeatureProperties",
                "associated_files": [{"name": self.labels_file, "type": "TENSOR_AXIS_LABELS"}],
                **(
                    {}
                    if self.score_threshold is None
                    else {"score_thresholding": {"global_score_threshold": self.score_threshold}}
                ),
            },
        }


# --- writing ---------------------------------------------------------------------------


def _table(b: flatbuffers.Builder, n_slots: int, fields: list[tuple[str, int, object]]) -> int:
    """One table: fields are (kind, slot, value) with kind 'off' | 'u8' | 'u32'."""
    b.StartObject(n_slots)
    for kind, slot, value in fields:
        if kind == "off":
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "u8":
            b.PrependUint8Slot(slot, value, 0)
        else:
            b.PrependUint32Slot(slot, value, 0)
    return b.EndObject()


def _offsets(b: flatbuffers.Builder, items: list[int]) -> int:
    b.StartVector(4, len(items), 4)
    for off in reversed(items):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _floats(b: flatbuffers.Builder, values) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(list(values)):
        b.PrependFloat32(float(v))
    return b.EndVector()


def build_metadata(meta: StdMetadata) -> bytes:
    """The ``ModelMetadata`` flatbuffer (identifier ``M001``) for ``meta``; deterministic."""
    b = flatbuffers.Builder(1024)
    s = b.CreateString
    # input tensor
    size = _table(
        b, 2, [("u32", 0, meta.image_size_px), ("u32", 1, meta.image_size_px)]
    )  # ImageSize
    color = {v: k for k, v in COLOR_SPACES.items()}[meta.color_space]
    image_props = _table(b, 2, [("u8", 0, color), ("off", 1, size)])  # ImageProperties
    in_content = _table(b, 3, [("u8", 0, _CONTENT_IMAGE), ("off", 1, image_props)])  # Content
    mean, std = _floats(b, meta.mean), _floats(b, meta.std)
    norm = _table(b, 2, [("off", 0, mean), ("off", 1, std)])  # NormalizationOptions
    unit = _table(b, 2, [("u8", 0, _UNIT_NORMALIZATION), ("off", 1, norm)])  # ProcessUnit
    units = _offsets(b, [unit])
    in_max, in_min = _floats(b, [meta.input_max]), _floats(b, [meta.input_min])
    in_stats = _table(b, 2, [("off", 0, in_max), ("off", 1, in_min)])  # Stats
    in_name, in_desc = s("image"), s(meta.input_description)
    in_tensor = _table(
        b,
        7,
        [
            ("off", 0, in_name),
            ("off", 1, in_desc),
            ("off", 3, in_content),
            ("off", 4, units),
            ("off", 5, in_stats),
        ],
    )
    # output tensor
    feature = _table(b, 0, [])  # FeatureProperties
    out_content = _table(b, 3, [("u8", 0, _CONTENT_FEATURE), ("off", 1, feature)])
    out_max, out_min = _floats(b, [1.0]), _floats(b, [0.0])
    out_stats = _table(b, 2, [("off", 0, out_max), ("off", 1, out_min)])
    file_name, file_desc = (
        s(meta.labels_file),
        s("Labels of the output tensor's classes, one per line."),
    )
    labels = _table(
        b, 4, [("off", 0, file_name), ("off", 1, file_desc), ("u8", 2, TENSOR_AXIS_LABELS)]
    )
    out_files = _offsets(b, [labels])
    out_units = None
    if meta.score_threshold is not None:
        b.StartObject(1)  # ScoreThresholdingOptions
        b.PrependFloat32Slot(0, float(meta.score_threshold), 0.0)
        thresholding = b.EndObject()
        out_units = _offsets(
            b, [_table(b, 2, [("u8", 0, _UNIT_SCORE_THRESHOLDING), ("off", 1, thresholding)])]
        )
    out_name, out_desc = s("probability"), s(meta.output_description)
    out_tensor = _table(
        b,
        7,
        [
            ("off", 0, out_name),
            ("off", 1, out_desc),
            ("off", 3, out_content),
            *([] if out_units is None else [("off", 4, out_units)]),
            ("off", 5, out_stats),
            ("off", 6, out_files),
        ],
    )
    # subgraph and model
    inputs, outputs = _offsets(b, [in_tensor]), _offsets(b, [out_tensor])
    sg_name = s("image_classifier")
    subgraph = _table(b, 7, [("off", 0, sg_name), ("off", 2, inputs), ("off", 3, outputs)])
    subgraphs = _offsets(b, [subgraph])
    name, desc, version, author, parser = (
        s(meta.name),
        s(meta.description),
        s(meta.version),
        s(meta.author),
        s(MIN_PARSER_VERSION),
    )
    root = _table(
        b,
        8,
        [
            ("off", 0, name),
            ("off", 1, desc),
            ("off", 2, version),
            ("off", 3, subgraphs),
            ("off", 4, author),
            ("off", 7, parser),
        ],
    )
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def append_associated_files(model_bytes: bytes, files: dict[str, bytes]) -> bytes:
    """Append ``files`` as the standard uncompressed zip (fixed timestamps: deterministic)."""
    buf = io.BytesIO(model_bytes)
    buf.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 0
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def read_associated_files(model_bytes: bytes) -> dict[str, bytes]:
    """The files packed in the model's appended zip ({} when there is none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except zipfile.BadZipFile:
        return {}


# --- reading ---------------------------------------------------------------------------


def _tab(buf: bytes, pos: int) -> Table:
    return Table(buf, pos)


def _field(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _string(t: Table, slot: int) -> str | None:
    o = _field(t, slot)
    return t.String(o + t.Pos).decode("utf-8") if o else None


def _u8(t: Table, slot: int) -> int:
    o = _field(t, slot)
    return t.Get(flatbuffers.number_types.Uint8Flags, o + t.Pos) if o else 0


def _u32(t: Table, slot: int) -> int:
    o = _field(t, slot)
    return t.Get(flatbuffers.number_types.Uint32Flags, o + t.Pos) if o else 0


def _f32(t: Table, slot: int) -> float:
    o = _field(t, slot)
    return t.Get(flatbuffers.number_types.Float32Flags, o + t.Pos) if o else 0.0


def _sub(t: Table, slot: int) -> Table | None:
    o = _field(t, slot)
    return _tab(t.Bytes, t.Indirect(o + t.Pos)) if o else None


def _vector_tables(t: Table, slot: int) -> list[Table]:
    o = _field(t, slot)
    if not o:
        return []
    start, n = t.Vector(o), t.VectorLen(o)
    return [_tab(t.Bytes, t.Indirect(start + 4 * i)) for i in range(n)]


def _vector_floats(t: Table, slot: int) -> list[float]:
    o = _field(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    return [
        t.Get(flatbuffers.number_types.Float32Flags, start + 4 * i) for i in range(t.VectorLen(o))
    ]


def parse_metadata(buf: bytes) -> dict:
    """Decode a ``ModelMetadata`` flatbuffer into a plain dict (the fields this module writes)."""
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        raise ValueError(
            f"not a TFLite ModelMetadata buffer (identifier {bytes(buf[4:8])!r}, expected {FILE_IDENTIFIER!r})"
        )
    root = _tab(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    out: dict = {
        "name": _string(root, 0),
        "description": _string(root, 1),
        "version": _string(root, 2),
        "author": _string(root, 4),
        "min_parser_version": _string(root, 7),
    }
    subgraphs = _vector_tables(root, 3)
    if not subgraphs:
        return out
    sg = subgraphs[0]
    out["subgraph"] = _string(sg, 0)
    out["inputs"] = [_tensor(t) for t in _vector_tables(sg, 2)]
    out["outputs"] = [_tensor(t) for t in _vector_tables(sg, 3)]
    return out


def _tensor(t: Table) -> dict:
    d: dict = {"name": _string(t, 0), "description": _string(t, 1)}
    content = _sub(t, 3)
    if content is not None:
        kind, props = _u8(content, 0), _sub(content, 1)
        if kind == _CONTENT_IMAGE and props is not None:
            d["content"] = "ImageProperties"
            d["color_space"] = COLOR_SPACES.get(_u8(props, 0), "UNKNOWN")
            size = _sub(props, 1)
            if size is not None:
                d["default_size"] = [_u32(size, 0), _u32(size, 1)]
        elif kind == _CONTENT_FEATURE:
            d["content"] = "FeatureProperties"
    for unit in _vector_tables(t, 4):
        options = _sub(unit, 1)
        if _u8(unit, 0) == _UNIT_NORMALIZATION and options is not None:
            d["normalization"] = {
                "mean": _vector_floats(options, 0),
                "std": _vector_floats(options, 1),
            }
        elif _u8(unit, 0) == _UNIT_SCORE_THRESHOLDING and options is not None:
            d["score_thresholding"] = {"global_score_threshold": _f32(options, 0)}
    stats = _sub(t, 5)
    if stats is not None:
        d["stats"] = {"min": _vector_floats(stats, 1), "max": _vector_floats(stats, 0)}
    files = _vector_tables(t, 6)
    if files:
        d["associated_files"] = [
            {
                "name": _string(f, 0),
                "type": "TENSOR_AXIS_LABELS" if _u8(f, 2) == TENSOR_AXIS_LABELS else str(_u8(f, 2)),
            }
            for f in files
        ]
    return d
