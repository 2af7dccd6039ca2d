"""Face-verification metrics (pure NumPy): the SphereFace 10-fold protocol and ROC-based measures.

The k-fold protocol follows wy1iu/sphereface test/code/evaluation.m: a pair is judged "same" when its
score is strictly above the threshold and "different" when strictly below it (a tie is an error);
the ROC functions accept a pair as "same" when score >= threshold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from sphereapp.core.errors import SphereappError

TAR_FARS = (0.001, 0.01)


@dataclass(frozen=True)
class FoldResult:
    """Per-fold test accuracies (fractions) and the thresholds chosen on the other folds."""

    accuracies: np.ndarray
    thresholds: np.ndarray

    @property
    def mean(self) -> float:
        """Mean of the fold accuracies (the number evaluation.m reports)."""
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1) of the fold accuracies, as MATLAB's std."""
        return float(np.std(self.accuracies, ddof=1))


@dataclass
class VerificationReport:
    """Summary of a verification benchmark; `accuracy`/`std` come from k-fold, the rest from all pairs."""

    accuracy: float
    std: float
    tar_at_far: dict[str, float]
    auc: float
    eer: float
    threshold: float
    n_pairs: int
    fold_accuracies: list[float] = field(default_factory=list)
    roc: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> str:
        """JSON of every field except the ROC arrays."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "roc"}
        return json.dumps(data, indent=2)


def cosine_scores(feat1: np.ndarray, feat2: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, F) feature arrays (each row L2-normalised first)."""
    a = np.asarray(feat1, dtype=np.float64)
    b = np.asarray(feat2, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def fold_scores_with_mean_subtraction(feat1: np.ndarray, feat2: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """(K, N) scores: row k = cosine of all pairs after subtracting the mean feature of the folds other than k.

    evaluation.m: mu is the mean over both images' features of the training folds; each test fold's
    threshold is then chosen on the training folds' scores computed with that same mu, so every fold
    needs its own row (pass the result to `kfold_accuracy`).
    """
    f1 = np.asarray(feat1, dtype=np.float64)
    f2 = np.asarray(feat2, dtype=np.float64)
    folds = np.asarray(folds)
    dot12, sq1, sq2 = (np.einsum("ij,ij->i", a, b) for a, b in ((f1, f2), (f1, f1), (f2, f2)))
    rows = []
    for fold in np.unique(folds):
        train = folds != fold
        mu = (train @ f1 + train @ f2) / (2 * np.count_nonzero(train))
        # (a - mu).(b - mu) = a.b - a.mu - b.mu + mu.mu: matrix-vector products instead of centred copies
        p1, p2, mu_sq = f1 @ mu, f2 @ mu, mu @ mu
        rows.append((dot12 - p1 - p2 + mu_sq) / np.sqrt((sq1 - 2 * p1 + mu_sq) * (sq2 - 2 * p2 + mu_sq)))
    return np.stack(rows)


def _threshold_grid(n_thresholds: int) -> np.ndarray:
    """evaluation.m's grid (-h:h)/h with h = (n_thresholds - 1) / 2: evenly spaced over [-1, 1]."""
    if n_thresholds < 3 or n_thresholds % 2 == 0:
        raise ValueError(f"n_thresholds must be odd and >= 3, got {n_thresholds}")
    half = (n_thresholds - 1) // 2
    return np.arange(-half, half + 1) / half


def _correct_counts(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Pairs judged correctly at each threshold (same: score > t, different: score < t), via sorted counts."""
    same_sorted = np.sort(scores[same])
    diff_sorted = np.sort(scores[~same])
    true_accepts = same_sorted.size - np.searchsorted(same_sorted, thresholds, side="right")
    true_rejects = np.searchsorted(diff_sorted, thresholds, side="left")
    return true_accepts + true_rejects


def _mean_best_threshold(scores: np.ndarray, same: np.ndarray, grid: np.ndarray) -> float:
    """evaluation.m getThreshold: the mean of the grid thresholds that reach the best accuracy."""
    counts = _correct_counts(scores, same, grid)
    return float(np.mean(grid[counts == counts.max()]))


def _as_pairs(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores as float64 (N,) and flags as bool (N,), checked to match and to hold both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if scores.ndim != 1 or scores.shape != same.shape:
        raise ValueError(f"scores {scores.shape} and same {same.shape} must be matching 1-D arrays")
    if same.all() or not same.any():
        raise ValueError("need both same and different pairs")
    return scores, same


def kfold_accuracy(
    scores: np.ndarray, same: np.ndarray, folds: np.ndarray, n_thresholds: int = 20001
) -> FoldResult:
    """evaluation.m k-fold accuracy: each fold tested at the mean best threshold of the other folds.

    `scores` is (N,) or (K, N) with one row per fold in sorted fold order (see
    `fold_scores_with_mean_subtraction`); `folds` holds each pair's fold index.
    """
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    folds = np.asarray(folds)
    fold_ids = np.unique(folds)
    if fold_ids.size < 2:
        raise ValueError("k-fold evaluation needs at least 2 folds")
    per_fold = np.broadcast_to(scores, (fold_ids.size, same.size)) if scores.ndim == 1 else scores
    if per_fold.shape != (fold_ids.size, same.size) or folds.shape != same.shape:
        raise ValueError(f"scores {scores.shape}, same {same.shape} and folds {folds.shape} do not match")
    grid = _threshold_grid(n_thresholds)
    accuracies, thresholds = [], []
    for row, fold in zip(per_fold, fold_ids):
        test = folds == fold
        threshold = _mean_best_threshold(row[~test], same[~test], grid)
        correct = _correct_counts(row[test], same[test], np.array([threshold]))[0]
        accuracies.append(correct / np.count_nonzero(test))
        thresholds.append(threshold)
    return FoldResult(np.array(accuracies), np.array(thresholds))


def best_threshold(scores: np.ndarray, same: np.ndarray, n_thresholds: int = 20001) -> float:
    """Global best-accuracy threshold over all pairs (evaluation.m getThreshold on the whole set)."""
    scores, same = _as_pairs(scores, same)
    return _mean_best_threshold(scores, same, _threshold_grid(n_thresholds))


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds), accepting score >= threshold; thresholds descend from +inf over distinct scores."""
    scores, same = _as_pairs(scores, same)
    order = np.argsort(-scores, kind="stable")
    ranked, flags = scores[order], same[order]
    group_ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1]
    true_accepts = np.cumsum(flags)[group_ends]
    false_accepts = group_ends + 1 - true_accepts
    tar = np.r_[0, true_accepts] / np.count_nonzero(same)
    far = np.r_[0, false_accepts] / np.count_nonzero(~same)
    return far, tar, np.r_[np.inf, ranked[group_ends]]


def tar_at_far(scores: np.ndarray, same: np.ndarray, far_target: float) -> float:
    """Largest true-accept rate among thresholds whose false-accept rate is <= far_target."""
    far, tar, _ = roc_curve(scores, same)
    return float(tar[far <= far_target].max())


def roc_auc(scores: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; equals P(same score > different score) + half the ties)."""
    far, tar, _ = roc_curve(scores, same)
    return float(np.trapezoid(tar, far))


def equal_error_rate(scores: np.ndarray, same: np.ndarray) -> float:
    """Rate where FAR = FRR (1 - TAR), linearly interpolated between the ROC points around the crossing."""
    far, tar, _ = roc_curve(scores, same)
    gap = (1.0 - tar) - far  # starts at 1, ends at -1
    i = int(np.argmax(gap <= 0))
    step = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(far[i - 1] + step * (far[i] - far[i - 1]))


def verification_report(
    scores: np.ndarray,
    same: np.ndarray,
    folds: np.ndarray,
    fold_scores: np.ndarray | None = None,
    n_thresholds: int = 20001,
) -> VerificationReport:
    """Full report: k-fold accuracy on `fold_scores` (default `scores`), ROC measures and threshold on `scores`."""
    scores, same = _as_pairs(scores, same)
    result = kfold_accuracy(scores if fold_scores is None else fold_scores, same, folds, n_thresholds)
    far, tar, _ = roc_curve(scores, same)
    return VerificationReport(
        accuracy=result.mean,
        std=result.std,
        tar_at_far={f"{target:g}": tar_at_far(scores, same, target) for target in TAR_FARS},
        auc=roc_auc(scores, same),
        eer=equal_error_rate(scores, same),
        threshold=best_threshold(scores, same, n_thresholds),
        n_pairs=int(scores.size),
        fold_accuracies=[float(a) for a in result.accuracies],
        roc=(far, tar),
    )


Curve = VerificationReport | tuple[np.ndarray, ...]


def _far_tar(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    """(far, tar) of a report (its stored ROC) or of a (far, tar[, thresholds]) tuple."""
    if isinstance(curve, VerificationReport):
        if curve.roc is None:
            raise ValueError("this report carries no ROC curve")
        return curve.roc
    return curve[0], curve[1]


def plot_roc(
    curves: Curve | Mapping[str, Curve], path: str | Path, title: str = "ROC", ylabel: str = "true accept rate"
) -> None:
    """Save a ROC plot (TAR, or `ylabel`'s rate, against log-scale FAR) of one or labelled curves; needs matplotlib."""
    try:
        from matplotlib.figure import Figure  # optional extra; Figure saves through Agg, no pyplot state
    except ImportError:
        raise SphereappError("plotting a ROC curve needs matplotlib: pip install 'sphereapp[train]'") from None
    labelled = curves if isinstance(curves, Mapping) else {"": curves}
    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    for label, curve in labelled.items():
        far, tar = _far_tar(curve)
        shown = far > 0  # FAR = 0 has no place on a log axis
        axes.plot(far[shown], tar[shown], label=label or None)
    axes.set_xscale("log")
    axes.set_xlim(right=1.0)
    axes.set_xlabel("false accept rate")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    if any(labelled):
        axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(Path(path))
