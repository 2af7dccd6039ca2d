"""Face detection with MTCNN, batched over equal-size images."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from sphereapp.core.vision.device import describe_device
from sphereapp.core.vision.mtcnn import channels_last, check_candidates, detect_faces
from sphereapp.core.vision.mtcnn_nets import load_mtcnn

log = logging.getLogger(__name__)

PNET_WINDOW = 12  # P-Net's input window in pixels: the smallest face MTCNN finds without upsampling
# Candidate squares around an expected face box, as (shift x, shift y, size) in units of the box's longer side:
# a 5x5 grid of shifts up to 0.3 side each way, and 0.8x / 1.25x as large in place: 27 squares that still find the
# faces a scan finds when the expected boxes are somewhat off (docs/MEASURED.md).
_SHIFTS = (-0.3, -0.15, 0.0, 0.15, 0.3)
NEAR_CANDIDATES = np.array([(dx, dy, 1.0) for dx in _SHIFTS for dy in _SHIFTS] + [(0.0, 0.0, 0.8), (0.0, 0.0, 1.25)],
                           np.float32)


@dataclass
class Detections:
    """Faces found in one image: boxes (N,4) x1,y1,x2,y2, scores (N,), landmarks (N,5,2), all float32."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        """No faces."""
        return cls()


@dataclass
class DetectorConfig:
    """MTCNN settings; sizes are in pixels of the original image, before any `max_side` downscale."""

    min_face_size: int = 20
    thresholds: tuple = (0.6, 0.7, 0.7)
    factor: float = 0.709
    max_side: int | None = None
    batch_size: int = 16  # most images per MTCNN call
    batch_pixels: int = 16 * 640 * 480  # most pixels per MTCNN call: fewer 4K frames than 480p ones share a call


class FaceDetector:
    """MTCNN with its P/R/O-Net weights shipped in the package (nothing is downloaded)."""

    def __init__(self, config: DetectorConfig | None = None, device: torch.device = torch.device("cpu")):
        self.config = config or DetectorConfig()
        self.device = device
        self._nets = tuple(channels_last(net) for net in load_mtcnn(device))
        log.info("face detector MTCNN on %s", describe_device(device))

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """One `Detections` per RGB uint8 image, in order; equal-size images share batched MTCNN calls."""
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, image in enumerate(images):
            _check_image(image)
            by_size[image.shape[:2]].append(index)
        results: dict[int, Detections] = {}
        for (height, width), indices in by_size.items():
            step = max(1, min(self.config.batch_size, self.config.batch_pixels // (height * width)))
            for start in range(0, len(indices), step):
                chunk = indices[start:start + step]
                results.update(zip(chunk, self._detect_same_size([images[i] for i in chunk])))
        return [results[index] for index in range(len(images))]

    def detect_near(self, images: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> list[Detections]:
        """One `Detections` per RGB uint8 image with the faces near its `expected` boxes (K, 4) only: R-Net and
        O-Net check squares around each box (`NEAR_CANDIDATES`) in place of P-Net's search of the whole frame, at a
        small part of `detect`'s cost. A face far from every expected box is not found."""
        results = []
        for image, boxes in zip(images, expected, strict=True):
            _check_image(image)
            candidates = _candidate_squares(np.asarray(boxes, np.float32).reshape(-1, 4))
            if not len(candidates):
                results.append(Detections.empty())
                continue
            # Only the part of the frame the candidates, and the boxes R-Net moves them to, can reach is read.
            margin = float(np.max(candidates[:, 2] - candidates[:, 0])) / 2
            height, width = image.shape[:2]
            left, top = (max(0, int(np.floor(v - margin))) for v in candidates[:, :2].min(axis=0))
            right = min(width, int(np.ceil(candidates[:, 2].max() + margin)))
            bottom = min(height, int(np.ceil(candidates[:, 3].max() + margin)))
            region = np.ascontiguousarray(image[top:bottom, left:right])
            if region.shape[0] < 1 or region.shape[1] < 1:  # every candidate lies outside the frame
                results.append(Detections.empty())
                continue
            offset = np.array([left, top, left, top], np.float32)
            (found, points), = check_candidates(
                torch.from_numpy(region[None]).to(self.device), *self._nets[1:],
                torch.from_numpy(candidates - offset).to(self.device),
                torch.zeros(len(candidates), dtype=torch.long, device=self.device),
                thresholds=self.config.thresholds[1:],
            )
            found[:, :4] += offset
            results.append(_to_detections(found, points + offset[:2], np.ones(2, np.float32), width, height))
        return results

    def _detect_same_size(self, images: list[np.ndarray]) -> list[Detections]:
        """Run MTCNN once on equal-size images, downscaled to `max_side` first when they are larger."""
        height, width = images[0].shape[:2]
        scale = _downscale_factor(height, width, self.config.max_side)
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if scale < 1.0:
            images = [cv2.resize(np.ascontiguousarray(image), small_size, interpolation=cv2.INTER_AREA)
                      for image in images]
        min_face = self._min_face_size(scale)
        if min(small_size) < min_face:  # MTCNN's scale pyramid would be empty
            return [Detections.empty() for _ in images]
        found = detect_faces(
            torch.from_numpy(np.stack(images)).to(self.device), *self._nets, min_face_size=min_face,
            thresholds=self.config.thresholds, factor=self.config.factor,
        )
        to_original = np.array([width / small_size[0], height / small_size[1]], np.float32)
        return [_to_detections(boxes, points, to_original, width, height) for boxes, points in found]

    def _min_face_size(self, scale: float) -> int:
        """`min_face_size` (original pixels) in pixels of the image MTCNN sees after a downscale by `scale`."""
        if scale == 1.0:
            return self.config.min_face_size
        # Below P-Net's window MTCNN would upsample the downscaled frame, undoing `max_side`.
        return max(PNET_WINDOW, round(self.config.min_face_size * scale))


