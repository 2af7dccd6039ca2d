"""Embed each followed face only every few keyframes; in between it keeps its embedding from one keyframe back.

A face of a keyframe is the face of the previous keyframe it is paired with, one to one, by least centre move
(Hungarian: `pair_faces` within `geometry.KEYFRAME_STEP`, the limits interpolation uses too), unless the two
keyframes are a scene cut apart (as the caller found it, cuts.py). Pairing by move rather than box overlap keeps
the small, quick faces of a crowd, which move more than half their width between keyframes 4 frames apart. Such a
face takes over that face's embedding until the embedding is `every` keyframes old; new faces, faces after a cut and
old embeddings are aligned and embedded afresh. Embeddings, not scores, are kept, so a changed gallery or threshold
applies at once. With `every` = 1 every face is embedded on every keyframe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sphereapp.core.recognition.geometry import KEYFRAME_STEP, pair_faces
from sphereapp.core.vision.detect import Detections

# Embeds the given faces of the given images: [(image, landmarks (K,5,2))] -> (sum K, D) embeddings, in order.
EmbedFaces = Callable[[Sequence[tuple[np.ndarray, np.ndarray]]], np.ndarray]


class EmbeddingReuse:
    """The faces of the last keyframe seen, with their embeddings and their age; one per run of consecutive frames."""

    def __init__(self, every: int):
        if every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self.every = every
        self.embedded = 0  # faces embedded so far
        self.reused = 0  # faces that took an earlier embedding
        self._boxes = np.zeros((0, 4), np.float32)
        self._embeddings: np.ndarray | None = None  # (len(_boxes), D)
        self._ages = np.zeros(0, np.int64)

    def embeddings(self, images: Sequence[np.ndarray], detections: Sequence[Detections], embed_faces: EmbedFaces,
                   cuts: Sequence[bool]) -> np.ndarray:
        """Embeddings of every face of these consecutive keyframes (in order), calling `embed_faces` once for the
        faces that cannot take an earlier embedding (with an empty list when there are none); `cuts[i]`: a scene cut
        lies between keyframe i and the keyframe before it."""
        kept = 0 if self._embeddings is None else len(self._embeddings)
        boxes, ages = self._boxes, self._ages
        rows = np.arange(kept)  # row of each face of the previous keyframe in [kept embeddings; new embeddings]
        face_rows, fresh = [], []  # per keyframe: its faces' rows; (image, landmarks) of the faces to embed
        next_row = kept
        for image, found, cut in zip(images, detections, cuts, strict=True):
            previous = {} if cut else {j: i for i, j in pair_faces(boxes, found.boxes, KEYFRAME_STEP)}
            frame_rows, frame_ages = np.empty(len(found), np.int64), np.zeros(len(found), np.int64)
            new = []
            for j in range(len(found)):
                i = previous.get(j)
                if i is not None and ages[i] + 1 < self.every:
                    frame_rows[j], frame_ages[j] = rows[i], ages[i] + 1
                else:
                    frame_rows[j], next_row = next_row, next_row + 1
                    new.append(j)
            if new:
                fresh.append((image, found.landmarks[new]))
            face_rows.append(frame_rows)
            boxes, ages, rows = found.boxes, frame_ages, frame_rows
        new_embeddings = embed_faces(fresh)
        kept_embeddings = new_embeddings[:0] if self._embeddings is None else self._embeddings
        table = np.concatenate([kept_embeddings, new_embeddings])
        self._boxes, self._ages, self._embeddings = boxes, ages, table[rows]
        all_rows = np.concatenate(face_rows) if face_rows else np.zeros(0, np.int64)
        self.embedded += len(new_embeddings)
        self.reused += len(all_rows) - len(new_embeddings)
        return table[all_rows]
