"""Keyframe detection with interpolation: which frames are recognised, and where the faces in between go."""

import numpy as np
import pytest

from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.cuts import SceneCuts
from sphereapp.core.recognition.keyframes import recognised_frames
from sphereapp.core.errors import InputError
from sphereapp.core.recognition.results import FaceResult, FrameResult
from sphereapp.core.recognition.speed import EVERY_FRAME, Speed


def moving_face(position: int, scores=(0.9, 0.1)) -> FaceResult:
    """A face that moves 4 px right per frame."""
    x = 4.0 * position
    landmarks = np.tile(np.array([[x + 30, 40]], np.float32), (5, 1))
    return FaceResult(np.array([x, 0, x + 100, 100], np.float32), 0.99, landmarks, np.array(scores, np.float32))


class FakeRecognizer:
    """Sees the moving face (plus, from frame `newcomer_from` on, a second one far away); logs its calls."""

    def __init__(self, newcomer_from: int | None = None):
        self.calls: list[list[int]] = []
        self.scanned: list[list[int]] = []  # per call, the frames to scan whole
        self.before: list[int | None] = []  # per call, the keyframe before its first
        self.cuts: list[list[bool]] = []  # per call, whether each keyframe follows a scene cut
        self.newcomer_from = newcomer_from

    def recognise(self, frames, reuse=None, scanned=None, before=None, cuts=None, times=None):
        self.calls.append([f.index for f in frames])
        self.cuts.append(list(cuts))
        self.scanned.append([f.index for f, whole in zip(frames, scanned) if whole])
        self.before.append(None if before is None else before.index)
        self.reuse = reuse
        results = []
        for f in frames:
            faces = [moving_face(f.index)]
            if self.newcomer_from is not None and f.index >= self.newcomer_from:
                faces.append(FaceResult(np.array([500, 0, 600, 100], np.float32), 0.9, np.zeros((5, 2), np.float32),
                                        np.array([0.1, 0.2], np.float32)))
            results.append(FrameResult(f.index, f.index / 10, faces))
        return results


def frames(n: int, cut_at: int | None = None) -> list[Frame]:
    """Dark frames, bright from `cut_at` on (a scene cut)."""
    return [Frame(index=k, time=k / 10, image=np.full((8, 8, 3), 200 if cut_at is not None and k >= cut_at else 0,
                                                      np.uint8)) for k in range(n)]


def test_every_frame_is_recognised_in_batches_when_every_is_one():
    recognizer = FakeRecognizer()
    out = list(recognised_frames(frames(10), recognizer, EVERY_FRAME, batch_size=4))
    assert [f.index for f, _ in out] == list(range(10)) and [r.index for _, r in out] == list(range(10))
    assert recognizer.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_only_keyframes_and_the_last_frame_are_recognised():
    recognizer = FakeRecognizer()
    out = list(recognised_frames(frames(11), recognizer, Speed(3, 1, 1), batch_size=2))
    assert recognizer.calls == [[0, 3], [6, 9], [10]]
    assert [f.index for f, _ in out] == list(range(11))
    for frame, result in out:  # linear motion is interpolated exactly
        assert result.index == frame.index and result.time == pytest.approx(frame.time)
        [face] = result.faces
        np.testing.assert_allclose(face.box, moving_face(frame.index).box, atol=1e-4)
        np.testing.assert_allclose(face.landmarks, moving_face(frame.index).landmarks, atol=1e-4)
        np.testing.assert_allclose(face.scores, [0.9, 0.1], atol=1e-6)


def test_the_frames_around_a_scene_cut_are_keyframes_and_the_count_restarts():
    recognizer = FakeRecognizer()
    out = list(recognised_frames(frames(12, cut_at=5), recognizer, Speed(4, 1, 1), batch_size=3))
    assert [k for call in recognizer.calls for k in call] == [0, 4, 5, 9, 11]
    assert [f.index for f, _ in out] == list(range(12))


def test_each_frame_is_looked_at_once_for_a_cut_and_the_keyframe_after_it_is_told():
    for speed, keyframes in ((Speed(4, 2, 1), [0, 4, 5, 9, 11]), (Speed(1, 2, 1), list(range(12)))):
        recognizer = FakeRecognizer()
        list(recognised_frames(frames(12, cut_at=5), recognizer, speed, batch_size=3))
        assert [k for call in recognizer.calls for k in call] == keyframes
        assert [c for call in recognizer.cuts for c in call] == [k == 5 for k in keyframes]


