"""Tracks from synthetic boxes and scores: stable names, stable ids through crossings, new faces, unknowns."""

import numpy as np
import pytest

from sphereapp.core.drivers.file import frame_log
from sphereapp.core.recognition.geometry import PairLimits, box_iou, pair_faces
from sphereapp.core.recognition.results import FaceResult, label_faces
from sphereapp.core.recognition.tracking import Tracker

THRESHOLD = 0.5


def face(x: float, scores, y: float = 0.0, size: float = 100.0) -> FaceResult:
    return FaceResult(np.array([x, y, x + size, y + size], np.float32), 0.99, np.zeros((5, 2), np.float32),
                      np.array(scores, np.float32))


def test_box_iou_matches_hand_computed_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


def track_ids(faces) -> list[int]:
    return [face.track for face in faces]


def test_one_bad_frame_keeps_the_name():
    tracker = Tracker(window=5)
    frames = [[0.8, 0.1]] * 4 + [[0.1, 0.7]] + [[0.8, 0.1]] * 2  # frame 4 alone looks like person 1
    ids, names = [], []
    for k, scores in enumerate(frames):
        [current] = tracker.update([face(2.0 * k, scores)], THRESHOLD)
        ids.append(current.track)
        names.append(current.identity)
    assert names == [0] * len(frames)
    assert len(set(ids)) == 1


def test_a_new_threshold_re_decides_tracked_faces_from_their_track_evidence():
    tracker = Tracker(window=5)
    for k, scores in enumerate([[0.8, 0.1]] * 3 + [[0.4, 0.1]]):
        [current] = tracker.update([face(k, scores)], THRESHOLD)
    np.testing.assert_allclose(current.track_scores, [0.7, 0.1])  # the window mean, not this frame's 0.4
    assert current.identity == 0
    [stricter] = label_faces([current], 0.75)
    assert stricter.identity == -1 and stricter.similarity == pytest.approx(0.7)
    [looser] = label_faces([stricter], 0.65)
    assert looser.identity == 0 and looser.track == 0
    assert current.identity == 0 and stricter.identity == -1  # each result keeps its own names
    [untracked] = label_faces([face(0, [0.4, 0.1])], 0.65)
    assert untracked.track_scores is None and untracked.identity == -1  # decided from its own scores


def test_frame_by_frame_would_have_flipped_the_bad_frame():
    [current] = Tracker().update([face(0, [0.1, 0.7])], THRESHOLD)  # a fresh track has only this frame's evidence
    assert current.identity == 1 and current.similarity == pytest.approx(0.7)


def test_crossing_faces_keep_their_ids():
    tracker = Tracker()
    first_ids = None
    for k in range(11):  # A moves right, B (40 px lower) moves left; they overlap mid-way, never coincide
        a, b = face(10.0 * k, [0.9, 0.1]), face(100.0 - 10.0 * k, [0.1, 0.9], y=40.0)
        tracked = tracker.update([b, a] if k % 2 else [a, b], THRESHOLD)  # order of detections must not matter
        a, b = tracked[::-1] if k % 2 else tracked
        ids = [a.track, b.track]
        first_ids = first_ids or ids
        assert ids == first_ids, f"ids swapped at step {k}"
        assert (a.identity, b.identity) == (0, 1)


def test_new_face_gets_a_new_id_and_lost_tracks_end():
    tracker = Tracker(max_missed=2)
    [first] = track_ids(tracker.update([face(0, [0.9])], THRESHOLD))
    ids = track_ids(tracker.update([face(1, [0.9]), face(500, [0.9])], THRESHOLD))
    assert ids[0] == first and ids[1] not in (first,)
    for _ in range(3):  # both faces gone for 3 frames > max_missed
        assert tracker.update([], THRESHOLD) == ()
    [again] = track_ids(tracker.update([face(1, [0.9])], THRESHOLD))
    assert again not in (first, ids[1])


def test_track_survives_up_to_max_missed_frames():
    tracker = Tracker(max_missed=2)
    [first] = track_ids(tracker.update([face(0, [0.9])], THRESHOLD))
    tracker.update([], THRESHOLD)
    tracker.update([], THRESHOLD)
    assert track_ids(tracker.update([face(0, [0.9])], THRESHOLD)) == [first]


