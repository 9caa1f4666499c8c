"""Every figure of report.json, recomputed here from raw interpreter outputs.

The recomputation shares no code with the harness: OpenCV decode + centre crop + resize
written out, the LiteRT interpreter called directly, counts and intervals by formula.
"""

from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest
from conftest import SHAPES, make_shapes_dataset

from edgeposinv.evaluation.evaluate import EvaluateConfig, evaluate

Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return centre - half, centre + half


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def raw_outputs(model_path, folder):
    """(true ids, dequantized scores, relative paths) straight from the interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    size = int(inp["shape"][1])
    y, scores, rel = [], [], []
    for label_id, label in enumerate(SHAPES):
        for path in sorted((folder / label).iterdir()):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            h, w = bgr.shape[:2]
            side = min(h, w)
            crop = bgr[
                (h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side
            ]
            rgb = cv2.cvtColor(
                cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
            )
            scale, zero = inp["quantization"]
            x = (
                rgb.astype(np.float32)
                if inp["dtype"] == np.float32
                else np.clip(np.round(rgb / scale) + zero, 0, 255).astype(inp["dtype"])
            )
            interp.set_tensor(inp["index"], x[None])
            interp.invoke()
            raw = interp.get_tensor(out["index"])[0].astype(np.float32)
            o_scale, o_zero = out["quantization"]
            scores.append((raw - o_zero) * o_scale if o_scale else raw)
            y.append(label_id)
            rel.append(f"{label}/{path.name}")
    return np.array(y), np.stack(scores), rel


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    published = make_shapes_dataset(root / "published", n_per_class=10, size=48, seed=3)
    # Off-centre and smaller: the tiny centred-data model makes mistakes here.
    wild = make_shapes_dataset(
        root / "wild", n_per_class=10, size=48, seed=4, jitter_px=12, radius=(6, 10)
    )
    return published, wild


def test_every_figure_matches_an_independent_recomputation(int8_model, two_sets, tmp_path):
    published, wild = two_sets
    report = evaluate(
        int8_model,
        [("published", published), ("wild", wild)],
        tmp_path / "r",
        EvaluateConfig(threads=2, top_k=2),
        show_progress=False,
    )
    on_disk = json.loads((tmp_path / "r" / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["schema_version"].startswith("1.")
    csv_rows = list(csv.DictReader((tmp_path / "r" / "predictions.csv").read_text().splitlines()))

    counts = {}
    for name, folder in (("published", published), ("wild", wild)):
        y, scores, rel = raw_outputs(int8_model, folder)
        pred = scores.argmax(1)
        s = on_disk["sets"][name]
        n, k = len(y), int((pred == y).sum())
        counts[name] = (k, n)
        assert s["n"] == n == 30
        assert s["correct"] == k
        assert s["top1"] == pytest.approx(k / n, abs=1e-12)
        lo, hi = wilson(k, n)
        assert s["top1_ci95"] == pytest.approx([lo, hi], abs=1e-9)
        # int8 scores tie often; scikit-learn's top-k (the report's) ranks the later of two
        # equal scores first: a stable ascending sort, reversed
        top2 = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :2]
        assert s["top_k"] == {
            "k": 2,
            "accuracy": pytest.approx(float(np.mean([y[i] in top2[i] for i in range(n)]))),
        }
        confusion = np.zeros((3, 3), int)
        for t, p in zip(y, pred):
            confusion[t, p] += 1
        assert s["confusion"] == confusion.tolist()
        for c, label in enumerate(SHAPES):
            tp = confusion[c, c]
            assert s["per_class"][label]["n"] == confusion[c].sum()
            assert s["per_class"][label]["recall"] == pytest.approx(tp / confusion[c].sum())
            col = confusion[:, c].sum()
            assert s["per_class"][label]["precision"] == pytest.approx(tp / col if col else 0.0)
        mine = [r for r in csv_rows if r["set"] == name]
        assert [r["path"] for r in mine] == rel
        assert [r["predicted"] for r in mine] == [SHAPES[p] for p in pred]
        assert [float(r["confidence"]) for r in mine] == pytest.approx(scores.max(1), abs=1e-4)

    (k_w, n_w), (k_p, n_p) = counts["wild"], counts["published"]
    assert k_w < n_w, "the wild set should contain mistakes for the gallery and the gap"
    gap = on_disk["gaps"]["wild"]
    assert gap["reference"] == "published"
    assert gap["difference"] == pytest.approx(k_w / n_w - k_p / n_p)
    lo, hi = newcombe(k_w, n_w, k_p, n_p)
    assert gap["difference_ci95"] == pytest.approx([lo, hi], abs=1e-9)
    assert gap["significant"] == (not lo <= 0 <= hi)
    assert "published" not in on_disk["gaps"]

    lat = on_disk["latency_ms"]
    assert 0 < lat["median"] <= lat["p90"] and lat["threads"] == 2
    assert on_disk["model"]["size_bytes"] == int8_model.stat().st_size
    assert on_disk["memory"]["peak_rss_bytes"] > 10 * 2**20
    assert on_disk["throughput"]["images"] == 60 and on_disk["throughput"]["workers"] == 2

    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("class='thumb'") == n_w - k_w + n_p - k_p
    assert "Misclassified images" in page and "data:image/jpeg;base64," in page


def test_small_gap_is_reported_as_possible_noise(int8_model, two_sets, tmp_path):
    """The same images under two names: difference 0, interval straddling 0, 'not significant'."""
    published, _ = two_sets
    report = evaluate(
        int8_model, [("a", published), ("b", published)], tmp_path / "r", show_progress=False
    )
    gap = report["gaps"]["b"]
    assert gap["difference"] == 0 and gap["significant"] is False
    assert gap["difference_ci95"][0] < 0 < gap["difference_ci95"][1]
    assert "could be noise" in (tmp_path / "r" / "report.html").read_text()


def test_exif_orientation_is_honoured(int8_model, tmp_path):
    """A phone JPEG stored sideways with an EXIF orientation tag is classified as displayed."""
    from PIL import Image

    upright = make_shapes_dataset(tmp_path / "upright", n_per_class=4, size=48, seed=9)
    sideways, no_tag = tmp_path / "sideways", tmp_path / "no_tag"
    for label in SHAPES:
        (sideways / label).mkdir(parents=True)
        (no_tag / label).mkdir(parents=True)
        for path in sorted((upright / label).iterdir()):
            img = Image.open(path).convert("RGB")
            img.save(upright / label / f"{path.stem}.jpg", quality=100)
            path.unlink()
            exif = Image.Exif()
            exif[0x0112] = 6  # rotate 90° clockwise to display: store it rotated the other way
            img.transpose(Image.Transpose.ROTATE_90).save(
                sideways / label / f"{path.stem}.jpg", quality=100, exif=exif
            )
            img.transpose(Image.Transpose.ROTATE_90).save(
                no_tag / label / f"{path.stem}.jpg", quality=100
            )
    evaluate(
        int8_model,
        [("upright", upright), ("sideways", sideways), ("no_tag", no_tag)],
        tmp_path / "r",
        show_progress=False,
    )
    rows = list(csv.DictReader((tmp_path / "r" / "predictions.csv").read_text().splitlines()))
    up = {r["path"]: r for r in rows if r["set"] == "upright"}
    side = {r["path"]: r for r in rows if r["set"] == "sideways"}
    assert up.keys() == side.keys() and len(up) == 12
    for path in up:
        assert side[path]["predicted"] == up[path]["predicted"]
        assert float(side[path]["confidence"]) == pytest.approx(
            float(up[path]["confidence"]), abs=0.08
        )
    # Without the tag the model sees the image sideways: the test can tell the difference.
    untagged = {r["path"]: r for r in rows if r["set"] == "no_tag"}
    assert any(
        untagged[p]["predicted"] != up[p]["predicted"]
        or abs(float(untagged[p]["confidence"]) - float(up[p]["confidence"])) > 0.08
        for p in up
    )


def _prepared(model_path, folder):
    """(true ids, prepared uint8 images) in the harness's file order, decoded independently."""
    from ai_edge_litert.interpreter import Interpreter

    size = int(Interpreter(model_path=str(model_path)).get_input_details()[0]["shape"][1])
    y, images = [], []
    for label_id, label in enumerate(SHAPES):
        for path in sorted((folder / label).iterdir()):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            side = min(bgr.shape[:2])
            y0, x0 = (bgr.shape[0] - side) // 2, (bgr.shape[1] - side) // 2
            crop = bgr[y0 : y0 + side, x0 : x0 + side]
            images.append(
                cv2.cvtColor(
                    cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
                )
            )
            y.append(label_id)
    return np.array(y), images