def test_scene_cuts_compare_each_frame_with_the_one_before():
    cuts = SceneCuts()
    dark, bright = np.zeros((18, 32, 3), np.uint8), np.full((18, 32, 3), 200, np.uint8)
    assert [cuts.cut_before(image) for image in (dark, dark, bright, bright, dark)] == [False, False, True, False, True]


def test_a_face_appearing_between_keyframes_shows_from_half_way():
    out = list(recognised_frames(frames(9), FakeRecognizer(newcomer_from=4), Speed(4, 1, 1)))
    counts = [len(result.faces) for _, result in out]
    assert counts == [1, 1, 2, 2, 2, 2, 2, 2, 2]  # detected at keyframe 4; shown from t = 1/2 between 0 and 4


class QuickFaceRecognizer(FakeRecognizer):
    """Sees one 40 px face that moves 25 px a frame: keyframes 2 frames apart do not overlap it."""

    def recognise(self, frames, reuse=None, scanned=None, before=None, cuts=None, times=None):
        return [FrameResult(f.index, f.index / 10, [FaceResult(np.array([25.0 * f.index, 0, 25.0 * f.index + 40, 40],
                                                                        np.float32), 0.99, np.zeros((5, 2), np.float32),
                                                               np.array([0.9, 0.1], np.float32))]) for f in frames]


def test_a_quick_face_that_no_longer_overlaps_is_still_one_face_in_between():
    out = list(recognised_frames(frames(5), QuickFaceRecognizer(), Speed(2, 1, 1)))
    assert [len(result.faces) for _, result in out] == [1] * 5
    np.testing.assert_allclose(out[1][1].faces[0].box, [25, 0, 65, 40])


def test_interpolated_faces_are_new_faces_to_be_named():
    out = list(recognised_frames(frames(3), FakeRecognizer(), Speed(2, 1, 1), batch_size=4))
    keyframe_face, between, next_face = out[0][1].faces[0], out[1][1].faces[0], out[2][1].faces[0]
    assert between is not keyframe_face and between is not next_face
    assert between.identity == -1 and np.isnan(between.similarity) and between.track_scores is None


def test_every_kth_keyframe_is_scanned_and_calls_end_on_a_scanned_one():
    recognizer = FakeRecognizer()
    out = list(recognised_frames(frames(11), recognizer, Speed(2, 1, 2), batch_size=2))
    assert recognizer.calls == [[0, 2, 4], [6, 8], [10]]
    assert recognizer.scanned == [[0, 4], [8], [10]]  # the last frame too: nothing after it to search between
    assert recognizer.before == [None, 4, 8]
    assert [f.index for f, _ in out] == list(range(11))


def test_the_frames_around_a_scene_cut_are_scanned():
    recognizer = FakeRecognizer()
    list(recognised_frames(frames(12, cut_at=5), recognizer, Speed(2, 1, 3)))
    assert recognizer.calls == [[0, 2, 4, 5, 7, 9, 11]]
    assert recognizer.scanned == [[0, 4, 5, 11]]


@pytest.mark.parametrize("option", ["detect_every", "embed_every", "scan_every"])
def test_a_speed_below_one_is_a_one_line_input_error(option):
    with pytest.raises(InputError, match=f"--{option.replace('_', '-')} must be at least 1, not 0"):
        Speed(**{option: 0})


def test_rejects_a_nonpositive_batch_size():
    with pytest.raises(ValueError, match="at least 1"):
        list(recognised_frames(frames(2), FakeRecognizer(), batch_size=0))


def test_one_embedding_memory_serves_the_whole_run():
    recognizer = FakeRecognizer()
    list(recognised_frames(frames(3), recognizer, EVERY_FRAME, batch_size=1))
    assert recognizer.reuse is None  # embed_every 1: nothing to remember
    list(recognised_frames(frames(5), recognizer, Speed(1, 3, 1), batch_size=2))
    assert recognizer.reuse is not None and recognizer.reuse.every == 3
