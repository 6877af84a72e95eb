"""Temperature scaling, ECE and per-label thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from groundcoder.classifier import expected_calibration_error, fit_temperature, logits_nll, tune_thresholds
from groundcoder.classifier.calibration import binary_nll, sigmoid
from groundcoder.errors import InputError


def test_ece_matches_a_hand_computed_example():
    probs = np.array([[0.2, 0.9], [0.4, 0.6]])
    targets = np.array([[0, 1], [1, 1]])
    # 2 bins: (0, .5] holds 0.2, 0.4 (mean .3, accuracy .5); (.5, 1] holds .9, .6 (mean .75, accuracy 1)
    # ECE = 2/4 * |.3 - .5| + 2/4 * |.75 - 1| = 0.1 + 0.125
    assert expected_calibration_error(probs, targets, n_bins=2) == pytest.approx(0.225)
    # p = 0.5 sits in the first (right-closed) bin, p = 0 too
    assert expected_calibration_error([[0.0, 0.5, 1.0]], [[0, 1, 1]], n_bins=2) == pytest.approx(2 / 3 * 0.25)
    # perfectly calibrated forecasts in the limit
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(50_000, 2))
    y = (rng.uniform(size=p.shape) < p).astype(int)
    assert expected_calibration_error(p, y) < 0.01
    assert expected_calibration_error(np.clip(p * 1.6, 0, 1), y) > 0.1


def test_temperature_repairs_an_over_confident_model():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, size=(3000, 5))
    targets = (rng.uniform(size=true_logits.shape) < sigmoid(true_logits)).astype(int)
    overconfident = 4.0 * true_logits
    t = fit_temperature(overconfident, targets)
    assert t == pytest.approx(4.0, rel=0.1)
    assert logits_nll(overconfident, targets, t) < logits_nll(overconfident, targets) - 0.1
    ece_before = expected_calibration_error(sigmoid(overconfident), targets)
    ece_after = expected_calibration_error(sigmoid(overconfident / t), targets)
    assert ece_after < ece_before / 2
    # an under-confident one gets T < 1
    assert fit_temperature(0.3 * true_logits, targets) < 0.5


def test_nll_agrees_between_probabilities_and_logits():
    z = np.array([[-3.0, 0.5], [2.0, -0.2]])
    y = np.array([[0, 1], [1, 0]])
    assert binary_nll(sigmoid(z), y) == pytest.approx(logits_nll(z, y))


def test_thresholds_maximise_f1_and_fall_back_to_global():
    probs = np.array([
        [0.90, 0.10, 0.30],
        [0.80, 0.20, 0.10],
        [0.35, 0.70, 0.20],
        [0.30, 0.60, 0.05],
        [0.20, 0.10, 0.10],
    ])
    targets = np.array([
        [1, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 1, 0],
        [0, 0, 0],
    ])
    result = tune_thresholds(probs, targets)
    # label 0: any threshold in (0.35, 0.80] separates perfectly; the middle of that run is chosen
    assert 0.35 < result.thresholds[0] <= 0.80 and result.f1[0] == 1.0
    assert 0.20 < result.thresholds[1] <= 0.60 and result.f1[1] == 1.0
    # label 2 has no validation positives: global threshold, not tuned
    assert not result.tuned[2] and result.tuned[:2].all()
    assert result.thresholds[2] == result.global_threshold
    assert 0.35 < result.global_threshold <= 0.60  # the pooled micro-F1 optimum


def test_bad_input_is_reported():
    with pytest.raises(InputError, match="same shape"):
        expected_calibration_error(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(InputError, match="0/1"):
        fit_temperature(np.zeros((2, 2)), np.full((2, 2), 0.5))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        expected_calibration_error([[1.5]], [[1]])
