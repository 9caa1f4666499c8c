"""The capture guide: where the object should go next (grid cell) and how (angle), and its overlay.

The schedule walks every cell of the grid for one angle, then every cell for the next
angle, so a class that follows it ends up shown in every region of the frame at every
angle. Each label has its own position in the schedule. The drawing functions only touch
a numpy image, so they are tested without a window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edgeposinv.errors import ConfigError, ParameterError

DEFAULT_ANGLES = ("upright", "tilted left", "tilted right", "upside down")
#: What a ``_background`` session (none of the classes) shows instead of object angles.
BACKGROUND_PROMPTS = ("the empty scene", "other objects", "hands doing nothing")

_ROW_NAMES = {1: ("",), 2: ("top", "bottom"), 3: ("top", "middle", "bottom")}
_COL_NAMES = {1: ("",), 2: ("left", "right"), 3: ("left", "centre", "right")}


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``"RxC"`` (e.g. ``"3x3"``) into ``(rows, cols)``."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ParameterError("grid", text, "must be written ROWSxCOLS, e.g. 3x3")
    rows, cols = int(parts[0]), int(parts[1])
    if not (1 <= rows <= 8 and 1 <= cols <= 8):
        raise ParameterError("grid", f"{rows}x{cols}", "must have 1 to 8 rows and columns")
    return rows, cols


def cell_name(row: int, col: int, rows: int, cols: int) -> str:
    """A name a person can follow: ``top-left``, ``centre``, ``bottom-right``; ``r2c4`` for big grids."""
    if rows not in _ROW_NAMES or cols not in _COL_NAMES:
        return f"r{row + 1}c{col + 1}"
    r, c = _ROW_NAMES[rows][row], _COL_NAMES[cols][col]
    if (r in ("", "middle")) and c in ("", "centre"):
        return "centre"
    return "-".join(p for p in (r, c) if p)


@dataclass(frozen=True)
class GuideStep:
    """One position of the schedule."""

    grid: tuple[int, int]
    cell: tuple[int, int]
    angle: str

    @property
    def cell_name(self) -> str:
        return cell_name(*self.cell, *self.grid)

    def prompt(self) -> str:
        return f"{self.cell_name}, {self.angle}"

    def to_manifest(self) -> dict:
        return {
            "grid": list(self.grid),
            "cell": list(self.cell),
            "cell_name": self.cell_name,
            "angle": self.angle,
        }


@dataclass(frozen=True)
class GuideConfig:
    """Grid and angles to cover; ``shots_per_step`` kept images before the guide moves on."""

    rows: int = 3
    cols: int = 3
    angles: tuple[str, ...] = DEFAULT_ANGLES
    shots_per_step: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.rows <= 8 and 1 <= self.cols <= 8):
            raise ConfigError(
                f"The guide grid must have 1 to 8 rows and columns. Got {self.rows}x{self.cols}."
            )
        if not self.angles or any(not a.strip() for a in self.angles):
            raise ConfigError(
                f"The guide needs at least one non-empty angle prompt. Got {self.angles!r}."
            )
        if self.shots_per_step < 1:
            raise ConfigError(
                f"The 'shots_per_step' of GuideConfig must be >= 1. Got {self.shots_per_step}."
            )

    @property
    def n_steps(self) -> int:
        return self.rows * self.cols * len(self.angles)

    def step(self, n_kept: int, label: str | None = None) -> GuideStep:
        """The step for the ``n_kept``-th kept image of a label (0-based); wraps around.

        For the reserved ``_background`` label (none of the classes) the prompts are
        :data:`BACKGROUND_PROMPTS` — the empty scene, other objects, idle hands — at each cell."""
        from edgeposinv.tflite.open_set import RESERVED_LABEL

        angles = BACKGROUND_PROMPTS if label == RESERVED_LABEL else self.angles
        i = (n_kept // self.shots_per_step) % (self.rows * self.cols * len(angles))
        angle_i, cell_i = divmod(i, self.rows * self.cols)
        return GuideStep((self.rows, self.cols), divmod(cell_i, self.cols), angles[angle_i])


def cell_rect(
    shape: Sequence[int], grid: tuple[int, int], cell: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Pixel rectangle ``(x0, y0, x1, y1)`` (exclusive end) of ``cell`` in an image of ``shape``."""
    h, w = shape[:2]
    rows, cols = grid
    r, c = cell
    return (c * w // cols, r * h // rows, (c + 1) * w // cols, (r + 1) * h // rows)


_HIGHLIGHT = (0, 200, 255)  # BGR amber
_GRID = (255, 255, 255)
_TEXT = (255, 255, 255)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=_TEXT) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def draw_guide(frame_bgr: np.ndarray, step: GuideStep) -> np.ndarray:
    """A copy of the frame with the grid, the highlighted target cell and the angle prompt."""
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    rows, cols = step.grid
    for r in range(1, rows):
        y = r * h // rows
        cv2.line(out, (0, y), (w - 1, y), _GRID, 1, cv2.LINE_AA)
    for c in range(1, cols):
        x = c * w // cols
        cv2.line(out, (x, 0), (x, h - 1), _GRID, 1, cv2.LINE_AA)
    x0, y0, x1, y1 = cell_rect(out.shape, step.grid, step.cell)
    region = out[y0:y1, x0:x1]
    tint = np.empty_like(region)
    tint[:] = _HIGHLIGHT
    out[y0:y1, x0:x1] = cv2.addWeighted(region, 0.65, tint, 0.35, 0.0)
    cv2.rectangle(out, (x0 + 1, y0 + 1), (x1 - 2, y1 - 2), _HIGHLIGHT, 3)
    scale = max(0.4, min(w, h) / 900)
    _text(out, step.angle, (x0 + 6, min(y1 - 8, y0 + int(30 * scale) + 6)), scale, _HIGHLIGHT)
    return out


def draw_status(
    frame_bgr: np.ndarray,
    label: str,
    counts: Mapping[str, int],
    coverage: np.ndarray,
    burst: bool = False,
    message: str = "",
) -> np.ndarray:
    """Draw the current label, per-label counts and a small coverage map (in place; returns it).

    ``coverage`` is a ``(rows, cols)`` array of kept images per cell for the current label.
    """
    h, w = frame_bgr.shape[:2]
    scale = max(0.4, min(w, h) / 900)
    line = int(26 * scale) + 6
    _text(frame_bgr, f"label: {label}" + ("  [BURST]" if burst else ""), (8, line), scale * 1.2)
    for i, (name, n) in enumerate(counts.items()):
        color = _HIGHLIGHT if name == label else _TEXT
        _text(frame_bgr, f"{name}: {n}", (8, line * (i + 2)), scale, color)
    if message:
        _text(frame_bgr, message, (8, h - 10), scale)
    rows, cols = coverage.shape
    cell_px = max(6, min(w, h) // 25)
    mx0, my0 = w - cols * cell_px - 8, 8
    top = max(1, int(coverage.max()))
    for r in range(rows):
        for c in range(cols):
            v = int(coverage[r, c])
            x, y = mx0 + c * cell_px, my0 + r * cell_px
            fill = (0, int(80 + 175 * min(v, top) / top), 0) if v else (40, 40, 40)
            cv2.rectangle(frame_bgr, (x, y), (x + cell_px - 1, y + cell_px - 1), fill, -1)
            cv2.rectangle(frame_bgr, (x, y), (x + cell_px - 1, y + cell_px - 1), _GRID, 1)
    return frame_bgr
