"""Verification evaluation: LFW 10-fold protocol (wy1iu/sphereface evaluation.m), ROC metrics, pair lists."""

from training.evaluation.lfw import evaluate_pairs, flip_concat_features, read_lfw_pairs
from training.evaluation.metrics import (
    FoldResult,
    VerificationReport,
    best_threshold,
    cosine_scores,
    equal_error_rate,
    fold_scores_with_mean_subtraction,
    kfold_accuracy,
    plot_roc,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_report,
)
from training.evaluation.pairs import VerificationPairs, read_pairs_csv

__all__ = [
    "FoldResult",
    "VerificationPairs",
    "VerificationReport",
    "best_threshold",
    "cosine_scores",
    "equal_error_rate",
    "evaluate_pairs",
    "flip_concat_features",
    "fold_scores_with_mean_subtraction",
    "kfold_accuracy",
    "plot_roc",
    "read_lfw_pairs",
    "read_pairs_csv",
    "roc_auc",
    "roc_curve",
    "tar_at_far",
    "verification_report",
]
