"""Evaluation parallelised over images: one LiteRT interpreter per worker process.

A *task* is a picklable callable ``task(clf, pixels, index) -> np.ndarray`` that turns one
contract-prepared image into a result row (class scores, or top-1 ids of its variants).
:func:`run_over_files` decodes each file (EXIF honoured), prepares it with the model's
input contract and runs the task — in ``workers`` processes, each with its own
single-threaded interpreter, so every core is busy.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.images import ImageDecodeError, read_rgb
from edgeposinv.runtime import ClassifierSpec, TFLiteClassifier

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


def _init_worker(spec: ClassifierSpec, task: Task) -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    _STATE["clf"] = spec.open(threads=1)
    _STATE["task"] = task


def _run_chunk(chunk: Sequence[tuple[int, str]], clf: TFLiteClassifier | None = None, task: Task | None = None):
    clf = clf or _STATE["clf"]
    task = task or _STATE["task"]
    out, decode_s, infer_s = [], 0.0, 0.0
    for index, path in chunk:
        t0 = time.perf_counter()
        try:
            pixels = clf.prepare(read_rgb(path))
        except ImageDecodeError as e:
            out.append((index, None, str(e).split(": ", 1)[-1]))
            decode_s += time.perf_counter() - t0
            continue
        t1 = time.perf_counter()
        out.append((index, task(clf, pixels, index), None))
        infer_s += time.perf_counter() - t1
        decode_s += t1 - t0
    return out, decode_s, infer_s


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_over_files(
    spec: ClassifierSpec,
    paths: Sequence[str | os.PathLike],
    task: Task,
    workers: int = 1,
    desc: str = "evaluate",
    show_progress: bool = True,
    clf: TFLiteClassifier | None = None,
) -> WorkResult:
    """Run ``task`` on every file of ``paths``; ``workers`` > 1 uses that many processes.

    With one worker the work runs in this process (on ``clf`` when given).
    """
    items = [(i, str(p)) for i, p in enumerate(paths)]
    results: list[np.ndarray | None] = [None] * len(items)
    failures: list[tuple[Path, str]] = []
    workers = max(1, min(workers, len(items)))
    chunk_size = max(1, min(16, len(items) // (workers * 4) or 1))
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    decode_s = infer_s = 0.0
    started = time.perf_counter()
    cpu_self, cpu_children = _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(resource.RUSAGE_CHILDREN)
    bar = _bar(desc, len(items), show_progress)

    def collect(done) -> None:
        nonlocal decode_s, infer_s
        rows, d, t = done
        decode_s += d
        infer_s += t
        for index, value, error in rows:
            if error is not None:
                failures.append((Path(items[index][1]), error))
            else:
                results[index] = value
        bar.update(len(rows))

    try:
        if workers == 1:
            clf = clf or spec.open(threads=1)
            for chunk in chunks:
                collect(_run_chunk(chunk, clf, task))
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork of a process holding interpreters
            with ctx.Pool(workers, initializer=_init_worker, initargs=(spec, task)) as pool:
                for done in pool.imap_unordered(_run_chunk, chunks):
                    collect(done)
                pool.close()
                pool.join()
    finally:
        bar.close()
    cpu = (_cpu_seconds(resource.RUSAGE_SELF) - cpu_self) + (_cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_children)
    failures.sort()
    return WorkResult(results, failures, time.perf_counter() - started, decode_s, infer_s, cpu, workers)


def _bar(desc: str, total: int, show_progress: bool):
    """A tqdm bar (rate and ETA) updated by hand as chunks come back."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=True if not show_progress else None,
                leave=False, dynamic_ncols=True)


def peak_rss_bytes() -> dict:
    """Peak resident memory of this process and of the largest finished worker (Linux: KiB → bytes)."""
    scale = 1 if os.uname().sysname == "Darwin" else 1024
    return {
        "main": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale),
        "workers": int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale),
    }
