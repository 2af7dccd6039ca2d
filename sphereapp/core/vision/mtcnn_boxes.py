"""MTCNN's box arithmetic: P-Net's candidate boxes, box regression, squaring, non-maximum suppression.

The formulas and constants are those of facenet-pytorch's `models/utils/detect_face.py` (MIT; itself a port of
Zhang et al.'s MATLAB code, IEEE SPL 2016), so the detections do not move: `candidate_boxes` is its
`generateBoundingBox`, `regress` its `bbreg`, `square` its `rerec`, `batched_nms` torchvision's `batched_nms`
(which it calls) and `batched_nms_min` its `batched_nms_numpy(..., "Min")`.
"""

from __future__ import annotations

import numpy as np
import torch

PNET_STRIDE, PNET_CELL = 2, 12  # P-Net's output stride and window (px)


def candidate_boxes(regression: torch.Tensor, probability: torch.Tensor, scale: float,
                    threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """P-Net's windows at or above `threshold` on one pyramid level: (K, 9) x1, y1, x2, y2 (input pixels), score,
    four regression offsets, and each one's image index (K,). `regression` (B, 4, h, w), `probability` (B, h, w)."""
    found = probability >= threshold
    where = found.nonzero()
    corner = where[:, 1:].to(regression.dtype).flip(1)  # (x, y) of the output cell
    top_left = ((PNET_STRIDE * corner + 1) / scale).floor()
    bottom_right = ((PNET_STRIDE * corner + PNET_CELL) / scale).floor()
    offsets = regression.permute(1, 0, 2, 3)[:, found].permute(1, 0)
    return torch.cat([top_left, bottom_right, probability[found].unsqueeze(1), offsets], dim=1), where[:, 0]


def regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """`boxes` (K, 5 with score) moved by the networks' regression `offsets` (K, 4), in units of the box's size
    counted inclusively (x2 - x1 + 1)."""
    size = torch.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], dim=1).repeat(1, 2)
    return torch.cat([boxes[:, :4] + offsets[:, :4] * size, boxes[:, 4:]], dim=1)


def square(boxes: torch.Tensor) -> torch.Tensor:
    """`boxes` (K, 5 with score) grown to squares of their longer side about the same centre."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(width, height)
    x1 = boxes[:, 0] + width * 0.5 - side * 0.5
    y1 = boxes[:, 1] + height * 0.5 - side * 0.5
    return torch.stack([x1, y1, x1 + side, y1 + side, boxes[:, 4]], dim=1)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, image_index: torch.Tensor,
                threshold: float) -> torch.Tensor:
    """Indices of the boxes (K, 4) kept by non-maximum suppression within each image, best score first: a box is
    dropped when its intersection over union with a better one exceeds `threshold` (torchvision's `nms`)."""
    order = np.argsort(-scores.cpu().numpy(), kind="stable")
    return _greedy(_apart(boxes, image_index), order, threshold, pixel=0.0, over_smaller=False).to(boxes.device)


def batched_nms_min(boxes: torch.Tensor, scores: torch.Tensor, image_index: torch.Tensor,
                    threshold: float) -> torch.Tensor:
    """Like `batched_nms` with MTCNN's last-stage overlap: boxes measured inclusively (x2 - x1 + 1) and the
    intersection divided by the smaller box's area, in place of the union's."""
    order = np.argsort(scores.cpu().numpy())[::-1]
    return _greedy(_apart(boxes, image_index), order, threshold, pixel=1.0, over_smaller=True).to(boxes.device)


def _apart(boxes: torch.Tensor, image_index: torch.Tensor) -> np.ndarray:
    """`boxes` as float32 numpy, each image's shifted by image index x (largest coordinate + 1) so that boxes of
    different images never overlap and one suppression pass serves the whole batch (torchvision's coordinate trick)."""
    if not len(boxes):
        return np.zeros((0, 4), np.float32)
    shift = image_index.to(boxes) * (boxes.max() + 1)
    return (boxes + shift[:, None]).cpu().numpy()


def _greedy(boxes: np.ndarray, order: np.ndarray, threshold: float, *, pixel: float,
            over_smaller: bool) -> torch.Tensor:
    """Greedy suppression over `boxes` (K, 4) taken in `order`: keep the first box left, drop those overlapping it
    by more than `threshold`, repeat; the kept indices in `order`. `pixel` is added to each side length (1:
    inclusive pixel boxes). Worked out at once, not box by box: overlaps only between boxes whose x-spans meet,
    then "kept unless a better kept box overlaps it" repeated until nothing changes, which settles in the greedy
    order's result (each pass fixes at least the next box of every chain of overlaps)."""
    boxes = boxes[order]
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + pixel) * (y2 - y1 + pixel)
    first, second = _pairs_meeting_in_x(x1, x2 + pixel)
    width = np.maximum(0.0, np.minimum(x2[first], x2[second]) - np.maximum(x1[first], x1[second]) + pixel)
    height = np.maximum(0.0, np.minimum(y2[first], y2[second]) - np.maximum(y1[first], y1[second]) + pixel)
    inter = width * height
    overlap = inter / (np.minimum(area[first], area[second]) if over_smaller else area[first] + area[second] - inter)
    close = overlap > threshold
    better, worse = np.minimum(first[close], second[close]), np.maximum(first[close], second[close])
    keep = np.ones(len(boxes), bool)
    while True:
        suppressed = np.zeros(len(boxes), bool)
        suppressed[worse[keep[better]]] = True
        if np.array_equal(keep, ~suppressed):
            return torch.as_tensor(np.asarray(order)[keep].astype(np.int64))
        keep = ~suppressed


def _pairs_meeting_in_x(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j) of spans x1..x2 where the later one starts less than 1 after the other ends, once: a
    margin, so that the pairs left out cannot overlap."""
    by_start = np.argsort(x1, kind="stable")
    starts = x1[by_start]
    ends = np.searchsorted(starts, x2[by_start] + 1, side="left")  # spans after this one that start before it ends
    counts = np.maximum(ends - np.arange(len(starts)) - 1, 0)
    first = np.repeat(np.arange(len(starts)), counts)
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return by_start[first], by_start[first + 1 + step]
