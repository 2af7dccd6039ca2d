"""Detection on keyframes where only some are scanned whole and the others are searched near expected faces.

A scanned keyframe goes through the full MTCNN cascade (P-Net over the whole frame at every scale). A searched
keyframe lies between two scanned ones, A before and B after it, in the same shot (keyframes.py makes the frames
around a scene cut scanned ones). Faces of A and B are paired by least centre move (`pair_faces`); a pair is
expected at the linear interpolation of its boxes, an unpaired face where it was moved as the pairs move (their
median shift). R-Net and O-Net check a few squares around each expected box (`FaceDetector.detect_near`), which
costs a small part of a scan and still gives each face its own box, landmarks and embedding. A face that shows on
neither A nor B is not looked for, and where faces move fast between A and B (`FAST_MOVE`) the keyframe is
scanned after all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.geometry import SCAN_STEP, pair_faces
from sphereapp.core.recognition.results import FrameResult
from sphereapp.core.timing import NO_TIMES, Stage, StageTimes
from sphereapp.core.vision.detect import Detections, FaceDetector

# Median centre move of the paired faces from one scanned keyframe to the next, in face widths, above which the
# keyframes between them are scanned too: searching a few squares around a straight-line guess then misses faces.
# It lies between the moves of people walking and of a running crowd (docs/MEASURED.md).
FAST_MOVE = 1.2


def typical_move(before: np.ndarray, after: np.ndarray) -> float:
    """Median centre move of the faces `pair_faces` pairs between boxes `before` and `after`, in face widths (0 when
    none pair)."""
    pairs = pair_faces(before, after, SCAN_STEP)
    if not pairs:
        return 0.0
    i, j = np.array(pairs).T
    widths = (before[i, 2] - before[i, 0] + after[j, 2] - after[j, 0]) / 2
    centres_before, centres_after = (before[i, :2] + before[i, 2:]) / 2, (after[j, :2] + after[j, 2:]) / 2
    return float(np.median(np.linalg.norm(centres_after - centres_before, axis=1) / np.maximum(widths, 1e-6)))


def expected_boxes(before: np.ndarray, after: np.ndarray, t: float) -> np.ndarray:
    """Boxes (K, 4) where faces are expected a fraction `t` of the way from boxes `before` (N, 4) to `after` (M, 4):
    each pair (`pair_faces`) moved linearly; each unpaired box moved as the pairs move (their median shift: a
    camera pan or a crowd moves faces together), or left where it was when nothing paired."""
    before, after = np.asarray(before, np.float32).reshape(-1, 4), np.asarray(after, np.float32).reshape(-1, 4)
    pairs = pair_faces(before, after, SCAN_STEP)
    shift = np.zeros(4, np.float32)
    if pairs:
        shift = np.median([after[j] - before[i] for i, j in pairs], axis=0).astype(np.float32)
    paired_before, paired_after = {i for i, _ in pairs}, {j for _, j in pairs}
    moved = [(1 - t) * before[i] + t * after[j] for i, j in pairs]
    moved += [box + t * shift for i, box in enumerate(before) if i not in paired_before]
    moved += [box - (1 - t) * shift for j, box in enumerate(after) if j not in paired_after]
    return np.array(moved, np.float32).reshape(-1, 4)


def detect_keyframes(detector: FaceDetector, frames: Sequence[Frame], scanned: Sequence[bool] | None = None,
                     before: FrameResult | None = None, times: StageTimes = NO_TIMES) -> list[Detections]:
    """Faces of consecutive keyframes: `scanned[i]` (default: every frame) is scanned whole, the others searched
    near the faces expected there from the nearest scanned keyframes on either side, or scanned as well where the
    faces move fast between those (`FAST_MOVE`); `before` is the result of the keyframe before the first, if any
    (`recognised_frames` passes a scanned one; the app's player the frame it recognised just before); scans and
    searches are timed in `times`."""
    images = [frame.image for frame in frames]
    if scanned is None or all(scanned):
        with times.stage(Stage.SCAN):
            return detector.detect(images)
    found: list[Detections | None] = [None] * len(frames)

    def fill(at: list[int], detect: Callable[[list[np.ndarray]], list[Detections]], stage: Stage) -> None:
        if at:
            with times.stage(stage):
                detected = detect([images[i] for i in at])
            for i, detections in zip(at, detected):
                found[i] = detections

    fill([i for i, whole in enumerate(scanned) if whole], detector.detect, Stage.SCAN)
    anchors = [(frame.index, detections.boxes) for frame, detections in zip(frames, found) if detections is not None]
    if before is not None:
        anchors.insert(0, (before.index, np.array([face.box for face in before.faces], np.float32).reshape(-1, 4)))
    expected = {i: _expected_at(frames[i].index, anchors) for i, whole in enumerate(scanned) if not whole}
    fill([i for i, boxes in expected.items() if boxes is None], detector.detect, Stage.SCAN)  # faces move fast
    search_at = [i for i, boxes in expected.items() if boxes is not None]
    fill(search_at, lambda near_images: detector.detect_near(near_images, [expected[i] for i in search_at]),
         Stage.SEARCH)
    return found


def _expected_at(index: int, anchors: list[tuple[int, np.ndarray]]) -> np.ndarray | None:
    """Expected boxes at frame `index` from the nearest (frame index, boxes) anchors before and after it; None when
    their faces move too fast to be searched for (`FAST_MOVE`)."""
    earlier = [anchor for anchor in anchors if anchor[0] < index]
    later = [anchor for anchor in anchors if anchor[0] > index]
    if not earlier or not later:  # at an end of the video: where the faces were last seen
        return earlier[-1][1] if earlier else later[0][1] if later else np.zeros((0, 4), np.float32)
    (start, boxes_a), (stop, boxes_b) = earlier[-1], later[0]
    if typical_move(boxes_a, boxes_b) > FAST_MOVE:
        return None
    return expected_boxes(boxes_a, boxes_b, (index - start) / (stop - start))


class FollowingSearch:
    """For frames recognised one at a time as a player shows them (no look-ahead): which to scan whole, and for the
    others the result of the frame just before, whose faces to search near.

    A frame is searched when the last recognised frame is at most `max_gap` frames before it, in the same shot
    (no scene cut between them), and fewer than `scan_every` - 1 frames were searched since the last scan; otherwise
    it is scanned, so a newcomer is found within `scan_every` recognised frames.
    """

    def __init__(self, scan_every: int = 4, max_gap: int = 3):
        if scan_every < 1 or max_gap < 1:
            raise ValueError(f"scan_every and max_gap must be at least 1, not {scan_every} and {max_gap}")
        self.scan_every, self.max_gap = scan_every, max_gap
        self._last: FrameResult | None = None
        self._searched = 0  # frames searched since the last scan

    def before(self, index: int, cut: bool) -> FrameResult | None:
        """The result to search near for frame `index` (`cut`: a scene cut lies between it and the last frame
        asked about); None: scan it whole."""
        follows = self._last is not None and 0 < index - self._last.index <= self.max_gap and not cut
        if not follows or self._searched + 1 >= self.scan_every:
            self._searched = 0
            return None
        self._searched += 1
        return self._last

    def remember(self, result: FrameResult) -> None:
        """The result of the frame `before` was last asked about."""
        self._last = result
