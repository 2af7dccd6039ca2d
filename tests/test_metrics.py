"""Verification metrics against brute-force references and hand-computed cases."""

import json
import time

import numpy as np
import pytest
from scipy.stats import norm

from training.evaluation.metrics import (
    FoldResult,
    best_threshold,
    equal_error_rate,
    fold_scores_with_mean_subtraction,
    kfold_accuracy,
    plot_roc,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_report,
)


def synthetic_pairs(n_pairs: int, seed: int, n_folds: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same pairs ~N(0.5, 0.2), different ~N(0.1, 0.2), alternating blocks; folds by position."""
    rng = np.random.default_rng(seed)
    same = (np.arange(n_pairs) // 10) % 2 == 0
    scores = np.where(same, rng.normal(0.5, 0.2, n_pairs), rng.normal(0.1, 0.2, n_pairs))
    folds = np.arange(n_pairs) // (n_pairs // n_folds)
    return scores, same, folds


def brute_force_kfold(scores, same, folds):
    """evaluation.m written out: explicit loop over all 20,001 thresholds for each of the folds."""
    thresholds = np.arange(-10000, 10001) / 10000

    def accuracy(pos, neg, t):
        return (np.count_nonzero(pos > t) + np.count_nonzero(neg < t)) / (pos.size + neg.size)

    accuracies, chosen = [], []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        pos, neg = scores[train & same], scores[train & ~same]
        train_acc = np.array([accuracy(pos, neg, t) for t in thresholds])
        threshold = np.mean(thresholds[train_acc == train_acc.max()])
        accuracies.append(accuracy(scores[test & same], scores[test & ~same], threshold))
        chosen.append(threshold)
    return np.array(accuracies), np.array(chosen)


@pytest.mark.parametrize("decimals", [None, 3])  # rounding to the grid makes scores tie with thresholds
def test_kfold_matches_brute_force(decimals):
    scores, same, folds = synthetic_pairs(600, seed=1)
    if decimals is not None:
        scores = np.round(scores, decimals)
    result = kfold_accuracy(scores, same, folds)
    accuracies, thresholds = brute_force_kfold(scores, same, folds)
    np.testing.assert_array_equal(result.accuracies, accuracies)
    np.testing.assert_array_equal(result.thresholds, thresholds)
    assert result.mean == pytest.approx(accuracies.mean())
    assert 0.7 < result.mean < 0.95


def test_kfold_uses_each_folds_own_score_row():
    scores, same, folds = synthetic_pairs(600, seed=2)
    rows = np.stack([scores + 0.05 * k * (folds == k) for k in range(10)])  # row k shifts only fold k
    result = kfold_accuracy(rows, same, folds)
    for k in range(10):
        assert result.accuracies[k] == kfold_accuracy(rows[k], same, folds).accuracies[k]
    shared = kfold_accuracy(np.stack([scores] * 10), same, folds)
    np.testing.assert_array_equal(shared.accuracies, kfold_accuracy(scores, same, folds).accuracies)


def test_perfect_separation_gives_accuracy_one():
    scores, same, folds = synthetic_pairs(600, seed=3)
    scores = np.where(same, 0.6 + 0.1 * np.abs(scores), -0.2 - 0.1 * np.abs(scores))
    result = kfold_accuracy(scores, same, folds)
    np.testing.assert_array_equal(result.accuracies, 1.0)
    assert result.std == 0.0
    assert np.all((result.thresholds > -0.2) & (result.thresholds < 0.6))


def test_std_is_sample_std_like_matlab():
    result = FoldResult(accuracies=np.array([0.9, 1.0]), thresholds=np.zeros(2))
    assert result.mean == pytest.approx(0.95)
    assert result.std == pytest.approx(np.sqrt(0.005))  # sum of squares 0.005 / (n - 1)


def test_kfold_6000_pairs_is_fast():
    scores, same, folds = synthetic_pairs(6000, seed=4)
    rows = np.stack([scores] * 10)  # the (K, N) form that mean subtraction produces
    start = time.perf_counter()
    kfold_accuracy(rows, same, folds)
    assert time.perf_counter() - start < 1.0


def test_mean_subtraction_matches_evaluation_m():
    rng = np.random.default_rng(5)
    feat1, feat2 = rng.normal(1.0, 1.0, (40, 6)), rng.normal(1.0, 1.0, (40, 6))
    folds = np.arange(40) // 4
    rows = fold_scores_with_mean_subtraction(feat1, feat2, folds)
    assert rows.shape == (10, 40)
    for k in range(10):
        val = folds != k
        mu = np.concatenate([feat1[val], feat2[val]]).mean(axis=0)  # mean([L(:,val), R(:,val)], 2)
        left, right = feat1 - mu, feat2 - mu
        expected = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(left, right)]
        np.testing.assert_allclose(rows[k], expected, rtol=0, atol=1e-12)
    # a common offset of every feature is removed by the mean subtraction
    np.testing.assert_allclose(fold_scores_with_mean_subtraction(feat1 + 7, feat2 + 7, folds), rows, atol=1e-12)


# Hand case: same scores 0.9, 0.8, 0.3; different 0.7, 0.2, 0.1.
HAND_SCORES = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
HAND_SAME = np.array([True, True, True, False, False, False])


def test_roc_curve_hand_case():
    far, tar, thresholds = roc_curve(HAND_SCORES, HAND_SAME)
    np.testing.assert_allclose(far, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tar, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.3, 0.2, 0.1])


def test_hand_case_measures():
    assert roc_auc(HAND_SCORES, HAND_SAME) == pytest.approx(8 / 9)  # 8 of 9 (same, different) pairs ordered
    assert equal_error_rate(HAND_SCORES, HAND_SAME) == pytest.approx(1 / 3)
    assert tar_at_far(HAND_SCORES, HAND_SAME, 0.0) == pytest.approx(2 / 3)
    assert tar_at_far(HAND_SCORES, HAND_SAME, 0.34) == pytest.approx(1.0)
    # accuracy is best for every grid threshold in (0.2, 0.3) and in (0.7, 0.8) -> mean of both ranges
    assert best_threshold(HAND_SCORES, HAND_SAME) == pytest.approx(0.5)


def test_roc_measures_match_brute_force():
    rng = np.random.default_rng(6)
    scores = np.round(np.r_[rng.normal(0.5, 0.2, 300), rng.normal(0.1, 0.2, 700)], 2)  # many ties
    same = np.r_[np.ones(300, bool), np.zeros(700, bool)]
    pos, neg = scores[same], scores[~same]
    wins = np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])
    mann_whitney = wins / (pos.size * neg.size)
    assert roc_auc(scores, same) == pytest.approx(mann_whitney, abs=1e-12)
    candidates = np.r_[np.inf, np.unique(scores)]
    fars = np.array([np.mean(neg >= t) for t in candidates])
    tars = np.array([np.mean(pos >= t) for t in candidates])
    for target in (0.0, 0.001, 0.01, 0.1, 0.5):
        assert tar_at_far(scores, same, target) == pytest.approx(tars[fars <= target].max())
    crossing = np.argmin(np.abs(fars - (1 - tars)))
    assert equal_error_rate(scores, same) == pytest.approx(fars[crossing], abs=0.02)


def test_eer_of_gaussians_matches_theory():
    rng = np.random.default_rng(7)
    scores = np.r_[rng.normal(0.5, 0.2, 20000), rng.normal(0.1, 0.2, 20000)]
    same = np.r_[np.ones(20000, bool), np.zeros(20000, bool)]
    assert equal_error_rate(scores, same) == pytest.approx(norm.cdf(-0.4 / 0.4), abs=0.01)  # Phi(-d/2)


def test_report_json_and_values():
    scores, same, folds = synthetic_pairs(600, seed=8)
    report = verification_report(scores, same, folds, n_thresholds=2001)
    data = json.loads(report.to_json())
    assert set(data["tar_at_far"]) == {"0.001", "0.01"}
    assert "roc" not in data
    assert data["n_pairs"] == 600
    assert data["accuracy"] == pytest.approx(kfold_accuracy(scores, same, folds, 2001).mean)
    assert data["auc"] == pytest.approx(roc_auc(scores, same))
    assert len(data["fold_accuracies"]) == 10
    assert 0 < data["tar_at_far"]["0.001"] <= data["tar_at_far"]["0.01"] <= 1


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="both"):
        roc_curve(np.array([0.1, 0.2]), np.array([True, True]))
    with pytest.raises(ValueError, match="odd"):
        kfold_accuracy(HAND_SCORES, HAND_SAME, np.arange(6) // 3, n_thresholds=20000)


def test_plot_roc_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    scores, same, folds = synthetic_pairs(600, seed=9)
    report = verification_report(scores, same, folds, n_thresholds=201)
    out = tmp_path / "roc.png"
    plot_roc({"model": report, "tuple": roc_curve(scores, same)}, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
