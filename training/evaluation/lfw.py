"""LFW View-2 verification as in wy1iu/sphereface test/code/evaluation.m: pairs.txt reader and pair evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError
from training.evaluation.metrics import (
    VerificationReport,
    cosine_scores,
    fold_scores_with_mean_subtraction,
    verification_report,
)
from training.evaluation.pairs import VerificationPairs, require_both_classes, require_images

FeaturesFor = Callable[[list[Path]], np.ndarray]


def lfw_image_path(root: Path, name: str, number: int) -> Path:
    """LFW layout: <root>/<name>/<name>_<number:04d>.jpg."""
    return root / name / f"{name}_{number:04d}.jpg"


def _parse_header(line: str, path: Path) -> tuple[int, int]:
    """The first line: number of folds and pairs per class per fold, e.g. '10 300' (tab-separated)."""
    try:
        n_folds, per_class = (int(v) for v in line.split())
    except ValueError:
        raise InputError(f"{path}:1: expected the header 'folds pairs-per-class', got {line!r}") from None
    return n_folds, per_class


def _parse_pair(fields: list[str], root: Path) -> tuple[tuple[Path, Path], bool]:
    """'name i j' (same person) or 'name1 i name2 j' (different people) -> image paths and flag."""
    if len(fields) == 3:
        name, i, j = fields
        return (lfw_image_path(root, name, int(i)), lfw_image_path(root, name, int(j))), True
    if len(fields) == 4:
        name1, i, name2, j = fields
        return (lfw_image_path(root, name1, int(i)), lfw_image_path(root, name2, int(j))), False
    raise ValueError


def read_lfw_pairs(pairs_txt: str | Path, image_root: str | Path | None = None) -> VerificationPairs:
    """Read View-2 pairs.txt; images live under `image_root` (default: pairs.txt's folder); fold = position // 600."""
    path = Path(pairs_txt)
    root = path.parent if image_root is None else Path(image_root)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read LFW pairs file '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    if not lines:
        raise InputError(f"LFW pairs file '{path}' is empty")
    n_folds, per_class = _parse_header(lines[0], path)
    pairs, same = [], []
    for line_number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            pair, is_same = _parse_pair(line.split(), root)
        except ValueError:
            raise InputError(f"{path}:{line_number}: expected 'name i j' or 'name1 i name2 j', got {line!r}") from None
        pairs.append(pair)
        same.append(is_same)
    fold_size = 2 * per_class  # each fold: per_class same pairs, then per_class different pairs
    if len(pairs) != n_folds * fold_size:
        raise InputError(f"{path}: header promises {n_folds} x {fold_size} pairs, found {len(pairs)}")
    same_flags = np.array(same, dtype=bool)
    require_both_classes(same_flags, path)
    require_images(pairs, path)
    return VerificationPairs(pairs, same_flags, np.arange(len(pairs)) // fold_size)


def flip_concat_features(crops: np.ndarray, forward: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """LFW protocol feature concat(f(x), f(flip x)) of aligned NHWC crops (evaluation.m extractDeepFeature)."""
    return np.concatenate([forward(crops), forward(np.ascontiguousarray(crops[:, :, ::-1]))], axis=1)


def evaluate_pairs(
    image_pairs: Sequence[tuple[Path, Path]],
    same: np.ndarray,
    folds: np.ndarray,
    features_for: FeaturesFor,
    n_thresholds: int = 20001,
) -> VerificationReport:
    """Embed each distinct image once with `features_for(paths) -> (N, F)`, then report k-fold and ROC metrics.

    Accuracy follows evaluation.m (per-fold mean subtraction, cosine, mean best threshold); ROC measures and
    the threshold use the plain cosine of the features.
    """
    unique = list(dict.fromkeys(p for pair in image_pairs for p in pair))
    features = np.asarray(features_for(unique), dtype=np.float64)
    if features.ndim != 2 or features.shape[0] != len(unique):
        raise ValueError(f"features_for returned shape {features.shape} for {len(unique)} images")
    row = {p: i for i, p in enumerate(unique)}
    left = features[[row[a] for a, _ in image_pairs]]
    right = features[[row[b] for _, b in image_pairs]]
    return verification_report(
        cosine_scores(left, right),
        same,
        folds,
        fold_scores=fold_scores_with_mean_subtraction(left, right, folds),
        n_thresholds=n_thresholds,
    )
