"""The APK's zip: aapt2's output plus dex and native code, stored and aligned as
``zipalign -p`` does (native code to 16 KB pages)."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

__all__ = ["SO_ALIGNMENT_BYTES", "assemble", "native_code_offsets"]

#: zipalign's extra field (id, size, alignment, padding); apksigner keeps the alignment it names.
_ALIGNMENT_FIELD = 0xD935
#: Native code is aligned for 16 KB pages in the zip, as AGP 8.5+ does, so the APK installs on
#: 16 KB-page phones (whether the libraries' own segments load there is another matter).
SO_ALIGNMENT_BYTES = 16384


def _write_stored(dst: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes, align: int) -> None:
    """One uncompressed entry whose data starts at a multiple of ``align`` in the file."""
    info.compress_type = zipfile.ZIP_STORED
    assert dst.fp is not None
    data_start = dst.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 6  # local header, field
    pad = -data_start % align
    info.extra = struct.pack("<HHH", _ALIGNMENT_FIELD, 2 + pad, align) + bytes(pad)
    dst.writestr(info, data)
    info.extra = b""  # the padding belongs in the local header only, not the central directory


def assemble(base: Path, dex: Path, so_files: dict[str, bytes], out: Path) -> None:
    """aapt2's APK plus the dex files and the native code. Models, resources.arsc and native code
    are stored, 4-byte aligned (native code 16 KB): what ``zipalign -p`` does, with 16 KB pages."""
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            info.extra = b""
            # Models stored, whatever this aapt2's '-0' did to assets: the app memory-maps them.
            if info.filename.endswith(".tflite") or info.compress_type == zipfile.ZIP_STORED:
                _write_stored(dst, info, data, 4)
            else:
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        for d in sorted(dex.glob("classes*.dex")):
            dst.write(d, d.name, compress_type=zipfile.ZIP_DEFLATED)
        for name, so in sorted(so_files.items()):
            entry = zipfile.ZipInfo(name, date_time=(2010, 1, 1, 0, 0, 0))
            _write_stored(dst, entry, so, SO_ALIGNMENT_BYTES)


def native_code_offsets(apk: str | os.PathLike) -> dict[str, int]:
    """Where each ``lib/*.so`` entry's data starts in the APK file (for alignment checks)."""
    offsets = {}
    with zipfile.ZipFile(apk) as z, open(apk, "rb") as f:
        for info in z.infolist():
            if info.filename.startswith("lib/") and info.filename.endswith(".so"):
                f.seek(info.header_offset + 26)
                name_len, extra_len = struct.unpack("<HH", f.read(4))
                offsets[info.filename] = info.header_offset + 30 + name_len + extra_len
    return offsets
