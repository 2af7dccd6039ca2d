"""Box geometry shared by tracking, keyframes, search and reuse: overlap, and pairing faces across frames.

Boxes are float (N, 4) arrays of x1, y1, x2, y2 in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sphereapp.core.recognition.assignment import linear_sum_assignment


@dataclass(frozen=True)
class PairLimits:
    """How far a face may move, and how much it may grow or shrink, and still be the same face (`pair_faces`)."""

    max_move: float  # centre move, in face widths
    max_scale: float  # change in width, as a ratio


# From one keyframe to the next: interpolation between them (keyframes.py) and embedding reuse (reuse.py).
KEYFRAME_STEP = PairLimits(max_move=1.5, max_scale=1.25)
# From one scanned keyframe to the next, up to scan_every keyframes apart: where to search between them (search.py).
SCAN_STEP = PairLimits(max_move=4.0, max_scale=1.5)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of x1, y1, x2, y2 boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(a: np.ndarray, b: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of boxes a[i], b[j] with the largest total IoU (Hungarian), each pair >= min_iou."""
    if len(a) == 0 or len(b) == 0:
        return []
    iou = box_iou(a, b)
    return [(int(i), int(j)) for i, j in zip(*linear_sum_assignment(iou, maximize=True)) if iou[i, j] >= min_iou]


def pair_faces(before: np.ndarray, after: np.ndarray, limits: PairLimits) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of boxes before[i], after[j] with the least total centre move in face widths
    (Hungarian), each within `limits`. Small faces in a crowd can move more than their width between keyframes,
    where pairing by overlap fails."""
    if len(before) == 0 or len(after) == 0:
        return []
    width_before, width_after = before[:, 2] - before[:, 0], after[:, 2] - after[:, 0]
    centres_before, centres_after = (before[:, :2] + before[:, 2:]) / 2, (after[:, :2] + after[:, 2:]) / 2
    mean_width = np.maximum((width_before[:, None] + width_after[None]) / 2, 1e-6)
    move = np.linalg.norm(centres_before[:, None] - centres_after[None], axis=2) / mean_width
    scale = np.maximum(width_before[:, None], width_after[None]) / np.maximum(
        np.minimum(width_before[:, None], width_after[None]), 1e-6)
    allowed = (move <= limits.max_move) & (scale <= limits.max_scale)
    rows, cols = linear_sum_assignment(np.where(allowed, move, limits.max_move * 1e3 + 1e3))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if allowed[i, j]]
