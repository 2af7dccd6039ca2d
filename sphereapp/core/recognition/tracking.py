"""Temporal consistency: link faces into tracks frame to frame and name each track from its accumulated scores.

Linking: IoU of boxes, one-to-one assignment by the Hungarian method (`assignment.linear_sum_assignment`), pairs
below `min_iou` rejected. Naming: the mean of the track's per-gallery cosine scores over its last `window`
frames, decided by the same open-set rule as a single frame (best >= threshold, else unknown; no person on two
faces of a frame), so one bad frame neither renames nor flickers a face. A cut to another person at the same spot
shows as `switch_after` consecutive frames that each name the same other person on their own: the track then ends
and a new one starts from those frames' evidence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from sphereapp.core.identities.match import identity_from_scores
from sphereapp.core.recognition.geometry import match_boxes
from sphereapp.core.recognition.results import FaceResult, label_faces


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

    def update(self, faces: Sequence[FaceResult], threshold: float) -> tuple[FaceResult, ...]:
        """The faces of the next frame with their `track`, its `track_scores` (evidence) and the name decided from
        them."""
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
        tracked = []
        for f, face in enumerate(faces):
            track = assigned[f]
            if track is not None:
                track.count_disagreement(face.scores, threshold)
                if track.disagreeing >= self.switch_after:
                    track = self._split(track)
            if track is None:
                track = self._new_track(boxes[f])
            track.add(boxes[f], face.scores)
            tracked.append(replace(face, track=track.id, track_scores=track.mean_scores()))
        return label_faces(tracked, threshold)

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
