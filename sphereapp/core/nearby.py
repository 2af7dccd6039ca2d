"""Detection on keyframes where only some are scanned whole and the others are searched near expected faces.

A scanned keyframe goes through the full MTCNN cascade (P-Net over the whole frame at every scale). A searched
keyframe lies between two scanned ones, A before and B after it, in the same shot (core/stride.py makes the frames
around a scene cut scanned ones): its faces are expected where the faces of A and B, paired by box IoU, are at
the linear interpolation of their boxes, and where the unpaired faces of A and of B were. R-Net and O-Net check a
few squares around each expected box (`FaceDetector.detect_near`), which costs a small part of a scan and still
gives each face its own box, landmarks and embedding. A face that shows on neither A nor B is not looked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sphereapp.core.tracking import match_boxes

if TYPE_CHECKING:
    from sphereapp.core.detect import Detections, FaceDetector
    from sphereapp.core.pipeline import FrameResult
    from sphereapp.core.video import Frame

PAIR_MIN_IOU = 0.2  # faces move between scanned keyframes: pair them loosely (as core/stride.py's interpolation)


def expected_boxes(before: np.ndarray, after: np.ndarray, t: float) -> np.ndarray:
    """Boxes (K, 4) where faces are expected a fraction `t` of the way from boxes `before` (N, 4) to `after` (M, 4):
    each pair moved linearly, and every unpaired box where it was."""
    before, after = np.asarray(before, np.float32).reshape(-1, 4), np.asarray(after, np.float32).reshape(-1, 4)
    pairs = match_boxes(before, after, PAIR_MIN_IOU)
    paired_before, paired_after = {i for i, _ in pairs}, {j for _, j in pairs}
    moved = [(1 - t) * before[i] + t * after[j] for i, j in pairs]
    alone = [box for i, box in enumerate(before) if i not in paired_before]
    alone += [box for j, box in enumerate(after) if j not in paired_after]
    return np.array(moved + alone, np.float32).reshape(-1, 4)


def detect_keyframes(detector: FaceDetector, frames: Sequence[Frame], scanned: Sequence[bool] | None = None,
                     before: FrameResult | None = None) -> list[Detections]:
    """Faces of consecutive keyframes: `scanned[i]` (default: every frame) is scanned whole, the others searched
    near the faces expected there from the nearest scanned keyframes on either side; `before` is the result of the
    scanned keyframe before the first, if any."""
    images = [frame.image for frame in frames]
    if scanned is None or all(scanned):
        return detector.detect(images)
    scan_at = [i for i, whole in enumerate(scanned) if whole]
    found: list[Detections | None] = [None] * len(frames)
    for i, detections in zip(scan_at, detector.detect([images[i] for i in scan_at])):
        found[i] = detections
    anchors = [(frame.index, detections.boxes) for frame, detections in zip(frames, found) if detections is not None]
    if before is not None:
        anchors.insert(0, (before.index, np.array([face.box for face in before.faces], np.float32).reshape(-1, 4)))
    search_at = [i for i, whole in enumerate(scanned) if not whole]
    expected = [_expected_at(frames[i].index, anchors) for i in search_at]
    for i, detections in zip(search_at, detector.detect_near([images[i] for i in search_at], expected)):
        found[i] = detections
    return found


def _expected_at(index: int, anchors: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Expected boxes at frame `index` from the nearest (frame index, boxes) anchors before and after it."""
    earlier = [anchor for anchor in anchors if anchor[0] < index]
    later = [anchor for anchor in anchors if anchor[0] > index]
    if not earlier or not later:  # at an end of the video: where the faces were last seen
        return earlier[-1][1] if earlier else later[0][1] if later else np.zeros((0, 4), np.float32)
    (start, boxes_a), (stop, boxes_b) = earlier[-1], later[0]
    return expected_boxes(boxes_a, boxes_b, (index - start) / (stop - start))
