"""Guided capture of a device-specific dataset with OpenCV (``edgeposinv capture``).

One frame loop (:mod:`.session`) for every source (:mod:`.sources`: camera, stream, video,
folder), a guide over a grid and angles (:mod:`.guide`), quality gates (:mod:`.quality`)
and crash-safe writing of images and ``manifest.jsonl`` (:mod:`.writer`). Needs only numpy,
OpenCV and click — no TensorFlow.
"""

from edgeposinv.capture.guide import GuideConfig, GuideStep, draw_guide, draw_status, parse_grid
from edgeposinv.capture.quality import QualityConfig
from edgeposinv.capture.session import CaptureConfig, CaptureSummary, run_capture
from edgeposinv.capture.sources import SourceError, open_source
from edgeposinv.capture.writer import CaptureWriteError, DatasetWriter, new_session_id

__all__ = [
    "CaptureConfig",
    "CaptureSummary",
    "CaptureWriteError",
    "DatasetWriter",
    "GuideConfig",
    "GuideStep",
    "QualityConfig",
    "SourceError",
    "draw_guide",
    "draw_status",
    "new_session_id",
    "open_source",
    "parse_grid",
    "run_capture",
]
