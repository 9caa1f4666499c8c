"""Where frames come from: a camera index, a stream URL, a video file or a folder of photos.

Every source yields :class:`Frame` objects to the same capture loop; only how the frames
arrive differs. Live sources (camera, stream) time-stamp frames with the wall clock, video
files with their own timeline, so ``--every-ms`` means the same thing for both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeposinv.data.images import IMAGE_EXTENSIONS, is_image_name
from edgeposinv.errors import ParameterError, SourceError

log = logging.getLogger(__name__)

#: Camera indices probed to tell the user which ones open.
PROBE_INDICES = range(10)
#: Failed reads in a row after which a live source counts as stopped.
MAX_FAILED_READS = 25


@dataclass
class Frame:
    """One candidate image (BGR) with where it came from."""

    image: np.ndarray
    time_ms: float
    index: int
    data: bytes | None = None  # original file bytes (folder import copies them untouched)
    suffix: str | None = None
    name: str | None = None


class FrameSource:
    """Base class: ``kind`` and ``id`` go to the manifest's ``source`` field."""

    kind = ""
    live = False

    def __init__(self, spec: str) -> None:
        self.id = spec
        self.problems: list[tuple[str, str]] = []  # (file, reason) for inputs that were skipped

    def describe(self) -> str:
        return f"{self.kind} {self.id if self.kind == 'stream' else getattr(self, 'spec', self.id)}"

    def manifest_source(self) -> dict:
        return {"kind": self.kind, "id": self.id}

    def device(self) -> dict:
        return {}

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CaptureSource(FrameSource):
    """A ``cv2.VideoCapture``: camera index, stream URL or video file."""

    def __init__(self, spec: str, kind: str, resolution: tuple[int, int] | None = None) -> None:
        super().__init__(spec)
        self.kind = kind
        self.spec = spec
        if kind == "video":
            self.id = Path(spec).name
        elif kind == "stream":
            self.id = _without_password(spec)
        self.live = kind in ("camera", "stream")
        self.requested = resolution
        target = int(spec) if kind == "camera" else spec
        with quiet_opencv():
            self.cap = cv2.VideoCapture(target)
            if not self.cap.isOpened():
                self.cap.release()
                raise SourceError(self._open_error())
        if resolution and kind == "camera":
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, resolution[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, resolution[1])
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._size: tuple[int, int] | None = None

    def _open_error(self) -> str:
        if self.kind == "camera":
            opened = [str(i) for i in PROBE_INDICES if i != int(self.id) and _camera_opens(i)]
            found = (
                f"indices that did open: {', '.join(opened)}"
                if opened
                else (f"no camera index from {PROBE_INDICES[0]} to {PROBE_INDICES[-1]} opened")
            )
            return f"Cannot open camera {self.id} ({found}); pass one of those as 'source', or check the cable/permissions"
        if self.kind == "stream":
            return f"Cannot open the stream {self.id}; check the URL, the network and that OpenCV's FFmpeg backend supports it"
        return f"Cannot open the video {self.spec}: OpenCV cannot decode it; re-encode it (e.g. to H.264 .mp4) or pass a folder of photos"

    def device(self) -> dict:
        info: dict[str, Any] = {"backend": self.cap.getBackendName()}
        if self._size:
            info["width"], info["height"] = self._size
        if self.fps > 0:
            info["fps"] = round(self.fps, 3)
        if self.requested:
            info["requested_width"], info["requested_height"] = self.requested
        if self.kind == "video":
            info["frame_count"] = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return info

    def frames(self) -> Iterator[Frame]:
        index, failed = 0, 0
        start = time.monotonic()
        while True:
            ok, image = self.cap.read()
            if not ok or image is None:
                if not self.live:
                    if index == 0:
                        raise SourceError(
                            f"The video {self.spec} opened but delivered no frames; it may be empty or damaged"
                        )
                    return
                failed += 1
                if failed >= MAX_FAILED_READS:
                    raise SourceError(
                        f"The {self.describe()} stopped delivering frames after {index} frame(s); "
                        "check that it is still connected and not used by another program"
                    )
                time.sleep(0.02)
                continue
            failed = 0
            self._size = (int(image.shape[1]), int(image.shape[0]))
            if self.live:
                t = (time.monotonic() - start) * 1000.0
            elif self.fps > 0:
                t = index * 1000.0 / self.fps
            else:
                t = float(self.cap.get(cv2.CAP_PROP_POS_MSEC))
            yield Frame(image, t, index)
            index += 1

    def close(self) -> None:
        self.cap.release()


class FolderSource(FrameSource):
    """Photos in a folder (not its sub-folders), imported as copies of the original files."""

    kind = "folder"

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.path = Path(spec)
        self.id = self.path.name or spec
        self.files = sorted(p for p in self.path.iterdir() if not p.name.startswith("."))
        subdirs = [p.name for p in self.files if p.is_dir()]
        if subdirs:
            log.warning(
                "Folder import reads only the files of %s; sub-folders not imported: %s",
                self.path,
                ", ".join(subdirs),
            )
        self.files = [p for p in self.files if p.is_file()]
        if not self.files:
            raise SourceError(
                f"The folder {self.path} has no files to import (looked for {', '.join(IMAGE_EXTENSIONS)})"
            )

    def device(self) -> dict:
        return {"backend": "file"}

    def frames(self) -> Iterator[Frame]:
        for i, p in enumerate(self.files):
            if not is_image_name(p):
                self.problems.append(
                    (
                        str(p),
                        f"not an image file (extension {p.suffix or 'none'}; expected {', '.join(IMAGE_EXTENSIONS)})",
                    )
                )
                continue
            try:
                data = p.read_bytes()
            except OSError as e:
                self.problems.append((str(p), f"cannot read ({e.strerror})"))
                continue
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
            if image is None or image.size == 0:
                self.problems.append(
                    (str(p), "corrupt or not decodable (empty or damaged image data)")
                )
                continue
            suffix = ".jpg" if p.suffix.lower() == ".jpeg" else p.suffix.lower()
            yield Frame(image, 0.0, i, data=data, suffix=suffix, name=p.name)


def _without_password(url: str) -> str:
    """The URL for the manifest and messages, with any password masked."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings while probing: our error message says what went wrong."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _camera_opens(index: int) -> bool:
    cap = cv2.VideoCapture(index)
    try:
        return bool(cap.isOpened())
    finally:
        cap.release()


def open_source(spec: str, resolution: tuple[int, int] | None = None) -> FrameSource:
    """Open ``spec``: a camera index (``0``), a URL (``rtsp://…``), a video file or a folder."""
    spec = str(spec)
    if spec.isdigit():
        return CaptureSource(spec, "camera", resolution)
    if "://" in spec:
        return CaptureSource(spec, "stream")
    path = Path(spec)
    if path.is_dir():
        return FolderSource(spec)
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise SourceError(f"The video {spec} is not readable; check its permissions")
        return CaptureSource(spec, "video")
    raise ParameterError(
        "source",
        spec,
        "must be a camera index, a stream URL, a video file or a folder",
        fix="no such file or folder; e.g. 0, rtsp://host/stream or clip.mp4",
    )
