"""Near-duplicate images without a manifest: 64-bit perceptual hashes (OpenCV + NumPy).

A hash is the sign pattern of the lowest frequencies of the grey image's DCT (the "pHash"
idea: coarse structure survives resizing, re-encoding and light changes; details do not).
Shifts move a global hash as far as a different photo, so each image is hashed in 25
windows (its centre and 24 shifted by 3-6%), and two images are near-duplicates when one's
centre hash is within ``NEAR_DUPLICATE_BITS`` of 256 bits of any window of the other. A
*cluster* is a connected set of such pairs within one class. ``benchmarks/bench_duplicates.py`` measured the threshold
(see ``docs/dataset-format.md``, "Near-duplicates").

Training-split fingerprints are the compact 64-bit version (8 bytes per image, matched
within ``FINGERPRINT_BITS``), carried in the exported model's metadata so ``evaluate`` can
tell a test set that overlaps the training data (:func:`centre_hashes`,
:func:`nearest_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edgeposinv.data.names import sequence_neighbours

__all__ = [
    "CENTRE",
    "FEATURE_SIMILARITY",
    "FINGERPRINT_BITS",
    "HASHES",
    "HASH_CROP_PX",
    "HASH_INPUT_PX",
    "NEAR_DUPLICATE_BITS",
    "SEQUENCE_BITS",
    "ahash",
    "centre_hashes",
    "cluster",
    "cluster_per_class",
    "dhash",
    "distances",
    "fingerprint_bytes",
    "fingerprints_from_bytes",
    "hamming",
    "hash_images",
    "hash_input",
    "link_similar",
    "nearest_fingerprint",
    "phash",
    "phash256",
    "window_hashes",
    "window_hashes64",
]

NEAR_DUPLICATE_BITS = 32  # of 256; measured: see benchmarks/bench_duplicates.py
SEQUENCE_BITS = 56  # of 256, for neighbours in a numbered sequence (frame_003, frame_006)
FEATURE_SIMILARITY = 0.85  # cosine, class-centred backbone features; bench_feature_duplicates.py
FINGERPRINT_BITS = 2  # of 64, for the compact training fingerprints (same benchmark)
HASH_INPUT_PX = 72  # images are hashed after the input contract's crop at this size ...
HASH_CROP_PX = 64  # ... in 64 px windows: the centre one and 24 shifted by 2..4 px (3..6%)
_OFFSETS = (0, 2, 4, 6, 8)  # window origins; 4 is the centre
CENTRE = 12  # index of the centre window among the 25
WORDS = 4  # a 256-bit hash is 4 uint64 words

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _grey(rgb: np.ndarray, side: int) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    interp = cv2.INTER_AREA if min(grey.shape) >= side else cv2.INTER_LINEAR
    return cv2.resize(grey, (side, side), interpolation=interp).astype(np.float32)


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits.astype(np.uint8)).view(">u8").astype(np.uint64)


def phash(rgb: np.ndarray) -> np.uint64:
    """64-bit DCT hash: the 8x8 lowest frequencies of the 32x32 grey image vs their median."""
    low = cv2.dct(_grey(rgb, 32))[:8, :8].ravel()
    return _pack(low > np.median(low[1:]))[0]


def phash256(rgb: np.ndarray) -> np.ndarray:
    """256-bit DCT hash (4 words): the 16x16 lowest frequencies of the 64x64 grey image."""
    low = cv2.dct(_grey(rgb, 64))[:16, :16].ravel()
    return _pack(low > np.median(low[1:]))


def dhash(rgb: np.ndarray) -> np.uint64:
    """Difference hash: bit set where a pixel of the 9x8 grey image is brighter than its right neighbour."""
    small = cv2.resize(_grey(rgb, 32), (9, 8), interpolation=cv2.INTER_AREA)
    return _pack(small[:, 1:] > small[:, :-1])[0]


def ahash(rgb: np.ndarray) -> np.uint64:
    """Average hash: bit set where a pixel of the 8x8 grey image is above the mean."""
    small = cv2.resize(_grey(rgb, 32), (8, 8), interpolation=cv2.INTER_AREA)
    return _pack(small > small.mean())[0]


HASHES = {"phash": phash, "dhash": dhash, "ahash": ahash}


def hash_input(rgb: np.ndarray) -> np.ndarray:
    """The pixels that are hashed: the input contract's centre square at ``HASH_INPUT_PX``."""
    from edgeposinv.tflite.preprocess import prepare

    return prepare(rgb, HASH_INPUT_PX)


