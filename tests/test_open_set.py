"""Open-set math (threshold, temperature, separation) and the decision rule — no TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from edgeposinv.errors import ConfigError, ModelError
from edgeposinv.evaluation.open_set import (
    accuracy_at_coverage,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    known_set_figures,
    nll,
    separation,
    softmax,
)
from edgeposinv.tflite.open_set import REJECTED, OpenSet, decide, decide_batch, reserved_index


def test_threshold_keeps_the_stated_share_of_a_constructed_distribution():
    # 100 correct known scores 0.01, 0.02, ..., 1.00: keeping 95% means the threshold is 0.06.
    scores = np.arange(1, 101) / 100.0
    rng = np.random.default_rng(0)
    t = choose_threshold(rng.permutation(scores), 0.95)
    assert t == pytest.approx(0.06, abs=1e-6)
    assert (scores >= np.float32(t)).mean() == pytest.approx(0.95)
    assert choose_threshold(scores, 1.0) == pytest.approx(0.01, abs=1e-6)
    assert choose_threshold(scores, 0.5) == pytest.approx(0.51, abs=1e-6)
    # an odd count: 7 scores, keep 95% → keep all 7 (6 would be 85.7%)
    assert choose_threshold(np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]), 0.95) == pytest.approx(
        0.3
    )
    with pytest.raises(ConfigError, match="keep_correct"):
        choose_threshold(scores, 0.0)
    with pytest.raises(ConfigError, match="No correctly classified"):
        choose_threshold(np.array([]), 0.95)


def _overconfident_toy(n=4000, seed=0):
    """A toy 3-class model whose logits are 4x too large (true temperature 4)."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.0, (n, 3)) + np.eye(3)[rng.integers(0, 3, n)] * 1.5
    p = softmax(true_logits)
    y = np.array([rng.choice(3, p=row) for row in p])
    return 4.0 * true_logits, y


def test_temperature_scaling_lowers_the_calibration_error_of_an_overconfident_model():
    logits, y = _overconfident_toy()
    fit_logits, fit_y, test_logits, test_y = logits[:2000], y[:2000], logits[2000:], y[2000:]
    t = fit_temperature(fit_logits, fit_y)
    assert 3.0 < t < 5.5, t  # recovers the true factor of 4
    before = softmax(test_logits)
    after = softmax(test_logits, t)
    correct = before.argmax(1) == test_y
    assert (after.argmax(1) == before.argmax(1)).all()  # temperature never changes the class
    ece_before, _ = expected_calibration_error(before.max(1), correct)
    ece_after, bins = expected_calibration_error(after.max(1), correct)
    assert ece_before > 0.15
    assert ece_after < 0.05 and ece_after < ece_before / 3
    assert nll(test_logits, test_y, t) < nll(test_logits, test_y)
    assert sum(b["n"] for b in bins) == len(test_y)


def test_separation_and_coverage_figures_on_constructed_scores():
    known = np.linspace(0.5, 1.0, 200)
    unknown = np.linspace(0.0, 0.6, 100)
    sep = separation(known, unknown, rounds=200, seed=1)
    assert 0.95 < sep["auroc"] < 1.0
    lo, hi = sep["auroc_ci95"]
    assert lo <= sep["auroc"] <= hi and hi - lo < 0.05
    # threshold keeping 95% of known: 0.525; unknowns at or above: (0.6-0.525)/0.6 of 100 → 12 or 13
    assert 0.1 <= sep["fpr_at_95_tpr"] <= 0.14
    assert separation(known, unknown, rounds=200, seed=1) == sep  # seeded
    correct = known > 0.6  # high scores are right
    acc = accuracy_at_coverage(known, correct)
    assert acc["0.5"]["accuracy"] == 1.0 and acc["1"]["accuracy"] == pytest.approx(correct.mean())
    figures = known_set_figures(known, correct, rejected=known < 0.7)
    at = figures["at_threshold"]
    assert at["selective_accuracy"] == 1.0
    assert at["accuracy"] == pytest.approx((known >= 0.7).mean())
    assert figures["risk_coverage"][0] == [pytest.approx(1 / 200), 1.0]


def test_decision_rule_rejects_reserved_top_and_low_scores():
    labels = ("paper", "rock", "_background")
    r = reserved_index(labels)
    assert r == 2 and reserved_index(("a", "b")) == -1 and reserved_index(labels, None) == -1
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # accepted: paper
            [0.3, 0.2, 0.5],  # background on top: rejected (score 0.3)
            [0.45, 0.45, 0.1],  # tie → first; 0.45 < 0.5: rejected
            [0.5, 0.4, 0.1],  # exactly at the threshold: accepted
        ],
        np.float32,
    )
    idx, score = decide_batch(probs, r, 0.5)
    assert idx.tolist() == [0, REJECTED, REJECTED, 0]
    assert score.tolist() == pytest.approx([0.7, 0.3, 0.45, 0.5])
    assert decide(probs[2], r, None) == (0, pytest.approx(0.45))
    assert decide(probs[1], -1, None)[0] == 2  # without a reserved label the rule is argmax


def test_open_set_entry_round_trips_and_is_validated():
    o = OpenSet(0.5, 1.7, "_background", {"keep_correct": 0.95}, {"known_rejected": 0.05})
    assert OpenSet.from_dict(o.to_dict()) == o
    assert OpenSet.from_dict(None) is None
    with pytest.raises(ModelError, match="score_threshold"):
        OpenSet(1.5)
    with pytest.raises(ModelError, match="unusable"):
        OpenSet.from_dict({"temperature": 2.0})


def test_threshold_for_unknowns_accepts_at_most_the_stated_share():
    from edgeposinv.evaluation.open_set import lowest_threshold_for_unknowns

    # 40 unknowns, 10 already rejected by the background output; 30 open scores 0.01..0.30
    open_scores = np.arange(1, 31) / 100.0
    t = lowest_threshold_for_unknowns(open_scores, 40, 0.05)  # 2 of 40 may pass
    assert (open_scores >= np.float32(t)).sum() == 2
    assert t > np.float32(0.28) and t <= np.float32(0.29) + 1e-6
    assert lowest_threshold_for_unknowns(open_scores[:2], 40, 0.05) == 0.0
    assert (
        open_scores >= np.float32(lowest_threshold_for_unknowns(open_scores, 40, 0.0))
    ).sum() == 0


def test_dataset_stats_shows_the_reserved_folder_apart(tmp_path):
    import cv2

    from edgeposinv.data.stats import dataset_stats

    rng = np.random.default_rng(0)
    for label, n in (("cat", 3), ("dog", 3), ("_background", 5)):
        (tmp_path / label).mkdir()
        for i in range(n):
            img = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), img)
    stats = dataset_stats(tmp_path, show_progress=False)
    assert stats.labels == ["cat", "dog"] and stats.per_label == {"cat": 3, "dog": 3}
    assert stats.background == 5 and stats.imbalance == 1.0
    assert any("none of the classes (_background" in line for line in stats.lines())
    assert stats.to_dict()["background"] == 5


def test_capture_guide_prompts_a_background_session():
    from edgeposinv.capture.guide import BACKGROUND_PROMPTS, GuideConfig

    g = GuideConfig(2, 2)
    prompts = {g.step(i, "_background").angle for i in range(12)}
    assert prompts == set(BACKGROUND_PROMPTS)
    assert g.step(0, "mug").angle == "upright"