def _candidate_squares(boxes: np.ndarray) -> np.ndarray:
    """(len(boxes) * len(NEAR_CANDIDATES), 4) squares x1, y1, x2, y2 around each box (`NEAR_CANDIDATES`)."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None]
    centre_x, centre_y = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None], ((boxes[:, 1] + boxes[:, 3]) / 2)[:, None]
    shift_x, shift_y, size = NEAR_CANDIDATES.T
    x, y, half = centre_x + shift_x * side, centre_y + shift_y * side, size * side / 2
    return np.stack([x - half, y - half, x + half, y + half], axis=-1).reshape(-1, 4).astype(np.float32)


def _check_image(image: np.ndarray) -> None:
    """Reject anything that is not an RGB uint8 (H, W, 3) array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")


def _downscale_factor(height: int, width: int, max_side: int | None) -> float:
    """Factor (<= 1) that brings the longer side down to `max_side`; 1 when no downscale is needed."""
    longer = max(height, width)
    return max_side / longer if max_side and longer > max_side else 1.0


def _to_detections(found: np.ndarray, points: np.ndarray, to_original: np.ndarray, width: int,
                   height: int) -> Detections:
    """MTCNN's faces of one image (boxes with score (K, 5), landmarks (K, 5, 2)) -> `Detections` in original
    pixels, best score first."""
    if len(found) == 0:
        return Detections.empty()
    boxes = np.asarray(found[:, :4], np.float32).reshape(-1, 2, 2) * to_original
    boxes = boxes.reshape(-1, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    scores = np.asarray(found[:, 4], np.float32).reshape(-1)
    landmarks = np.asarray(points, np.float32).reshape(-1, 5, 2) * to_original
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    order = np.argsort(-scores[keep], kind="stable")
    return Detections(
        boxes=np.ascontiguousarray(boxes[keep][order]),
        scores=np.ascontiguousarray(scores[keep][order]),
        landmarks=np.ascontiguousarray(landmarks[keep][order]),
    )


def primary_face(boxes: np.ndarray, image_size: tuple[int, int]) -> int:
    """Index of the face to enrol: the largest, with near-ties going to the one nearest the image centre.

    score = area * (1 - 0.5 * d), d = distance from the box centre to the image centre divided by half the image
    diagonal (0 at the centre, 1 in a corner): a corner face must be twice as large to beat a central one.
    """
    height, width = image_size
    sides = np.clip(boxes[:, 2:4] - boxes[:, 0:2], 0, None)
    centres = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    distance = np.linalg.norm(centres - np.array([width / 2, height / 2]), axis=1) / (np.hypot(width, height) / 2)
    return int(np.argmax(sides[:, 0] * sides[:, 1] * (1 - 0.5 * np.minimum(distance, 1.0))))