def window_hashes(rgb: np.ndarray) -> np.ndarray:
    """256-bit hashes ``(25, 4)`` of the 25 windows of :func:`hash_input` (``CENTRE`` is
    the unshifted one).

    A global hash moves 10-26 of 64 bits under a 3-6% shift (as much as two distinct
    photos): comparing one image's centre window with every shifted window of the other
    finds shifted copies."""
    x = hash_input(rgb)
    c = HASH_CROP_PX
    return np.stack([phash256(x[dy : dy + c, dx : dx + c]) for dy in _OFFSETS for dx in _OFFSETS])


def hash_images(images, show_progress: bool = False) -> np.ndarray:
    """``(N, 25, 4)`` window hashes of each image (arrays, or paths decoded by the project's policy)."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.util.progress import progress

    out = np.zeros((len(images), 25, WORDS), np.uint64)
    for i, im in enumerate(progress(images, desc="hash", unit="img", disable=not show_progress)):
        out[i] = window_hashes(im if isinstance(im, np.ndarray) else read_rgb(im))
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances ``(len(a), len(b))`` between hashes: ``uint64`` arrays of
    shape ``(n,)`` (64-bit) or ``(n, words)``."""
    a, b = np.asarray(a, np.uint64), np.asarray(b, np.uint64)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    x = np.bitwise_xor(a[:, None, :], b[None, :, :])
    return _POPCOUNT[x.view(np.uint8)].reshape(len(a), len(b), -1).sum(-1, dtype=np.int64)


