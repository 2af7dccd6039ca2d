"""Keyframes searched near the faces of scanned ones: where faces are expected, and which frames are scanned."""

import numpy as np
import pytest

from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.results import FaceResult, FrameResult
from sphereapp.core.recognition.search import FollowingSearch, detect_keyframes, expected_boxes, typical_move
from sphereapp.core.vision.detect import Detections


def box(x: float, side: float = 40.0) -> np.ndarray:
    return np.array([x, 10, x + side, 10 + side], np.float32)


def test_paired_faces_move_linearly_and_unpaired_ones_move_as_the_pairs_do():
    before = np.stack([box(0), box(100), box(300)])
    after = np.stack([box(20), box(124), box(700)])  # two faces moved 20 and 24 px; the third is a face far away
    expected = expected_boxes(before, after, 0.25)
    np.testing.assert_allclose(expected, np.stack([box(5), box(106), box(305.5), box(683.5)]))  # median shift 22
    assert typical_move(before, after) == pytest.approx(22 / 40)


def test_faces_more_than_four_widths_apart_do_not_pair():
    assert typical_move(box(0)[None], box(200)[None]) == 0.0
    assert len(expected_boxes(box(0)[None], box(200)[None], 0.5)) == 2


class FakeDetector:
    """Finds one face at x = speed * frame number when scanning (the image holds the number); logs its calls."""

    def __init__(self, speed: float = 2.0):
        self.scanned, self.searched, self.speed = [], [], speed

    def detect(self, images):
        self.scanned.append([int(image[0, 0, 0]) for image in images])
        return [self._face(box(self.speed * image[0, 0, 0])) for image in images]

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


def test_keyframes_between_scans_where_faces_move_fast_are_scanned_too():
    detector = FakeDetector(speed=8.0)  # 64 px between scans 8 frames apart: 1.6 face widths
    found = detect_keyframes(detector, frames([0, 4, 8]), [True, False, True])
    assert detector.scanned == [[0, 8], [4]] and detector.searched == []
    assert [float(d.boxes[0, 0]) for d in found] == [0.0, 32.0, 64.0]


def test_a_player_scans_every_kth_frame_and_searches_near_the_last_one_in_between():
    search, plan = FollowingSearch(scan_every=4, max_gap=3), []
    for frame in frames([0, 1, 2, 3, 4, 5, 7, 20, 21]):  # a skip of 2 frames, then a jump of 13
        before = search.before(frame.index, cut=False)
        plan.append(None if before is None else before.index)
        search.remember(FrameResult(frame.index, frame.time, []))
    assert plan == [None, 0, 1, 2, None, 4, 5, None, 20]


def test_a_player_scans_after_a_scene_cut():
    search = FollowingSearch(scan_every=4)
    assert search.before(0, cut=False) is None
    search.remember(FrameResult(0, 0.0, []))
    assert search.before(1, cut=True) is None
    search.remember(FrameResult(1, 0.1, []))
    assert search.before(2, cut=False).index == 1


def test_a_player_search_needs_positive_settings():
    with pytest.raises(ValueError, match="at least 1"):
        FollowingSearch(scan_every=0)


def test_a_frame_with_only_a_frame_before_is_searched_where_its_faces_were():
    detector = FakeDetector()
    before = FrameResult(3, 0.3, [FaceResult(box(6), 0.99, np.zeros((5, 2), np.float32), np.zeros(2, np.float32))])
    found = detect_keyframes(detector, frames([4]), [False], before)  # as the app's player asks, no look-ahead
    assert detector.scanned == [] and len(detector.searched) == 1
    [(index, boxes)] = detector.searched[0]
    assert index == 4
    np.testing.assert_allclose(boxes, box(6)[None])
    assert float(found[0].boxes[0, 0]) == 6.0