def _top1(model_path, images) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    preds = []
    for img in images:
        interp.set_tensor(
            inp["index"], img[None].astype(inp["dtype"])
        )  # uint8, scale 1: pixels as they are
        interp.invoke()
        preds.append(int(interp.get_tensor(out["index"])[0].argmax()))
    return np.array(preds)


def test_sweep_figures_match_an_independent_recomputation(int8_model, two_sets, tmp_path):
    from edgeposinv.evaluation.evaluate import SweepRequest
    from edgeposinv.evaluation.sweeps import (
        PositionSweepConfig,
        RotationSweepConfig,
        ShiftConsistencyConfig,
    )

    published, _ = two_sets
    shift_config = ShiftConsistencyConfig(max_shift_frac=0.2, seed=3)
    sweeps = SweepRequest(
        position_set="p",
        position=PositionSweepConfig(3, 3, 0.6, "mean"),
        rotation_set="p",
        rotation=RotationSweepConfig(step_deg=90),
        shift_set="p",
        shift=shift_config,
    )
    report = evaluate(
        int8_model,
        [("p", published)],
        tmp_path / "r",
        EvaluateConfig(threads=2, sweeps=sweeps),
        show_progress=False,
    )
    y, images = _prepared(int8_model, published)
    size = images[0].shape[0]
    c = (size - 1) / 2

    # Rotation about the pixel-grid centre, counter-clockwise on screen, borders replicated.
    acc = []
    for angle in (-180, -90, 0, 90, 180):
        m = cv2.getRotationMatrix2D((c, c), angle, 1.0)
        acc.append(
            float(
                np.mean(
                    _top1(
                        int8_model,
                        [
                            cv2.warpAffine(
                                i,
                                m,
                                (size, size),
                                flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE,
                            )
                            for i in images
                        ],
                    )
                    == y
                )
            )
        )
    rot = report["rotation_sweep"]
    assert rot["angles_deg"] == [-180, -90, 0, 90, 180]
    assert rot["accuracy"] == pytest.approx(acc, abs=1e-6)

    # Position: scale 0.6 about the centre, centre moved to 0.3 / 0.5 / 0.7 of the side, over the mean colour.
    heat = np.zeros((3, 3))
    for r, fy in enumerate((0.3, 0.5, 0.7)):
        for col, fx in enumerate((0.3, 0.5, 0.7)):
            m = np.array(
                [[0.6, 0, 0.4 * c + (fx - 0.5) * size], [0, 0.6, 0.4 * c + (fy - 0.5) * size]]
            )
            variants = []
            for img in images:
                obj = cv2.warpAffine(
                    img.astype(np.float32),
                    m,
                    (size, size),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )
                cover = cv2.warpAffine(
                    np.ones((size, size), np.float32),
                    m,
                    (size, size),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )[..., None]
                composite = obj + img.reshape(-1, 3).mean(0) * (1 - cover)
                variants.append(np.clip(np.round(composite), 0, 255).astype(np.uint8))
            heat[r, col] = np.mean(_top1(int8_model, variants) == y)
    pos = report["position_sweep"]
    assert np.asarray(pos["accuracy"]) == pytest.approx(heat, abs=1e-6)
    assert pos["centre_accuracy"] == pytest.approx(heat[1, 1])
    assert pos["worst_accuracy"] == pytest.approx(heat.min())
    assert pos["corner_accuracy"] == pytest.approx(
        np.mean([heat[0, 0], heat[0, 2], heat[2, 0], heat[2, 2]])
    )

    # Shift consistency: the two drawn shifts of each image, applied as plain translations.
    first, second = [], []
    for i, img in enumerate(images):
        for out, (dx, dy) in zip((first, second), shift_config.shifts(i)):
            assert abs(dx) <= 0.2 and abs(dy) <= 0.2
            m = np.array([[1.0, 0, dx * size], [0, 1.0, dy * size]])
            out.append(
                cv2.warpAffine(
                    img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                )
            )
    same = _top1(int8_model, first) == _top1(int8_model, second)
    shift = report["shift_consistency"]
    assert shift["pairs"] == len(images)
    assert shift["consistency"] == pytest.approx(same.mean())
    assert shift["consistency_ci95"] == pytest.approx(
        list(wilson(int(same.sum()), len(same))), abs=1e-9
    )
    assert shift["max_shift_frac"] == 0.2 and shift["max_shift_px"] == pytest.approx(0.2 * size)
