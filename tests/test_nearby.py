"""Keyframes searched near the faces of scanned ones: where faces are expected, and which frames are scanned."""

import numpy as np

from sphereapp.core.detect import Detections
from sphereapp.core.nearby import detect_keyframes, expected_boxes
from sphereapp.core.pipeline import FaceResult, FrameResult
from sphereapp.core.video import Frame


def box(x: float, side: float = 40.0) -> np.ndarray:
    return np.array([x, 10, x + side, 10 + side], np.float32)


def test_paired_faces_move_linearly_and_unpaired_ones_stay_where_they_were():
    before = np.stack([box(0), box(300)])
    after = np.stack([box(20), box(600)])  # the first moved 20 px; the second is a different face far away
    expected = expected_boxes(before, after, 0.25)
    np.testing.assert_allclose(expected, np.stack([box(5), box(300), box(600)]))


def test_no_faces_on_either_side_means_none_expected():
    assert expected_boxes(np.zeros((0, 4)), np.zeros((0, 4)), 0.5).shape == (0, 4)
    np.testing.assert_allclose(expected_boxes(np.zeros((0, 4)), box(7)[None], 0.5), box(7)[None])


class FakeDetector:
    """Finds one face at x = 2 * frame number when scanning (the image holds the number); logs its calls."""

    def __init__(self):
        self.scanned, self.searched = [], []

    def detect(self, images):
        self.scanned.append([int(image[0, 0, 0]) for image in images])
        return [self._face(box(2.0 * image[0, 0, 0])) for image in images]

    def detect_near(self, images, expected):
        self.searched.append([(int(image[0, 0, 0]), boxes.copy()) for image, boxes in zip(images, expected)])
        return [self._face(boxes[0]) if len(boxes) else Detections.empty() for boxes in expected]

    @staticmethod
    def _face(found_box: np.ndarray) -> Detections:
        return Detections(found_box[None].astype(np.float32), np.ones(1, np.float32), np.zeros((1, 5, 2), np.float32))


def frames(indices) -> list[Frame]:
    return [Frame(index=k, time=k / 10, image=np.full((4, 4, 3), k, np.uint8)) for k in indices]


def test_all_scanned_is_one_whole_frame_detection():
    detector = FakeDetector()
    found = detect_keyframes(detector, frames([0, 4, 8]))
    assert detector.scanned == [[0, 4, 8]] and detector.searched == []
    assert [float(d.boxes[0, 0]) for d in found] == [0.0, 8.0, 16.0]


def test_searched_keyframes_look_between_their_scanned_neighbours_and_after_the_previous_window():
    detector = FakeDetector()
    before = FrameResult(0, 0.0, [FaceResult(box(0), 0.99, np.zeros((5, 2), np.float32), np.zeros(2, np.float32))])
    found = detect_keyframes(detector, frames([4, 8, 12, 16, 20]), [False, True, False, False, True], before)
    assert detector.scanned == [[8, 20]]
    searched = {k: boxes for k, boxes in detector.searched[0]}
    assert sorted(searched) == [4, 12, 16]
    np.testing.assert_allclose(searched[4], box(8)[None])  # half way from x=0 (frame 0) to x=16 (frame 8)
    np.testing.assert_allclose(searched[12], box(24)[None])  # a third of the way from 16 to 40
    np.testing.assert_allclose(searched[16], box(32)[None])
    assert [float(d.boxes[0, 0]) for d in found] == [8.0, 16.0, 24.0, 32.0, 40.0]  # in frame order
