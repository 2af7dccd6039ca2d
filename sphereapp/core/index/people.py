"""The people of a video: who appears, when, for how long, and one good face of each.

Known people are the gallery identities the run named. Unknown tracks are grouped across the whole video by
their mean embeddings: greedy average-link clustering of track means, merging two groups only while their mean
cosine is at least the model's threshold and no two of their tracks are on screen in the same frame (one person is
never two faces of a frame, so tracks that overlap in time stay apart however alike they look). A known person's
tracks take part as one group with their name: an unknown track that looks like them (turned aside, say, where the
gallery photo is frontal) joins them, and two names never merge. What is left is called "Unknown 1..N" by first
appearance. Tracks of fewer than MIN_TRACK_FACES faces are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

THUMBNAIL_HEIGHT = 160  # big enough to enrol the face from (`gallery add-from-index`)
THUMBNAIL_MARGIN = 0.2  # of the box size, on every side
SHARPNESS_HALF = 100.0  # Laplacian variance at which sharpness counts half
FULL_SIZE = 112.0  # a face this tall (px) or taller counts as full size for the thumbnail choice
MERGE_GAP = 1.0  # seconds: appearances closer than this are one
MIN_TRACK_FACES = 5  # shorter tracks (a fifth of a second at 25 fps) are mostly false detections: left out


@dataclass(frozen=True)
class IndexedFace:
    """One face of a recognised frame, as the index needs it."""

    track: int
    name: str | None  # the gallery name the run gave the face, None = unknown
    score: float  # its cosine score: to that name, or the best one when unknown
    embedding: np.ndarray  # (D,) L2-normalised
    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2)


@dataclass(frozen=True)
class Appearance:
    """An interval of the video (seconds) in which a person is on screen."""

    start: float
    end: float


@dataclass(frozen=True)
class Person:
    """One person of the video: a gallery name, or a group of unknown tracks."""

    label: str  # the name, or "Unknown k"
    name: str | None  # None for an unknown group
    seconds: float  # screen time: frames with this person's face x frame duration
    faces: int
    mean_score: float
    appearances: tuple[Appearance, ...]
    thumbnail: np.ndarray  # uint8 RGB, THUMBNAIL_HEIGHT high: the best face (largest, sharpest, most frontal)
    tracks: tuple[int, ...]
    embedding: np.ndarray  # (D,) L2-normalised mean of its faces' embeddings (what enrolling it would store)

    @property
    def known(self) -> bool:
        return self.name is not None


@dataclass
class _Track:
    """What the indexer keeps of one track while frames stream by."""

    first: float
    frames: set[int] = field(default_factory=set)
    times: list[float] = field(default_factory=list)
    names: dict[str | None, int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    embedding_sum: np.ndarray | None = None
    best_quality: float = -1.0
    thumbnail: np.ndarray | None = None

    def name(self) -> str | None:
        """The gallery name the track carried on most of its faces (None: mostly unknown)."""
        return max(self.names.items(), key=lambda item: (item[1], item[0] is not None))[0]

    def mean(self) -> np.ndarray:
        return self.embedding_sum / np.linalg.norm(self.embedding_sum)


def face_quality(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> float:
    """How good a thumbnail the face makes, in [0, 1]: size x sharpness x frontality."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    crop = image[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
    if crop.size == 0:
        return 0.0
    size = min(1.0, (y2 - y1) / FULL_SIZE)
    sharpness = float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())
    left_eye, right_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_distance = float(np.linalg.norm(right_eye - left_eye))
    offset = abs(float(nose[0] - (left_eye[0] + right_eye[0]) / 2))  # the nose leaves the eyes' middle as it turns
    frontal = max(0.0, 1.0 - 2 * offset / eye_distance) if eye_distance > 0 else 0.0
    return size * sharpness / (sharpness + SHARPNESS_HALF) * frontal


