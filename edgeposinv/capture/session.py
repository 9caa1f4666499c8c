"""The capture loop: one loop for every source, headless (timed) or with a guided preview."""

from __future__ import annotations

import logging
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeposinv.capture.guide import GuideConfig, GuideStep, draw_guide, draw_status
from edgeposinv.capture.preview import PreviewWindow, display_available
from edgeposinv.capture.quality import QualityConfig, QualityGates
from edgeposinv.capture.sources import Frame, FrameSource, SourceError, open_source
from edgeposinv.capture.writer import (
    CaptureWriteError,
    DatasetWriter,
    check_label,
    read_manifest,
    utc_timestamp,
)
from edgeposinv.errors import ParameterError
from edgeposinv.util.progress import progress
from edgeposinv.util.signals import StopFlag, stop_on_signals

log = logging.getLogger(__name__)

_OWNER = "CaptureConfig"


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture, from where, and how strictly (see ``edgeposinv capture --help``)."""

    out_dir: Path
    labels: tuple[str, ...]
    source: str = "0"
    preview: bool = True
    count: int | None = None
    every_ms: int = 500
    max_frames: int | None = None
    guide: GuideConfig = field(default_factory=GuideConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    image_format: str = "jpg"
    resolution: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if not self.labels:
            raise ParameterError("labels", [], "must name at least one label", owner=_OWNER)
        for name in self.labels:
            check_label(name)
        if len(set(self.labels)) != len(self.labels):
            raise ParameterError(
                "labels", ",".join(self.labels), "must not list a label twice", owner=_OWNER
            )
        if self.count is not None and self.count < 1:
            raise ParameterError("count", self.count, "must be at least 1", owner=_OWNER)
        if self.every_ms < 0:
            raise ParameterError(
                "every_ms", self.every_ms, "must be at least 0 (0 = every frame)", owner=_OWNER
            )
        if self.max_frames is not None and self.max_frames < 1:
            raise ParameterError("max_frames", self.max_frames, "must be at least 1", owner=_OWNER)


@dataclass
class CaptureSummary:
    """What one run did; ``lines()`` is what the CLI prints."""

    out_dir: Path
    session: str
    source: str
    mode: str
    quality: QualityConfig
    kept: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
    rejected_files: list[tuple[str, str]] = field(
        default_factory=list
    )  # folder import: (file, why)
    sharpness_seen: list[float] = field(default_factory=list, repr=False)
    frames_read: int = 0
    candidates: int = 0
    undone: int = 0
    stopped: str = "end of source"
    signal: int | None = None

    def lines(self) -> list[str]:
        kept = ", ".join(f"{k}: {v}" for k, v in sorted(self.kept.items())) or "none"
        out = [
            f"Session {self.session} ({self.mode}, {self.source}): kept {sum(self.kept.values())} image(s) "
            f"({kept}) in {self.out_dir}; stopped: {self.stopped}",
            f"  frames read {self.frames_read}, considered {self.candidates}",
            f"  rejected as blurry: {self.rejected['blurry']} (sharpness < --min-sharpness {self.quality.min_sharpness:g})",
            f"  rejected as near-duplicates: {self.rejected['duplicate']} (change < --min-change {self.quality.min_change:g})",
        ]
        if self.candidates and self.rejected["blurry"] > self.candidates / 2:
            median = float(np.median(self.sharpness_seen))
            out.append(
                f"  more than half the frames were rejected as blurry (median sharpness {median:.1f}); "
                "if they look sharp, lower --min-sharpness (sharpness depends on resolution and scene)"
            )
        if self.flagged:
            out.append(
                "  flagged exposure (kept): "
                + ", ".join(f"{k}: {v}" for k, v in sorted(self.flagged.items()))
            )
        if self.undone:
            out.append(f"  undone: {self.undone}")
        if self.rejected_files:
            out.append(f"  rejected file(s), not copied ({len(self.rejected_files)}):")
            out += [f"    {name}: {why}" for name, why in self.rejected_files]
        if self.problems:
            out.append(f"  skipped {len(self.problems)} file(s), not copied:")
            out += [f"    {path}: {reason}" for path, reason in self.problems]
        return out


class _Run:
    """State of one capture run (current label, counts, undo stack, coverage)."""

    def __init__(
        self,
        config: CaptureConfig,
        source: FrameSource,
        writer: DatasetWriter,
        summary: CaptureSummary,
        notify: Callable[[str], None],
    ) -> None:
        self.config, self.source, self.writer, self.summary, self.notify = (
            config,
            source,
            writer,
            summary,
            notify,
        )
        self.gates = QualityGates(config.quality)
        self.label_i = 0
        self.guided = source.kind != "folder"
        g = config.guide
        self.coverage = {name: np.zeros((g.rows, g.cols), np.int64) for name in config.labels}
        self.n_label: Counter = (
            Counter()
        )  # kept images per label, earlier runs included (guide position)
        entries, _ = read_manifest(writer.root)
        for e in entries:
            if e.get("label") in self.coverage:
                self.n_label[e["label"]] += 1
                self._cover(e, +1)
        self.undo_stack: list[tuple[dict, np.ndarray | None]] = []
        self.message = ""

    @property
    def label(self) -> str:
        return self.config.labels[self.label_i]

    def step(self) -> GuideStep:
        return self.config.guide.step(self.n_label[self.label], self.label)

    def _cover(self, entry: dict, delta: int) -> None:
        guide = entry.get("guide") or {}
        cov = self.coverage.get(str(entry.get("label")))
        if cov is not None and guide.get("grid") == list(cov.shape):
            r, c = guide.get("cell", (-1, -1))
            if 0 <= r < cov.shape[0] and 0 <= c < cov.shape[1]:
                cov[r, c] += delta

    def take(self, frame: Frame) -> dict | None:
        """Judge one candidate frame and keep it if it passes; returns the manifest entry."""
        self.summary.candidates += 1
        label = self.label
        verdict, thumb = self.gates.judge(frame.image, label)
        self.summary.sharpness_seen.append(verdict.sharpness)
        if not verdict.kept:
            self.summary.rejected[verdict.reject] += 1
            detail = (
                f"sharpness {verdict.sharpness:.1f}"
                if verdict.reject == "blurry"
                else f"change {verdict.change:.4f}"
            )
            self.message = f"rejected: {verdict.reject} ({detail})"
            if frame.name:
                self.summary.rejected_files.append((frame.name, self.message.split(": ", 1)[1]))
            log.debug("frame %d %s", frame.index, self.message)
            return None
        step = self.step()
        h, w = frame.image.shape[:2]
        fields: dict = {
            "source": self.source.manifest_source(),
            "device": {**self.source.device(), "width": int(w), "height": int(h)},
        }
        if self.guided:
            fields["guide"] = step.to_manifest()
        fields["sharpness"] = round(verdict.sharpness, 3)
        fields["exposure"] = verdict.exposure
        if self.source.kind == "video":
            fields["frame_index"] = frame.index
        if frame.name:
            fields["original"] = frame.name
        fields["timestamp"] = utc_timestamp()
        if frame.data is not None:
            data, suffix = frame.data, frame.suffix or self.writer.suffix
        else:
            data, suffix = self.writer.encode(frame.image), self.writer.suffix
        try:
            entry = self.writer.write(label, data, suffix, fields)
        except CaptureWriteError as e:
            raise CaptureWriteError(
                f"{e} ({sum(self.summary.kept.values())} image(s) kept in this session)"
            ) from None
        self.undo_stack.append((entry, self.gates.reference(label)))
        self.gates.accept(label, thumb)
        self.summary.kept[label] += 1
        self.n_label[label] += 1
        self._cover(entry, +1)
        if verdict.exposure != "ok":
            self.summary.flagged[verdict.exposure] += 1
        self.message = f"kept {entry['path']}" + (
            "" if verdict.exposure == "ok" else f" (flag: {verdict.exposure})"
        )
        return entry

    def undo(self) -> None:
        if not self.undo_stack:
            self.message = "nothing to undo in this session"
            return
        entry, prev_thumb = self.undo_stack.pop()
        self.writer.undo(entry)
        label = entry["label"]
        self.summary.kept[label] -= 1
        self.summary.undone += 1
        self.n_label[label] -= 1
        self._cover(entry, -1)
        self.gates.forget(label, prev_thumb)
        self.message = f"undone: {entry['path']}"

    def counts(self) -> dict[str, int]:
        return {name: self.n_label[name] for name in self.config.labels}


def _frames(source: FrameSource, mode: str) -> Iterator[Frame]:
    total = None
    if source.kind == "folder":
        total = len(source.files)  # type: ignore[attr-defined]
    elif source.kind == "video":
        total = source.device().get("frame_count") or None
    return progress(
        source.frames(),
        desc=f"capture {source.id}",
        unit="frame",
        total=total,
        disable=source.live or mode == "preview",
    )


def _headless(run: _Run, stop: StopFlag) -> str:
    cfg, summary = run.config, run.summary
    live = run.source.live
    next_ms = float(cfg.every_ms) if live else 0.0
    last_prompt = None
    kept_before = sum(summary.kept.values())
    for frame in _frames(run.source, "headless"):
        if run.guided and run.step().prompt() != last_prompt:
            last_prompt = run.step().prompt()
            run.notify(
                f"now: {last_prompt}" + (f" (label {run.label})" if len(cfg.labels) > 1 else "")
            )
        if stop.signum is not None:
            return "signal"
        summary.frames_read += 1
        if run.source.kind != "folder" and frame.time_ms + 1e-6 < next_ms:
            continue
        if cfg.every_ms > 0:
            next_ms = (frame.time_ms // cfg.every_ms + 1) * cfg.every_ms
        run.take(frame)
        if cfg.count is not None and sum(summary.kept.values()) - kept_before >= cfg.count:
            return f"--count {cfg.count} reached"
        if cfg.max_frames is not None and summary.candidates >= cfg.max_frames:
            return f"--max-frames {cfg.max_frames} reached"
        if stop.signum is not None:
            return "signal"
    return "end of source"


def _preview(run: _Run, stop: StopFlag, window: PreviewWindow) -> str:
    cfg, summary = run.config, run.summary
    burst, next_burst = False, 0.0
    kept_before = sum(summary.kept.values())
    fps = float(getattr(run.source, "fps", 0.0))
    wait_ms = (
        max(1, int(1000 / fps)) if not run.source.live and fps > 0 else 1
    )  # play videos in real time
    for frame in _frames(run.source, "preview"):
        if stop.signum is not None:
            return "signal"
        summary.frames_read += 1
        shown = draw_guide(frame.image, run.step()) if run.guided else frame.image.copy()
        draw_status(shown, run.label, run.counts(), run.coverage[run.label], burst, run.message)
        action = window.show(shown, wait_ms)
        if action == "quit" or window.closed():
            return "quit key"
        if action == "burst":
            burst, next_burst = not burst, frame.time_ms
            run.message = "burst on" if burst else "burst off"
        elif action in ("next", "previous"):
            run.label_i = (run.label_i + (1 if action == "next" else -1)) % len(cfg.labels)
            run.message = f"label: {run.label}"
        elif action == "undo":
            run.undo()
        if action == "capture" or (burst and frame.time_ms >= next_burst):
            if burst:
                next_burst = frame.time_ms + cfg.every_ms
            run.take(frame)
            if cfg.count is not None and sum(summary.kept.values()) - kept_before >= cfg.count:
                return f"--count {cfg.count} reached"
        if cfg.max_frames is not None and summary.candidates >= cfg.max_frames:
            return f"--max-frames {cfg.max_frames} reached"
    return "end of source"


def run_capture(
    config: CaptureConfig,
    notify: Callable[[str], None] = log.info,
    window: PreviewWindow | None = None,
) -> CaptureSummary:
    """Capture (or import) images into ``config.out_dir`` with the guide and the quality gates.

    SIGINT/SIGTERM stop the run after the current image; everything kept stays listed.
    ``window`` replaces the OpenCV preview window (anything with ``show``, ``closed``, ``close``).
    """
    source = open_source(config.source, config.resolution)
    try:
        writer = DatasetWriter(config.out_dir, config.image_format)
        if window is None and config.preview and source.kind != "folder":
            ok, why = display_available()
            if ok:
                import cv2

                try:
                    window = PreviewWindow()
                except cv2.error as e:
                    why = f"OpenCV cannot open a window ({str(e).strip().splitlines()[-1]})"
            if window is None:
                notify(
                    f"Note: {why}; capturing headless (as with --no-preview): "
                    f"a capture every {config.every_ms} ms, follow the printed guide"
                )
        mode = "preview" if window else "headless"
        summary = CaptureSummary(
            Path(config.out_dir), writer.session, source.describe(), mode, config.quality
        )
        run = _Run(config, source, writer, summary, notify)
        with stop_on_signals() as stop:
            try:
                summary.stopped = _preview(run, stop, window) if window else _headless(run, stop)
            except SourceError as e:
                n = sum(summary.kept.values())
                raise SourceError(
                    f"{e} ({n} image(s) kept in {config.out_dir} are complete and listed)"
                ) from None
            finally:
                if window:
                    window.close()
        if stop.signum is not None:
            summary.signal = stop.signum
            summary.stopped = (
                f"{signal.Signals(stop.signum).name} received (the last image was finished)"
            )
        summary.problems = list(source.problems)
        return summary
    finally:
        source.close()
