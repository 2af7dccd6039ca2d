"""Temporal consistency: link faces into tracks frame to frame and name each track from its accumulated scores.

Linking: IoU of boxes, one-to-one assignment by the Hungarian method (scipy `linear_sum_assignment`), pairs
below `min_iou` rejected. Naming: the mean of the track's per-gallery cosine scores over its last `window`
frames, decided by the same open-set rule as a single frame (best >= threshold, else unknown; no person on two
faces of a frame), so one bad frame neither renames nor flickers a face. A cut to another person at the same spot
shows as `switch_after` consecutive frames that each name the same other person on their own: the track then ends
and a new one starts from those frames' evidence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from sphereapp.core.match import assign_identities, identity_from_scores

if TYPE_CHECKING:
    from sphereapp.core.pipeline import FaceResult


def label_faces(faces: Sequence[FaceResult], threshold: float) -> None:
    """(Re)decide the identities of one frame's faces from their stored scores (their track's when tracked): best
    >= threshold, else unknown, and no person named on two faces (`core.match.assign_identities`)."""
    if not faces:
        return
    scores = np.stack([face.scores if face.track_scores is None else face.track_scores for face in faces])
    identities, similarities = assign_identities(scores, threshold)
    for face, identity, similarity in zip(faces, identities, similarities):
        face.identity, face.similarity = int(identity), float(similarity)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of x1, y1, x2, y2 boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(a: np.ndarray, b: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of boxes a[i], b[j] with the largest total IoU (Hungarian), each pair >= min_iou."""
    if len(a) == 0 or len(b) == 0:
        return []
    iou = box_iou(a, b)
    return [(int(i), int(j)) for i, j in zip(*linear_sum_assignment(iou, maximize=True)) if iou[i, j] >= min_iou]


def pair_faces(before: np.ndarray, after: np.ndarray, max_move: float, max_scale: float) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of boxes before[i], after[j] with the least total centre move in face widths
    (Hungarian), each moved at most `max_move` widths and changed in width by at most the ratio `max_scale`. Small
    faces in a crowd can move more than their width between keyframes, where pairing by overlap fails."""
    if len(before) == 0 or len(after) == 0:
        return []
    width_before, width_after = before[:, 2] - before[:, 0], after[:, 2] - after[:, 0]
    centres_before, centres_after = (before[:, :2] + before[:, 2:]) / 2, (after[:, :2] + after[:, 2:]) / 2
    mean_width = np.maximum((width_before[:, None] + width_after[None]) / 2, 1e-6)
    move = np.linalg.norm(centres_before[:, None] - centres_after[None], axis=2) / mean_width
    scale = np.maximum(width_before[:, None], width_after[None]) / np.maximum(
        np.minimum(width_before[:, None], width_after[None]), 1e-6)
    allowed = (move <= max_move) & (scale <= max_scale)
    rows, cols = linear_sum_assignment(np.where(allowed, move, max_move * 1e3 + 1e3))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if allowed[i, j]]


@dataclass
class Track:
    """One face followed over frames: its last box, its recent score vectors and how many frames it was missed."""

    id: int
    box: np.ndarray
    history: deque[np.ndarray]
    missed: int = 0
    disagreeing: int = 0  # consecutive latest frames that alone name the same other known person than the track
    dissent: int = -1  # that person's gallery row

    def add(self, box: np.ndarray, scores: np.ndarray) -> None:
        """Extend the track with this frame's face; a changed gallery size restarts the evidence."""
        if self.history and self.history[-1].shape != scores.shape:
            self.history.clear()
        self.box, self.missed = box, 0
        self.history.append(np.asarray(scores, np.float32))

    def mean_scores(self) -> np.ndarray:
        """Mean per-gallery cosine over the window."""
        return np.mean(np.stack(self.history), axis=0)

    def count_disagreement(self, scores: np.ndarray, threshold: float) -> None:
        """Update `disagreeing` with one frame: does it alone name the known person the last ones named instead?"""
        own, _ = identity_from_scores(scores, threshold)
        named, _ = identity_from_scores(self.mean_scores(), threshold) if self.history else (-1, 0.0)
        if own < 0 or own == named:
            self.disagreeing, self.dissent = 0, -1
        else:
            self.disagreeing = self.disagreeing + 1 if own == self.dissent else 1
            self.dissent = own


@dataclass
class Tracker:
    """Frame-to-frame face tracks; call `update` once per frame, in order, after recognition."""

    max_missed: int = 5  # a track survives this many consecutive frames without its face, then ends
    window: int = 15  # frames of score evidence per track
    min_iou: float = 0.3
    switch_after: int = 3  # frames in a row that name someone else before the face counts as a new person
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, faces: Sequence[FaceResult], threshold: float) -> list[int]:
        """Assign each face a track, set its `track`, `track_scores` (evidence) and identity/similarity; track ids."""
        boxes = np.array([face.box for face in faces], np.float64).reshape(-1, 4)
        assigned: list[Track | None] = [None] * len(faces)
        matched: set[int] = set()
        for t, f in match_boxes(np.array([t.box for t in self.tracks]), boxes, self.min_iou):
            assigned[f] = self.tracks[t]
            matched.add(t)
        for t, track in enumerate(self.tracks):
            if t not in matched:
                track.missed += 1
        self.tracks = [track for track in self.tracks if track.missed <= self.max_missed]
        for f, face in enumerate(faces):
            track = assigned[f]
            if track is not None:
                track.count_disagreement(face.scores, threshold)
                if track.disagreeing >= self.switch_after:
                    assigned[f] = track = self._split(track)
            if track is None:
                assigned[f] = track = self._new_track(boxes[f])
            track.add(boxes[f], face.scores)
            face.track, face.track_scores = track.id, track.mean_scores()
        label_faces(faces, threshold)
        return [track.id for track in assigned]

    def _new_track(self, box: np.ndarray) -> Track:
        track = Track(self.next_id, box, deque(maxlen=self.window))
        self.next_id += 1
        self.tracks.append(track)
        return track

    def _split(self, track: Track) -> Track:
        """End `track`; a new track at its place holds the evidence of its disagreeing frames but the current one."""
        self.tracks.remove(track)
        successor = self._new_track(track.box)
        successor.history.extend(list(track.history)[-(self.switch_after - 1):] if self.switch_after > 1 else [])
        return successor