def thumbnail(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The face with a margin, THUMBNAIL_HEIGHT pixels high (clipped to the frame)."""
    x1, y1, x2, y2 = box
    margin_x, margin_y = THUMBNAIL_MARGIN * (x2 - x1), THUMBNAIL_MARGIN * (y2 - y1)
    height, width = image.shape[:2]
    left, top = int(max(0, x1 - margin_x)), int(max(0, y1 - margin_y))
    right, bottom = int(min(width, x2 + margin_x)), int(min(height, y2 + margin_y))
    crop = image[top:max(top + 1, bottom), left:max(left + 1, right)]
    scale = THUMBNAIL_HEIGHT / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), THUMBNAIL_HEIGHT)
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


class PeopleIndexer:
    """Collects the tracked faces of a run frame by frame and groups them into the people of the video."""

    def __init__(self, frame_duration: float, threshold: float, merge_gap: float = MERGE_GAP,
                 min_faces: int = MIN_TRACK_FACES):
        self.frame_duration = frame_duration
        self.threshold = threshold
        self.merge_gap = merge_gap
        self.min_faces = min_faces
        self._tracks: dict[int, _Track] = {}

    def add(self, index: int, time: float, image: np.ndarray, faces: Sequence[IndexedFace]) -> None:
        """One recognised frame: its index, time (s), RGB image and its tracked faces."""
        for face in faces:
            track = self._tracks.setdefault(face.track, _Track(first=time))
            track.frames.add(index)
            track.times.append(time)
            track.names[face.name] = track.names.get(face.name, 0) + 1
            track.scores.append(face.score)
            embedding = np.asarray(face.embedding, np.float64)
            track.embedding_sum = embedding if track.embedding_sum is None else track.embedding_sum + embedding
            quality = face_quality(image, face.box, face.landmarks)
            if quality > track.best_quality:
                track.best_quality, track.thumbnail = quality, thumbnail(image, face.box)

    def people(self) -> list[Person]:
        """Every person of the video, in order of first appearance."""
        named: dict[str, list[int]] = {}
        unknown: list[int] = []
        for key, track in self._tracks.items():
            if len(track.times) < self.min_faces:
                continue
            name = track.name()
            if name is None:
                unknown.append(key)
            else:
                named.setdefault(name, []).append(key)
        groups = self._group(list(named.items()), unknown)
        groups.sort(key=lambda group: min(self._tracks[k].first for k in group[1]))
        people, unknown_count = [], 0
        for name, keys in groups:
            if name is None:
                unknown_count += 1
            people.append(self._person(name if name else f"Unknown {unknown_count}", name, keys))
        return people

    def _group(self, named: list[tuple[str, list[int]]], unknown: list[int]) -> list[tuple[str | None, list[int]]]:
        """Named groups and unknown tracks joined by greedy average-link clustering of track means; never two
        names, never tracks seen in one frame. Group-to-group sums of track similarities and "on screen together"
        flags are kept as matrices and updated at each merge."""
        groups = named + [(None, [key]) for key in sorted(unknown, key=lambda k: self._tracks[k].first)]
        if not unknown or len(groups) < 2:
            return groups
        keys = [key for _, group in groups for key in group]
        membership = np.zeros((len(keys), len(groups)))
        membership[np.arange(len(keys)), [g for g, (_, group) in enumerate(groups) for _ in group]] = 1.0
        means = np.stack([self._tracks[k].mean() for k in keys])
        sums = membership.T @ (means @ means.T) @ membership  # (G, G) sums of track-pair cosines
        together = membership.T @ self._overlaps(keys) @ membership > 0
        sizes = membership.sum(axis=0)
        is_named = np.array([name is not None for name, _ in groups])
        while len(groups) > 1:
            links = sums / np.outer(sizes, sizes)
            allowed = np.triu(~together & ~np.outer(is_named, is_named), k=1)
            links = np.where(allowed, links, -np.inf)
            a, b = np.unravel_index(np.argmax(links), links.shape)
            if links[a, b] < self.threshold:
                break
            sums[a] += sums[b]
            sums[:, a] += sums[:, b]
            together[a] |= together[b]
            together[:, a] |= together[:, b]
            sizes[a] += sizes[b]
            is_named[a] |= is_named[b]
            (name_a, first), (name_b, second) = groups[a], groups.pop(b)
            groups[a] = (name_a or name_b, first + second)
            sums, together = (np.delete(np.delete(m, b, 0), b, 1) for m in (sums, together))
            sizes, is_named = np.delete(sizes, b), np.delete(is_named, b)
        return groups

    def _overlaps(self, keys: list[int]) -> np.ndarray:
        """(K, K) 1.0 where two of the tracks are on screen in the same frame."""
        overlaps = np.zeros((len(keys), len(keys)))
        for i, first in enumerate(keys):
            for j in range(i + 1, len(keys)):
                if self._tracks[first].frames & self._tracks[keys[j]].frames:
                    overlaps[i, j] = overlaps[j, i] = 1.0
        return overlaps

    def _person(self, label: str, name: str | None, keys: list[int]) -> Person:
        tracks = [self._tracks[k] for k in keys]
        times = sorted(t for track in tracks for t in track.times)
        frames = set().union(*(track.frames for track in tracks))
        best = max(tracks, key=lambda track: track.best_quality)
        # a known person's score is their name's, from the tracks that carried it (an unknown track's is its best
        # score to anyone)
        scored = [track for track in tracks if track.name() == name] or tracks
        total = sum(track.embedding_sum for track in tracks)
        return Person(label=label, name=name, seconds=len(frames) * self.frame_duration, faces=len(times),
                      mean_score=float(np.mean([s for track in scored for s in track.scores])),
                      appearances=self._appearances(times), thumbnail=best.thumbnail, tracks=tuple(sorted(keys)),
                      embedding=(total / np.linalg.norm(total)).astype(np.float32))

    def _appearances(self, times: list[float]) -> tuple[Appearance, ...]:
        """The intervals the sorted face times cover (each face one frame long), joined across short gaps."""
        spans: list[list[float]] = []
        for time in times:
            if spans and time - spans[-1][1] < self.merge_gap:
                spans[-1][1] = max(spans[-1][1], time + self.frame_duration)
            else:
                spans.append([time, time + self.frame_duration])
        return tuple(Appearance(round(start, 3), round(end, 3)) for start, end in spans)
