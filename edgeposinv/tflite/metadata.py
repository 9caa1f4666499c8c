"""Read and write named metadata entries inside a .tflite flatbuffer — without TensorFlow.

A .tflite model has a ``metadata`` list of ``(name, buffer)`` pairs. edgeposinv stores
its model description (labels, input contract, quantization) as canonical JSON under
:data:`CONTRACT_NAME`, so any consumer can classify with the file alone.
"""

from __future__ import annotations

import json
import struct

import flatbuffers
import numpy as np

from edgeposinv.errors import ModelError

CONTRACT_NAME = "edgeposinv.model"
CONTRACT_SCHEMA = "edgeposinv.model/1"
# Optional: the training split's 64-bit perceptual hashes, 8 bytes each, big-endian, sorted
# (edgeposinv.data.duplicates); lets evaluate tell a test set that overlaps the training data.
FINGERPRINTS_NAME = "edgeposinv.train_fingerprints/1"
_FILE_IDENTIFIER = b"TFL3"


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _root(model_bytes: bytes):
    schema = _schema()
    if len(model_bytes) < 8 or model_bytes[4:8] != _FILE_IDENTIFIER:
        raise ModelError(
            "not a TFLite flatbuffer (missing the 'TFL3' identifier); is the file truncated?"
        )
    return schema.Model.GetRootAs(model_bytes, 0)


def read_entries(model_bytes: bytes) -> dict[str, bytes]:
    """Every metadata entry of the model, name → raw bytes."""
    entries: dict[str, bytes] = {}
    try:
        model = _root(model_bytes)
        for i in range(model.MetadataLength()):
            meta = model.Metadata(i)
            buf = model.Buffers(meta.Buffer())
            if buf.Offset() > 1:  # stored outside the flatbuffer (models over 2 GB)
                data = model_bytes[buf.Offset() : buf.Offset() + buf.Size()]
            else:
                data = buf.DataAsNumpy().tobytes() if buf.DataLength() else b""
            entries[meta.Name().decode("utf-8")] = data
    except (IndexError, ValueError, TypeError, struct.error) as e:
        raise ModelError(
            f"the model's metadata cannot be read ({e}); is the file truncated?"
        ) from None
    return entries


class _SharingBuilder(flatbuffers.Builder):
    """A builder that writes each distinct 64-bit integer vector once and points every
    table that needs it at that copy.

    The only such vectors in a .tflite are quantization zero points, one 8-byte entry per
    output channel for per-channel weights and biases; they are almost all zeros, so on a
    small int8 model (MobileNetV2-0.35) writing them once removes about 15% of the file.
    Sharing a vector between tables is ordinary flatbuffers (it is how shared strings
    work); readers cannot tell the difference.
    """

    def __init__(self, initial_size: int):
        super().__init__(initial_size)
        self._shared: dict[tuple[int, bytes], int] = {}

    def CreateNumpyVector(self, x):  # noqa: N802 - flatbuffers' method name
        if x.dtype != np.int64:
            return super().CreateNumpyVector(x)
        key = (len(x), np.ascontiguousarray(x, dtype="<i8").tobytes())
        if key not in self._shared:
            self._shared[key] = super().CreateNumpyVector(x)
        return self._shared[key]


def write_entries(model_bytes: bytes, entries: dict[str, bytes]) -> bytes:
    """Return a copy of the model with ``entries`` added (replacing entries of the same name).

    Identical zero-point vectors are written once (see :class:`_SharingBuilder`)."""
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    model.metadata = [m for m in (model.metadata or []) if m.name.decode("utf-8") not in entries]
    model.buffers = model.buffers or []
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(buffer)
        meta = schema.MetadataT()
        meta.name = name.encode("utf-8")
        meta.buffer = len(model.buffers) - 1
        model.metadata.append(meta)
    builder = _SharingBuilder(len(model_bytes) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def canonical_json(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_contract(model_bytes: bytes) -> dict | None:
    """The edgeposinv model description embedded in the model, or ``None`` for a foreign model."""
    data = read_entries(model_bytes).get(CONTRACT_NAME)
    if data is None:
        return None
    try:
        contract = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"its embedded '{CONTRACT_NAME}' metadata is not valid JSON") from None
    if not isinstance(contract, dict):
        raise ModelError(f"its embedded '{CONTRACT_NAME}' metadata is not a JSON object")
    return contract


def read_fingerprints(model_bytes: bytes) -> np.ndarray | None:
    """The training-split fingerprints carried by the model (``uint64``), or ``None``."""
    data = read_entries(model_bytes).get(FINGERPRINTS_NAME)
    if data is None:
        return None
    if len(data) % 8:
        raise ModelError(
            f"its embedded '{FINGERPRINTS_NAME}' metadata has {len(data)} bytes, not a multiple of 8; "
            "export the model again"
        )
    return np.frombuffer(data, ">u8").astype(np.uint64)