def test_unknown_stays_unknown_despite_one_high_frame():
    tracker = Tracker(window=10)
    labels = []
    for k, scores in enumerate([[0.2, 0.1]] * 5 + [[0.75, 0.1]] + [[0.2, 0.1]] * 2):
        [current] = tracker.update([face(k, scores)], THRESHOLD)
        labels.append(current.identity)
    assert labels == [-1] * 8


def test_window_forgets_old_evidence():
    tracker = Tracker(window=3)
    for k, scores in enumerate([[0.9, 0.0]] * 3 + [[0.0, 0.9]] * 3):
        [current] = tracker.update([face(k, scores)], THRESHOLD)
    assert current.identity == 1 and current.similarity == pytest.approx(0.9)


def test_gallery_size_change_restarts_evidence_and_log_has_track():
    tracker = Tracker()
    tracker.update([face(0, [0.9, 0.1])], THRESHOLD)
    [current] = tracker.update([face(0, [0.1, 0.2, 0.8])], THRESHOLD)  # a person was enrolled mid-video
    assert current.identity == 2
    record = frame_log(type("R", (), {"index": 0, "time": 0.0, "faces": [current]})(), ["a", "b", "c"])
    assert record["faces"][0]["track"] == current.track == 0


def test_cut_to_another_person_at_the_same_spot_starts_a_new_track():
    tracker = Tracker(window=15, switch_after=3)
    frames = [[0.8, 0.1]] * 10 + [[0.1, 0.8]] * 5  # a hard cut after frame 9: person 1 where person 0 was
    ids, names = [], []
    for scores in frames:
        [current] = tracker.update([face(0, scores)], THRESHOLD)
        ids.append(current.track)
        names.append(current.identity)
    assert names[:10] == [0] * 10
    assert names[12:] == [1] * 3  # named right from the third frame after the cut, not after the whole window
    assert len(set(ids[:12])) == 1 and ids[12] != ids[0] and len(set(ids[12:])) == 1


def test_switch_needs_consecutive_frames():
    tracker = Tracker(window=15, switch_after=3)
    ids = []
    for scores in [[0.8, 0.1]] * 5 + [[0.1, 0.8], [0.1, 0.8], [0.8, 0.1]] * 3:  # never 3 dissenting in a row
        [current] = tracker.update([face(0, scores)], THRESHOLD)
        ids.append(current.track)
        assert current.identity != 1  # the mean may sink to unknown, but the minority never names the face
    assert len(set(ids)) == 1


def test_two_tracks_never_carry_one_name_in_a_frame():
    tracker = Tracker()
    for k in range(4):  # two faces far apart, both closest to person 0; the right one less so, and like person 1
        right, left = tracker.update([face(500 + 2.0 * k, [0.7, 0.6]), face(2.0 * k, [0.9, 0.1])], THRESHOLD)
        assert (left.identity, right.identity) == (0, 1)
        assert right.similarity == pytest.approx(0.6)
    left, right = label_faces([left, right], 0.65)  # a new threshold: person 1 is out of reach for the right face
    assert (left.identity, right.identity) == (0, -1) and right.similarity == pytest.approx(0.7)


def test_faces_pair_by_least_move_within_limits_of_move_and_size():
    def box(x: float, side: float = 40.0) -> np.ndarray:
        return np.array([x, 10, x + side, 10 + side], np.float32)

    wide = PairLimits(max_move=4.0, max_scale=1.5)
    before, after = np.stack([box(0), box(100)]), np.stack([box(95), box(10)])
    assert sorted(pair_faces(before, after, wide)) == [(0, 1), (1, 0)]  # each to the nearer one
    assert pair_faces(before, after, PairLimits(0.1, 1.5)) == []  # they moved 0.25 and 0.125 widths
    assert pair_faces(box(0)[None], box(0, side=80)[None], wide) == []  # twice the size: not the same face
    assert pair_faces(box(0)[None], box(200)[None], wide) == []  # five widths away
    assert pair_faces(np.zeros((0, 4), np.float32), box(0)[None], wide) == []
