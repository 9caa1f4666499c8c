"""``evaluate --unknown-set``: open-set figures recomputed independently; the reserved
label never appears as a class in the metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_shapes_dataset, run_cli
from test_open_set_train_export import _unknown_images

from edgeposinv.evaluation.evaluate import evaluate
from edgeposinv.tflite.metadata import read_contract
from edgeposinv.tflite.open_set import RESERVED_LABEL
from edgeposinv.tflite.runtime import TFLiteClassifier


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("open_set_eval")
    wild = make_shapes_dataset(root / "wild", n_per_class=10, size=48, seed=4, jitter_px=8)
    return wild, _unknown_images(root / "shelves", n=30, seed=5)


def _scores(model, folder_paths):
    from edgeposinv.data.images import read_rgb

    clf = TFLiteClassifier(model)
    return np.stack([clf.predict_proba(clf.prepare(read_rgb(p))) for p in folder_paths])


def test_unknown_set_figures_match_a_recomputation(int8_model, sets, tmp_path):
    from sklearn.metrics import roc_auc_score

    wild, shelves = sets
    report = evaluate(
        int8_model,
        [("wild", wild)],
        tmp_path / "r",
        unknown_sets=[("shelves", shelves)],
        show_progress=False,
    )
    o = report["open_set"]
    clf = TFLiteClassifier(int8_model)
    t = clf.score_threshold
    assert t is not None and o["threshold"] == t  # the export wrote one by default
    wild_paths = sorted(p for p in wild.rglob("*.png"))
    p_known = _scores(int8_model, wild_paths)
    p_unknown = _scores(int8_model, sorted(shelves.iterdir()))
    s_known, s_unknown = p_known.max(1), p_unknown.max(1)
    auroc = roc_auc_score(
        np.r_[np.ones(len(s_known)), np.zeros(len(s_unknown))], np.r_[s_known, s_unknown]
    )
    sep = o["separation"]["wild|shelves"]
    assert sep["auroc"] == pytest.approx(auroc)
    assert sep["auroc_ci95"][0] <= sep["auroc"] <= sep["auroc_ci95"][1]
    accepted = int((s_unknown >= np.float32(t)).sum())
    assert o["unknown_sets"]["shelves"]["accepted"]["accepted"] == accepted
    assert o["unknown_sets"]["shelves"]["n"] == 30
    known = o["known_sets"]["wild"]
    assert known["at_threshold"]["accepted"]["accepted"] == int((s_known >= np.float32(t)).sum())
    assert 0.0 <= known["ece"] <= 1.0 and sum(b["n"] for b in known["reliability"]) == 30
    assert report["schema_version"] == "1.4"
    page = (tmp_path / "r" / "report.html").read_text()
    assert "None of the above" in page and "risk-coverage curve" in page
    assert "reliability diagram" in page and "most confident unknown" in page
    rows = (tmp_path / "r" / "predictions.csv").read_text().splitlines()
    assert sum(r.startswith("shelves,") for r in rows) == 30


def test_reserved_label_never_appears_as_a_class(int8_model, tmp_path):
    """A model whose third output is ``_background``: metrics know two classes only."""
    from edgeposinv.export.description import embed_metadata
    from edgeposinv.tflite.metadata import write_entries

    description = read_contract(int8_model.read_bytes())
    description["labels"] = ["circle", "square", RESERVED_LABEL]
    description["open_set"] = {
        "score_threshold": 0.5,
        "temperature": 1.0,
        "reserved_label": RESERVED_LABEL,
    }
    model = tmp_path / "bg.tflite"
    model.write_bytes(embed_metadata(write_entries(int8_model.read_bytes(), {}), description))
    data = make_shapes_dataset(tmp_path / "two", n_per_class=6, size=48, seed=2)
    import shutil

    shutil.rmtree(data / "triangle")
    report = evaluate(model, [("set", data)], tmp_path / "r", show_progress=False)
    s = report["sets"]["set"]
    assert list(s["per_class"]) == ["circle", "square"]
    assert np.asarray(s["confusion"]).shape == (2, 2)
    assert RESERVED_LABEL not in (tmp_path / "r" / "predictions.csv").read_text()
    assert report["open_set"]["reserved_label"] == RESERVED_LABEL
    # a _background folder in a --set is refused with the fix
    (data / RESERVED_LABEL).mkdir()
    shutil.copy(next((data / "circle").iterdir()), data / RESERVED_LABEL / "x.png")
    r = run_cli("evaluate", str(model), "--set", f"s={data}", "--report", str(tmp_path / "r2"))
    assert r.returncode == 1 and "--unknown-set" in r.stderr and "Traceback" not in r.stderr


def test_unknown_set_cli_prints_auroc(int8_model, sets, tmp_path):
    wild, shelves = sets
    r = run_cli(
        "evaluate",
        str(int8_model),
        "--set",
        f"wild={wild}",
        "--unknown-set",
        f"shelves={shelves}",
        "--report",
        str(tmp_path / "r"),
    )
    assert r.returncode == 0, r.stderr
    assert "AUROC" in r.stdout and "accepted at the threshold" in r.stdout
    assert "open_set" in json.loads((tmp_path / "r" / "report.json").read_text())
    bad = run_cli(
        "evaluate",
        str(int8_model),
        "--set",
        f"wild={wild}",
        "--unknown-set",
        f"shelves={tmp_path / 'missing'}",
        "--report",
        str(tmp_path / "r3"),
    )
    assert bad.returncode == 1 and "--unknown-set shelves" in bad.stderr


def test_compare_shows_open_set_figures_side_by_side(int8_model, sets, tmp_path):
    from edgeposinv.evaluation.compare import compare_reports

    wild, shelves = sets
    for name in ("a", "b"):
        evaluate(
            int8_model,
            [("wild", wild)],
            tmp_path / name,
            unknown_sets=[("shelves", shelves)],
            show_progress=False,
        )
    summary = compare_reports([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    rows = summary["reports"]
    assert rows[0]["open_set"]["separation"]["wild|shelves"]["auroc"] == pytest.approx(
        rows[1]["open_set"]["separation"]["wild|shelves"]["auroc"]
    )
    assert "shelves" in rows[0]["open_set"]["unknown_accepted"]
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "None of the above" in page and "risk-coverage curves" in page