def distances(windows_a: np.ndarray, windows_b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` shift-tolerant distances: the smaller of a's centre against b's
    windows and b's centre against a's windows."""
    na, nb = len(windows_a), len(windows_b)
    flat_b = windows_b.reshape(nb * 25, -1)
    flat_a = windows_a.reshape(na * 25, -1)
    ab = hamming(windows_a[:, CENTRE], flat_b).reshape(na, nb, 25).min(-1)
    ba = hamming(windows_b[:, CENTRE], flat_a).reshape(nb, na, 25).min(-1)
    return np.minimum(ab, ba.T)


def cluster(
    windows: np.ndarray, max_bits: int = NEAR_DUPLICATE_BITS, names: Sequence[str] | None = None
) -> np.ndarray:
    """Connected components of the "at most ``max_bits`` apart" graph over images given by
    their window hashes: one cluster id per image (the smallest member index). With
    ``names``, neighbours in a numbered sequence join at up to ``SEQUENCE_BITS`` (a moving
    scene drifts further between frames than a re-encoded copy)."""
    n = len(windows)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, n, 64):
        d = distances(windows[start : start + 64], windows)
        rows, cols = np.nonzero(d <= max_bits)
        for r, c in zip(rows + start, cols):
            if r < c:
                ra, rb = find(int(r)), find(int(c))
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    for i, j in sequence_neighbours(names) if names is not None else []:
        if distances(windows[i : i + 1], windows[j : j + 1])[0, 0] <= SEQUENCE_BITS:
            ra, rb = find(i), find(j)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.asarray([find(i) for i in range(n)], np.int64)


def cluster_per_class(
    windows: np.ndarray,
    label_ids: np.ndarray,
    max_bits: int = NEAR_DUPLICATE_BITS,
    names: Sequence[str] | None = None,
) -> list[str | None]:
    """A group id per image (``"dup<first index>"``) for images with a near-duplicate in
    their class; ``None`` for an image that has none (it is its own group)."""
    groups: list[str | None] = [None] * len(windows)
    for y in np.unique(label_ids):
        idx = np.flatnonzero(label_ids == y)
        ids = cluster(
            windows[idx], max_bits, None if names is None else [names[int(i)] for i in idx]
        )
        sizes = np.bincount(ids, minlength=len(idx))
        for i, c in zip(idx, ids):
            if sizes[c] > 1:
                groups[i] = f"dup{idx[c]}"
    return groups


# --- compact training fingerprints (64 bits an image) ---------------------------------


def window_hashes64(rgb: np.ndarray) -> np.ndarray:
    x = hash_input(rgb)
    c = HASH_CROP_PX
    return np.asarray(
        [phash(x[dy : dy + c, dx : dx + c]) for dy in _OFFSETS for dx in _OFFSETS], np.uint64
    )


def centre_hashes(images, show_progress: bool = False) -> np.ndarray:
    """The 64-bit centre-window hash of each image (arrays or paths): the fingerprints."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.util.progress import progress

    c, o = HASH_CROP_PX, _OFFSETS[2]
    out = np.zeros(len(images), np.uint64)
    for i, im in enumerate(progress(images, desc="hash", unit="img", disable=not show_progress)):
        x = hash_input(im if isinstance(im, np.ndarray) else read_rgb(im))
        out[i] = phash(x[o : o + c, o : o + c])
    return out


def nearest_fingerprint(
    fingerprints: np.ndarray, images, show_progress: bool = False
) -> np.ndarray:
    """For each image (array or path), the smallest distance from any of its 25 windows'
    64-bit hashes to a fingerprint (65 when there are none)."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.util.progress import progress

    out = np.full(len(images), 65, np.int64)
    if len(fingerprints) == 0:
        return out
    for i, im in enumerate(progress(images, desc="hash", unit="img", disable=not show_progress)):
        w = window_hashes64(im if isinstance(im, np.ndarray) else read_rgb(im))
        out[i] = hamming(w, fingerprints).min()
    return out


def fingerprint_bytes(centres: np.ndarray) -> bytes:
    """64-bit centre hashes, sorted and unique, 8 bytes each, big-endian (model metadata)."""
    return np.unique(np.asarray(centres, np.uint64)).astype(">u8").tobytes()


def fingerprints_from_bytes(data: bytes) -> np.ndarray:
    if len(data) % 8:
        raise ValueError(f"fingerprint data must be a multiple of 8 bytes; got {len(data)}")
    return np.frombuffer(data, ">u8").astype(np.uint64)


def link_similar(
    embeddings: np.ndarray, strata: np.ndarray, min_similarity: float
) -> list[str | None]:
    """Clusters of images whose embeddings (e.g. a backbone's pooled features) are similar.

    Within each stratum (a class), the embeddings are centred on the stratum's mean and
    L2-normalised (what is left is what tells the class's images apart), images whose
    cosine similarity is at least ``min_similarity`` are linked and a
    cluster is a connected set of links (single-linkage agglomerative clustering,
    scikit-learn). Returns a group id per image (``"feat<first index>"``) or ``None`` for
    an image with no similar one."""
    from sklearn.cluster import AgglomerativeClustering

    x = np.asarray(embeddings, np.float64)
    strata = np.asarray(strata)
    groups: list[str | None] = [None] * len(x)
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        if len(idx) < 2:
            continue
        z = x[idx] - x[idx].mean(0, keepdims=True)
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        ids = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="single",
            distance_threshold=1.0 - min_similarity + 1e-9,
        ).fit_predict(z)
        sizes = np.bincount(ids)
        first: dict = {}
        for i, c in zip(idx, ids):
            first.setdefault(c, i)
            if sizes[c] > 1:
                groups[i] = f"feat{first[c]}"
    return groups
