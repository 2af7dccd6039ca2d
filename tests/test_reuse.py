"""Embedding reuse between keyframes: which faces are embedded again, and which keep an earlier embedding."""

import numpy as np
import pytest

from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.vision.detect import Detections

SCENE = np.full((90, 160, 3), 120, np.uint8)
OTHER_SCENE = np.full((90, 160, 3), 10, np.uint8)


def faces(*xs: float) -> Detections:
    """40x40 faces with their left edge at each x."""
    boxes = np.array([[x, 10, x + 40, 50] for x in xs], np.float32).reshape(-1, 4)
    landmarks = np.repeat(boxes[:, None, :2] + 20, 5, axis=1)
    return Detections(boxes, np.ones(len(xs), np.float32), landmarks)


class NumberedEmbeddings:
    """Stands in for align + embed: the k-th face it ever embeds gets the embedding [k, 0]."""

    def __init__(self):
        self.calls: list[int] = []
        self.count = 0

    def __call__(self, faces_of_images):
        n = sum(len(landmarks) for _, landmarks in faces_of_images)
        self.calls.append(n)
        out = np.zeros((n, 2), np.float32)
        out[:, 0] = np.arange(self.count, self.count + n)
        self.count += n
        return out


def numbers(embeddings: np.ndarray) -> list[int]:
    return [int(v) for v in embeddings[:, 0]]


def test_every_one_embeds_every_face_every_time():
    reuse, embed = EmbeddingReuse(every=1), NumberedEmbeddings()
    out = reuse.embeddings([SCENE] * 3, [faces(0, 100)] * 3, embed, [False] * 3)
    assert numbers(out) == [0, 1, 2, 3, 4, 5] and embed.calls == [6]
    assert (reuse.embedded, reuse.reused) == (6, 0)


def test_a_still_face_is_embedded_every_nth_keyframe_across_calls():
    reuse, embed = EmbeddingReuse(every=3), NumberedEmbeddings()
    moving = [faces(10 + k) for k in range(7)]  # 1 px a keyframe
    first = reuse.embeddings([SCENE] * 4, moving[:4], embed, [False] * 4)
    second = reuse.embeddings([SCENE] * 3, moving[4:], embed, [False] * 3)
    assert numbers(first) + numbers(second) == [0, 0, 0, 1, 1, 1, 2]
    assert embed.calls == [2, 1] and (reuse.embedded, reuse.reused) == (3, 4)


def test_a_new_face_is_embedded_at_once_and_the_others_keep_theirs():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    out = reuse.embeddings([SCENE] * 3, [faces(0), faces(0, 100), faces(100, 0)], embed, [False] * 3)
    assert numbers(out) == [0, 0, 1, 1, 0]  # order of detection does not matter, the boxes do


def test_a_face_that_jumped_is_embedded_again():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    out = reuse.embeddings([SCENE] * 2, [faces(0), faces(70)], embed, [False] * 2)  # moved 1.75 widths
    assert numbers(out) == [0, 1]


def test_a_quick_face_that_no_longer_overlaps_keeps_its_embedding():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    quick = [faces(0, 100), faces(45, 100), faces(90, 100)]  # 1.1 widths a step
    out = reuse.embeddings([SCENE] * 3, quick, embed, [False] * 3)
    assert numbers(out) == [0, 1, 0, 1, 0, 1] and embed.calls == [2]


def test_a_face_that_doubled_in_size_is_embedded_again():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    big = Detections(np.array([[0, 10, 80, 90]], np.float32), np.ones(1, np.float32), np.full((1, 5, 2), 40.0))
    out = reuse.embeddings([SCENE] * 2, [faces(0), big], embed, [False] * 2)
    assert numbers(out) == [0, 1]


def test_a_scene_cut_embeds_every_face_again():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    reuse.embeddings([SCENE], [faces(0)], embed, [False])
    out = reuse.embeddings([OTHER_SCENE, OTHER_SCENE], [faces(0), faces(0)], embed, [True, False])
    assert numbers(out) == [1, 1]


def test_only_the_cuts_it_is_told_of_count():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    out = reuse.embeddings([SCENE, OTHER_SCENE, OTHER_SCENE], [faces(0)] * 3, embed, [False, False, True])
    assert numbers(out) == [0, 0, 1]  # the images are not compared: the caller found the cuts


def test_frames_without_faces_break_the_chain():
    reuse, embed = EmbeddingReuse(every=4), NumberedEmbeddings()
    out = reuse.embeddings([SCENE] * 3, [faces(0), faces(), faces(0)], embed, [False] * 3)
    assert numbers(out) == [0, 1] and embed.calls == [2]


def test_no_faces_at_all():
    reuse, embed = EmbeddingReuse(every=2), NumberedEmbeddings()
    assert reuse.embeddings([SCENE], [faces()], embed, [False]).shape == (0, 2)
    assert numbers(reuse.embeddings([SCENE], [faces(5)], embed, [False])) == [0]


def test_rejects_nonpositive_every():
    with pytest.raises(ValueError, match="at least 1"):
        EmbeddingReuse(every=0)
