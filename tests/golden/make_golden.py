"""Write the golden vectors that prove the Android app preprocesses like Python does.

Run from the repository root:

    PYTHONPATH=. python tests/golden/make_golden.py            # vectors only
    PYTHONPATH=. python tests/golden/make_golden.py --model    # also retrain the tiny model

Everything here is produced by the Python side's own code (``edgeposinv.data.images.read_rgb``,
``edgeposinv.tflite.preprocess``, ``edgeposinv.tflite.runtime.TFLiteClassifier``, ``edgeposinv.evaluation.metrics``);
the Java tests in ``android_demo/app/src/test`` reproduce it. Layout of ``tests/golden/``:

- ``shapes_int8.tflite``: a tiny real int8 export (labels circle/square/triangle, 32 px);
- ``images/<case>.src.png``: source pixels as stored in the file, orientation NOT applied;
- ``images/<case>.tensor.bin``: the uint8 ``S*S*3`` input tensor Python feeds (HWC, RGB);
- ``preprocess.json``: per case the EXIF orientation, size, tolerance, and for model cases
  the raw output row of the real interpreter, the probabilities and the top-3 labels;
- ``quantize.json``: pixel values → quantized input values for several scale/zero points;
- ``dequantize.json``: raw output rows → probabilities and top-k;
- ``metrics.json``: predictions → the report's per-set figures, gaps and latency;
- ``quality.json``: frames → grey levels, sharpness and exposure of the capture manifest;
- ``open_set.json``: probability rows → the open-set decision, and open-set evaluation figures.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np

GOLDEN = Path(__file__).resolve().parent
MODEL_NAME = "shapes_int8.tflite"
#: The same model carrying only standard TFLite Metadata (the app's fallback path).
STD_MODEL_NAME = "shapes_int8_stdmeta.tflite"
MODEL_SIZE_PX = 32
#: Max |Java - Python| per value, as docs/preprocessing.md allows. Crop, orientation and the
#: bilinear path (which follows OpenCV's fixed-point arithmetic) are exact in practice; the
#: Java test prints the measured figure per case.
TOLERANCE = {"none": 0, "area": 1, "bilinear": 1}


def build_model(out_path: Path, work_dir: Path) -> Path:
    """Train the tiny shapes model (a few seconds) and export it as full int8."""
    from edgeposinv.export.export import QuantSpec, export_run
    from edgeposinv.training.train import TrainConfig, train
    from tests.conftest import make_shapes_dataset

    data = make_shapes_dataset(work_dir / "shapes", n_per_class=30, size=48)
    run = work_dir / "run"
    train(
        data,
        run,
        TrainConfig(image_size_px=MODEL_SIZE_PX, epochs=6, batch_size=16, augment="none", seed=0),
        show_progress=False,
    )
    export_run(run, work_dir / MODEL_NAME, QuantSpec.int8(), overwrite=True)
    out_path.write_bytes((work_dir / MODEL_NAME).read_bytes())
    return out_path


def build_std_metadata_model(src: Path, out: Path) -> Path | None:
    """``src`` without its ``edgeposinv.model`` entry, with standard TFLITE_METADATA and labels.txt.

    Uses the exporter's own writer (``edgeposinv.tflite.std_metadata``); returns ``None`` when
    this checkout does not have it.
    """
    try:
        from edgeposinv.tflite.std_metadata import (
            StdMetadata,
            append_associated_files,
            build_metadata,
        )
    except ImportError:
        return None
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edgeposinv.tflite.metadata import CONTRACT_NAME, read_contract, write_entries

    data = src.read_bytes()
    description = read_contract(data)
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    model.metadata = [m for m in model.metadata if m.name.decode() != CONTRACT_NAME]
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    size = description["input"]["image_size_px"]
    meta = StdMetadata(
        name="shapes",
        description="golden fixture",
        version="1",
        author="edgeposinv",
        image_size_px=size,
        color_space="RGB",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        input_min=0.0,
        input_max=255.0,
        input_description="RGB pixels",
        output_description="class probabilities",
        labels_file="labels.txt",
    )
    stripped = write_entries(bytes(builder.Output()), {"TFLITE_METADATA": build_metadata(meta)})
    labels = ("\n".join(description["labels"]) + "\n").encode()
    out.write_bytes(append_associated_files(stripped, {"labels.txt": labels}))
    return out


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    """A test card: gradients, hard edges and noise, so resize errors show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack(
        [x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), ((x // 3 + y // 5) % 2) * 200], axis=-1
    )
    img = img.astype(np.int32) + rng.integers(-25, 26, (h, w, 3))
    img[h // 4 : h // 2, w // 5 : w // 3] = (250, 20, 30)
    return np.clip(img, 0, 255).astype(np.uint8)


def _jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def _png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _resize_kind(src_h: int, src_w: int, size_px: int) -> str:
    side = min(src_h, src_w)
    return "none" if side == size_px else ("area" if side > size_px else "bilinear")


def _source_images() -> list[tuple[str, bytes, int, int]]:
    """(case, encoded file, EXIF orientation, size_px) — what a user's photo could be."""
    from tests.conftest import draw_shape

    cases = [
        ("shrink_int_ratio", _png(_pattern(64, 96, 1)), 1, 32),
        ("shrink_frac_ratio", _png(_pattern(77, 101, 2)), 1, 32),
        ("shrink_portrait", _png(_pattern(143, 90, 3)), 1, 24),
        ("enlarge", _png(_pattern(20, 25, 4)), 1, 32),
        ("enlarge_odd", _png(_pattern(23, 17, 5)), 1, 40),
        ("enlarge_tiny", _png(_pattern(3, 5, 12)), 1, 24),
        ("enlarge_slight", _png(_pattern(33, 31, 13)), 1, 32),
        ("crop_only", _png(_pattern(40, 32, 6)), 1, 32),
    ]
    base = _pattern(30, 48, 7)
    for orientation in range(1, 9):
        cases.append(
            (f"exif_{orientation}", _jpeg_with_orientation(base, orientation), orientation, 24)
        )
    rng = np.random.default_rng(11)
    for i, kind in enumerate(("circle", "square", "triangle", "circle", "triangle")):
        h, w = (70, 52) if i % 2 else (52, 70)
        canvas = draw_shape(kind, max(h, w), (max(h, w) // 2, max(h, w) // 2), 16, rng)[:h, :w]
        cases.append((f"model_{i}_{kind}", _png(np.ascontiguousarray(canvas)), 1, MODEL_SIZE_PX))
    return cases


def preprocess_vectors(out_dir: Path, model_path: Path) -> dict:
    """Decode each source the way Python does and record the exact input tensor."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.tflite.runtime import TFLiteClassifier

    clf = TFLiteClassifier(model_path)
    img_dir = out_dir / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, encoded, orientation, size_px in _source_images():
        ext = ".jpg" if encoded[:2] == b"\xff\xd8" else ".png"
        original = img_dir / f"{name}{ext}"
        original.write_bytes(encoded)
        oriented = read_rgb(original)  # the project's decoder: EXIF applied
        stored = cv2.cvtColor(
            cv2.imdecode(
                np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
            ),
            cv2.COLOR_BGR2RGB,
        )
        original.unlink()  # Java gets the stored samples losslessly (JPEG decoders differ)
        (img_dir / f"{name}.src.png").write_bytes(_png(stored))
        tensor = prepare(oriented, size_px)
        (img_dir / f"{name}.tensor.bin").write_bytes(tensor.tobytes())
        side = min(oriented.shape[:2])
        case = {
            "name": name,
            "orientation": orientation,
            "size_px": size_px,
            "stored_hw": list(stored.shape[:2]),
            "oriented_hw": list(oriented.shape[:2]),
            "resize": _resize_kind(*oriented.shape[:2], size_px),
            "crop_side": side,
        }
        case["tolerance"] = TOLERANCE[case["resize"]]
        if name.startswith("model_"):
            raw = clf.predict_raw(tensor)
            probs = clf.dequantize(raw)
            order = np.argsort(-probs, kind="stable")[:3]
            case["raw_output"] = raw.astype(np.float64).tolist()
            case["probabilities"] = probs.astype(np.float64).tolist()
            case["top3"] = [clf.labels[i] for i in order]
        cases.append(case)
    out = clf.output_info
    inp = clf.input_info
    return {
        "model": MODEL_NAME,
        "labels": list(clf.labels),
        "contract": clf.contract.to_dict(),
        "input": {
            "shape": list(inp.shape),
            "dtype": inp.dtype,
            "scale": inp.scale,
            "zero_point": inp.zero_point,
        },
        "output": {
            "shape": list(out.shape),
            "dtype": out.dtype,
            "scale": out.scale,
            "zero_point": out.zero_point,
        },
        "description": clf.description,
        "cases": cases,
    }


def quantize_vectors() -> dict:
    from edgeposinv.tflite.preprocess import quantize_input

    pixels = np.array(list(range(0, 256, 5)) + [1, 2, 3, 127, 128, 129, 254, 255], np.uint8)
    params = [
        ("float32", 0.0, 0),
        ("uint8", 1.0, 0),
        ("int8", 1.0, -128),
        ("uint8", 0.5, 10),
        ("int8", 2.0, -3),
        ("int8", 0.0078125, 0),
        ("uint8", 3.0, 0),
        ("int8", 0.0, 0),
    ]
    cases = [
        {
            "dtype": d,
            "scale": s,
            "zero_point": z,
            "expected": quantize_input(pixels, np.dtype(d), s, z).astype(np.float64).tolist(),
        }
        for d, s, z in params
    ]
    return {"pixels": pixels.tolist(), "cases": cases}


def _dequantize(raw: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The formula of ``TFLiteClassifier.dequantize``."""
    if scale == 0:
        return raw.astype(np.float32)
    return ((raw.astype(np.float32) - zero_point) * scale).astype(np.float32)


def dequantize_vectors() -> dict:
    rng = np.random.default_rng(3)
    cases = []
    for dtype, scale, zp, n in (
        ("uint8", 1 / 256, 0, 5),
        ("int8", 1 / 256, -128, 7),
        ("float32", 0.0, 0, 4),
        ("uint8", 0.00390625, 0, 3),
    ):
        if dtype == "float32":
            raw = rng.random(n).astype(np.float32)
        else:
            info = np.iinfo(np.dtype(dtype))
            raw = rng.integers(info.min, info.max + 1, n).astype(dtype)
            raw[-1] = raw[0]  # a tie: order must fall back to the lower index
        probs = _dequantize(raw, scale, zp)
        cases.append(
            {
                "dtype": dtype,
                "scale": scale,
                "zero_point": zp,
                "raw": raw.astype(np.float64).tolist(),
                "probabilities": probs.astype(np.float64).tolist(),
                "top_k": np.argsort(-probs, kind="stable")[:3].tolist(),
            }
        )
    return {"cases": cases}


def metrics_vectors() -> dict:
    from edgeposinv.evaluation.metrics import classification_metrics, difference_interval

    rng = np.random.default_rng(5)
    labels = ("a", "b", "c", "d")
    sets = {}
    for name, n, noise in (("published", 40, 0.3), ("wild", 25, 1.5)):
        y = rng.integers(0, len(labels), n)
        logits = rng.normal(0, noise, (n, len(labels)))
        logits[np.arange(n), y] += 1.0
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        sets[name] = {
            "y_true": y.tolist(),
            "probs": probs.tolist(),
            "expected": classification_metrics(y, probs, labels, 3),
        }
    pub, wild = sets["published"]["expected"], sets["wild"]["expected"]
    k1, k2 = round(wild["top1"] * wild["n"]), round(pub["top1"] * pub["n"])
    lat = rng.gamma(3.0, 2.0, 37)
    return {
        "labels": list(labels),
        "sets": sets,
        "gap_wild": list(difference_interval(k1, wild["n"], k2, pub["n"])),
        "latency_ms": lat.tolist(),
        "latency_expected": {"median": float(np.median(lat)), "p90": float(np.percentile(lat, 90))},
    }


def open_set_vectors() -> dict:
    """Probability rows → the open-set decision (class index or -1, score), and the figures
    an evaluation with an unknown set reports (``core/OpenSet.java`` must agree)."""
    from edgeposinv.evaluation.open_set import open_set_section
    from edgeposinv.tflite.open_set import OpenSet, decide_batch, reserved_index

    rng = np.random.default_rng(11)
    cases = []
    for name, labels, reserved, threshold in (
        ("threshold", ["a", "b", "c"], None, 0.6171875),
        ("background", ["a", "b", "c", "_background"], "_background", 0.5),
        ("background_no_threshold", ["a", "b", "_background"], "_background", None),
        ("closed", ["a", "b", "c", "d"], None, None),
    ):
        n = len(labels)
        logits = rng.normal(0, 1.5, (24, n))
        probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
        if threshold is not None:  # exactly at the threshold: accepted
            probs[0] = np.float32((1 - threshold) / (n - 1))
            probs[0, 1] = np.float32(threshold)
        probs[1] = np.float32(1.0 / n)  # a tie everywhere: the first known class
        probs[2, :] = np.float32(0.0)
        probs[2, -1], probs[2, 0] = np.float32(0.5), np.float32(0.5)  # tie with the last output
        r = reserved_index(labels, reserved)
        idx, score = decide_batch(probs, r, threshold)
        cases.append(
            {
                "name": name,
                "labels": labels,
                "reserved_label": reserved,
                "score_threshold": threshold,
                "probs": probs.astype(np.float64).tolist(),
                "expected_index": idx.tolist(),
                "expected_score": score.astype(np.float64).tolist(),
            }
        )
    # figures of an evaluation with one known and one unknown set (point values)
    labels = ("a", "b", "c")
    y = rng.integers(0, 3, 30)
    logits = rng.normal(0, 1.0, (30, 3))
    logits[np.arange(30), y] += 2.0
    known = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    u = rng.normal(0, 0.7, (20, 3))
    unknown = (np.exp(u) / np.exp(u).sum(1, keepdims=True)).astype(np.float32)
    open_set = OpenSet(0.6, 1.0, None)
    section, _ = open_set_section(
        labels,
        -1,
        open_set,
        {"k": ([], y, known)},
        {"u": ([Path(f"{i}.jpg") for i in range(20)], unknown)},
    )
    k, sep, acc = (
        section["known_sets"]["k"],
        section["separation"]["k|u"],
        section["unknown_sets"]["u"],
    )
    figures = {
        "labels": list(labels),
        "score_threshold": 0.6,
        "known_y": y.tolist(),
        "known_probs": known.astype(np.float64).tolist(),
        "unknown_probs": unknown.astype(np.float64).tolist(),
        "expected": {
            "auroc": sep["auroc"],
            "fpr_at_95_tpr": sep["fpr_at_95_tpr"],
            "unknown_accepted": acc["accepted"],
            "share_score_ge_0.9": acc["share_score_ge_0.9"],
            "ece": k["ece"],
            "known_at_threshold": k["at_threshold"],
        },
    }
    return {"cases": cases, "figures": figures}


def quality_vectors() -> dict:
    """Grey level, sharpness (variance of the Laplacian) and exposure as the desktop capture computes them."""
    cases = []
    flat = np.full((12, 16, 3), 250, np.uint8)
    for name, rgb in (
        ("pattern", _pattern(24, 30, 9)),
        ("blurred", cv2.GaussianBlur(_pattern(24, 30, 9), (7, 7), 3)),
        ("bright", flat),
        ("dark", np.full((9, 7, 3), 10, np.uint8)),
    ):
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        n = gray.size
        exposure = (
            "dark"
            if np.count_nonzero(gray <= 20) >= 0.95 * n
            else "bright"
            if np.count_nonzero(gray >= 235) >= 0.95 * n
            else "ok"
        )
        cases.append(
            {
                "name": name,
                "height": rgb.shape[0],
                "width": rgb.shape[1],
                "rgb": rgb.reshape(-1).tolist(),
                "gray": gray.reshape(-1).tolist(),
                "sharpness": float(cv2.Laplacian(gray, cv2.CV_64F).var()),
                "exposure": exposure,
            }
        )
    return {"cases": cases}


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def write_all(out_dir: Path, model_path: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "preprocess.json", preprocess_vectors(out_dir, model_path))
    write_json(out_dir / "quantize.json", quantize_vectors())
    write_json(out_dir / "dequantize.json", dequantize_vectors())
    write_json(out_dir / "metrics.json", metrics_vectors())
    write_json(out_dir / "quality.json", quality_vectors())
    write_json(out_dir / "open_set.json", open_set_vectors())


def main() -> None:
    import tempfile

    sys.path.insert(0, str(GOLDEN.parents[1]))  # the checkout's edgeposinv and tests.conftest
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", action="store_true", help=f"retrain and re-export {MODEL_NAME} first"
    )
    args = parser.parse_args()
    model_path = GOLDEN / MODEL_NAME
    if args.model or not model_path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            build_model(model_path, Path(tmp))
    write_all(GOLDEN, model_path)
    if build_std_metadata_model(model_path, GOLDEN / STD_MODEL_NAME) is None:
        print(f"note: edgeposinv.tflite.std_metadata is not here; {STD_MODEL_NAME} left as it is")
    print(f"golden vectors written to {GOLDEN}")


if __name__ == "__main__":
    main()
