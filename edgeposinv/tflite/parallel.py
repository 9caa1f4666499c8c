"""Evaluation parallelised over images: one LiteRT interpreter per worker process.

A *task* is a picklable callable ``task(clf, pixels, index) -> np.ndarray`` that turns one
contract-prepared image into a result row (class scores, or top-1 ids of its variants).
:class:`Workers` decodes each file (EXIF honoured), prepares it with the model's input
contract and runs the task — in ``n`` processes, each with its own single-threaded
interpreter, so every core is busy.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.data.images import ImageDecodeError, read_rgb
from edgeposinv.tflite.runtime import ClassifierSpec, TFLiteClassifier

log = logging.getLogger(__name__)

Task = Callable[[TFLiteClassifier, np.ndarray, int], np.ndarray]


@dataclass
class WorkResult:
    """Per-file results (``None`` where the file could not be decoded) and where the time went."""

    results: list[np.ndarray | None]
    failures: list[tuple[Path, str]]
    wall_s: float
    decode_s: float  # summed over workers: reading, decoding and preparing files
    infer_s: float  # summed over workers: the task itself (interpreter calls)
    cpu_s: float  # CPU time of every process that did the work
    workers: int


class ProbabilitiesTask:
    """Class scores (dequantized) of the prepared image itself."""

    def __call__(self, clf: TFLiteClassifier, pixels: np.ndarray, index: int) -> np.ndarray:
        return clf.predict_proba(pixels)


_STATE: dict = {}


def _init_worker(spec: ClassifierSpec) -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    _STATE["clf"] = spec.open(threads=1)


def _ready(_: int) -> int:
    time.sleep(0.02)  # long enough for the pool to hand each worker one of these
    return os.getpid()


def _run_chunk(
    payload: tuple[Task, Sequence[tuple[int, str]]], clf: TFLiteClassifier | None = None
):
    """Run a chunk of files; results come back stacked in one array (one pickle per chunk)."""
    task, chunk = payload
    clf = clf or _STATE["clf"]
    done, values, failed, decode_s, infer_s = [], [], [], 0.0, 0.0
    for index, path in chunk:
        t0 = time.perf_counter()
        try:
            pixels = clf.prepare(read_rgb(path))
        except ImageDecodeError as e:
            failed.append((index, str(e).split(": ", 1)[-1]))
            decode_s += time.perf_counter() - t0
            continue
        t1 = time.perf_counter()
        values.append(task(clf, pixels, index))
        done.append(index)
        infer_s += time.perf_counter() - t1
        decode_s += t1 - t0
    return done, (np.stack(values) if values else None), failed, decode_s, infer_s


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Workers:
    """``n`` worker processes, each holding one single-threaded interpreter, started once.

    With ``n == 1`` everything runs in this process on ``clf``. Use as a context manager;
    :meth:`run` may be called many times (sets, sweeps) on the same workers.
    """

    def __init__(
        self, spec: ClassifierSpec, n: int = 1, clf: TFLiteClassifier | None = None
    ) -> None:
        self.spec, self.n, self._clf = spec, max(1, n), clf
        self._pool: multiprocessing.pool.Pool | None = None
        self.startup_s = 0.0

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            if exc[0] is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None

    def _ensure_started(self) -> None:
        if self.n == 1:
            if self._clf is None:
                self._clf = self.spec.open(threads=1)
            return
        if self._pool is None:
            t0 = time.perf_counter()
            ctx = multiprocessing.get_context(
                "spawn"
            )  # never fork a process that holds interpreters
            self._pool = ctx.Pool(self.n, initializer=_init_worker, initargs=(self.spec,))
            self._pool.map(_ready, range(self.n), chunksize=1)
            self.startup_s = time.perf_counter() - t0
            log.debug("%d workers ready in %.2fs", self.n, self.startup_s)

    def run(
        self,
        task: Task,
        paths: Sequence[str | os.PathLike],
        desc: str = "evaluate",
        show_progress: bool = True,
    ) -> WorkResult:
        """Run ``task`` on every file of ``paths``; results come back in order."""
        self._ensure_started()
        items = [(i, str(p)) for i, p in enumerate(paths)]
        results: list[np.ndarray | None] = [None] * len(items)
        failures: list[tuple[Path, str]] = []
        chunk_size = max(1, min(128, len(items) // (self.n * 4) or 1))
        chunks = [(task, items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
        decode_s = infer_s = 0.0
        bar = _bar(desc, len(items), show_progress)
        cpu_self, cpu_children = _cpu_seconds(resource.RUSAGE_SELF), _worker_cpu_seconds(self._pool)
        started = time.perf_counter()
        try:
            done_iter = (
                (_run_chunk(c, self._clf) for c in chunks)
                if self._pool is None
                else self._pool.imap_unordered(_run_chunk, chunks)
            )
            for done, values, failed, d, t in done_iter:
                decode_s += d
                infer_s += t
                for index, value in zip(done, values if values is not None else ()):
                    results[index] = value
                failures += [(Path(items[index][1]), error) for index, error in failed]
                bar.update(len(done) + len(failed))
        finally:
            bar.close()
        wall = time.perf_counter() - started
        cpu = (_cpu_seconds(resource.RUSAGE_SELF) - cpu_self) + (
            _worker_cpu_seconds(self._pool) - cpu_children
        )
        failures.sort()
        return WorkResult(results, failures, wall, decode_s, infer_s, cpu, self.n)


def _worker_cpu_seconds(pool) -> float:
    """CPU seconds used so far by the live worker processes (from /proc; 0 where unavailable)."""
    if pool is None:
        return 0.0
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for proc in getattr(pool, "_pool", []):
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


def _bar(desc: str, total: int, show_progress: bool):
    """A tqdm bar (rate and ETA) updated by hand as chunks come back."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="img",
        disable=True if not show_progress else None,
        leave=False,
        dynamic_ncols=True,
    )


def peak_rss_bytes() -> dict:
    """Peak resident memory of this process and of the largest finished worker (Linux: KiB → bytes)."""
    scale = 1 if os.uname().sysname == "Darwin" else 1024
    return {
        "main": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale),
        "workers": int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale),
    }
