"""Recognition results: the faces of one frame, with their gallery scores and the names decided from them.

Results are immutable: naming a face again (another threshold, its track's evidence) makes a new one
(`dataclasses.replace`), so a result can be cached, shown and handed between threads as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sphereapp.core.identities.match import assign_identities


@dataclass(frozen=True, eq=False)
class FaceResult:
    """One detected face, its alignment landmarks and its cosine scores against every gallery identity."""

    box: np.ndarray
    detection_score: float
    landmarks: np.ndarray
    scores: np.ndarray  # (M,) cosine similarity to each gallery identity
    identity: int = -1  # gallery row, -1 = unknown
    similarity: float = float("nan")  # its identity's score, else the best score (nan: empty gallery)
    track: int = -1  # track id when the faces of a video are tracked, else -1
    track_scores: np.ndarray | None = None  # (M,) the track's mean scores the face is named from, when tracked
    embedding: np.ndarray | None = None  # (D,) its embedding (an interpolated face: the nearer keyframe face's)


@dataclass(frozen=True, eq=False)
class FrameResult:
    """The faces found in frame `index`, shown at `time` seconds."""

    index: int
    time: float
    faces: tuple[FaceResult, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "faces", tuple(self.faces))


def label_faces(faces: Sequence[FaceResult], threshold: float) -> tuple[FaceResult, ...]:
    """One frame's faces named from their stored scores (their track's when tracked): best >= threshold, else
    unknown, and no person named on two faces (`identities.match.assign_identities`)."""
    if not faces:
        return ()
    scores = np.stack([face.scores if face.track_scores is None else face.track_scores for face in faces])
    identities, similarities = assign_identities(scores, threshold)
    return tuple(replace(face, identity=int(identity), similarity=float(similarity))
                 for face, identity, similarity in zip(faces, identities, similarities))
