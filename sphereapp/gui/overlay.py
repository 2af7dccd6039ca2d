"""What the player shows for one frame: the frame, its recognition result, and the labels drawn on it.

Qt-free. Labelling uses the faces' stored gallery scores, their track's when tracked
(`core.recognition.results.label_faces`), so a new threshold re-labels a frame without running any network or
breaking a track.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sphereapp.core.media.annotate import FaceLabel, draw_faces
from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FrameResult, label_faces


@dataclass(frozen=True, eq=False)
class Overlay:
    """One displayed frame. `result`/`recognizer` are None when no model is loaded (the frame is shown bare)."""

    frame: Frame
    result: FrameResult | None
    recognizer: Recognizer | None
    labels: list[FaceLabel]
    image: np.ndarray  # the frame with the labels drawn, RGB uint8
    threshold: float
    show_scores: bool

    @property
    def index(self) -> int:
        return self.frame.index


def render(
    frame: Frame, result: FrameResult | None, recognizer: Recognizer | None, threshold: float, show_scores: bool
) -> Overlay:
    """Label the faces at `threshold` and draw them."""
    if result is None or recognizer is None:
        return Overlay(frame, None, None, [], frame.image, threshold, show_scores)
    labelled = replace(result, faces=label_faces(result.faces, threshold))
    labels = recognizer.labels(labelled)
    image = draw_faces(frame.image, labels, show_scores=show_scores)
    return Overlay(frame, labelled, recognizer, labels, image, threshold, show_scores)


def relabel(overlay: Overlay, threshold: float, show_scores: bool) -> Overlay:
    """The same frame and scores, labelled and drawn again with another threshold or score display."""
    return render(overlay.frame, overlay.result, overlay.recognizer, threshold, show_scores)


def face_at(overlay: Overlay, x: float, y: float) -> int | None:
    """Index of the face whose box holds the image point (x, y): the smallest such box; None when there is none."""
    if overlay.result is None:
        return None
    hits = [
        (float((box[2] - box[0]) * (box[3] - box[1])), i)
        for i, box in enumerate(face.box for face in overlay.result.faces)
        if box[0] <= x <= box[2] and box[1] <= y <= box[3]
    ]
    return min(hits)[1] if hits else None
