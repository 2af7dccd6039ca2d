"""The recognizer: detects, aligns, embeds and matches the faces of a batch of frames against a gallery."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.match import match
from sphereapp.core.media.annotate import UNKNOWN_COLOR, FaceLabel
from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.results import FaceResult, FrameResult, label_faces
from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.recognition.search import detect_keyframes
from sphereapp.core.timing import NO_TIMES, Stage, StageTimes
from sphereapp.core.vision.align import CROP_SIZE, align_faces
from sphereapp.core.vision.detect import Detections, FaceDetector
from sphereapp.core.vision.embed import Embedder


class Recognizer:
    """Detects, aligns, embeds and matches the faces of a batch of frames against a gallery."""

    def __init__(self, detector: FaceDetector, embedder: Embedder, gallery: Gallery, threshold: float):
        self.detector = detector
        self.embedder = embedder
        self.gallery = gallery
        self.threshold = threshold

    def recognise(self, frames: Sequence[Frame], reuse: EmbeddingReuse | None = None,
                  scanned: Sequence[bool] | None = None, before: FrameResult | None = None,
                  cuts: Sequence[bool] | None = None, times: StageTimes = NO_TIMES) -> list[FrameResult]:
        """Recognise every face of every frame; batched detection and one embedding batch per call.

        With `reuse` (the frames follow the ones it saw last), faces it links to the previous frame's faces keep
        their embeddings instead of being aligned and embedded again, unless `cuts` (default: none) says a scene
        cut lies between them. With `scanned`, only the frames it marks are searched whole for faces, the others
        near the faces of those (search.py; `before`: the result of the frame before the first). Detection,
        alignment, embedding and matching are timed in `times`.
        """
        detections = detect_keyframes(self.detector, frames, scanned, before, times)
        embed_faces = partial(self._embed_faces, times=times)
        if reuse is None:
            embeddings = embed_faces([(frame.image, det.landmarks) for frame, det in zip(frames, detections)])
        else:
            embeddings = reuse.embeddings([frame.image for frame in frames], detections, embed_faces,
                                          [False] * len(frames) if cuts is None else cuts)
        with times.stage(Stage.MATCH):
            return self._named(frames, detections, embeddings)

    def _named(self, frames: Sequence[Frame], detections: Sequence[Detections],
               embeddings: np.ndarray) -> list[FrameResult]:
        """Each frame's faces scored against the gallery and named on their own."""
        scores = match(embeddings, self.gallery.embeddings, self.threshold).scores
        results, start = [], 0
        for frame, det in zip(frames, detections):
            faces = [
                FaceResult(det.boxes[i], float(det.scores[i]), det.landmarks[i], scores[start + i],
                           embedding=embeddings[start + i])
                for i in range(len(det))
            ]
            start += len(det)
            results.append(FrameResult(frame.index, frame.time, label_faces(faces, self.threshold)))
        return results

    def _embed_faces(self, faces: Sequence[tuple[np.ndarray, np.ndarray]], times: StageTimes) -> np.ndarray:
        """Align and embed, in one batch, the faces at `landmarks` (K,5,2) of each `image`: (sum K, D)."""
        with times.stage(Stage.ALIGN):
            crops = [align_faces(image, landmarks) for image, landmarks in faces]
            batch = np.concatenate(crops) if crops else np.zeros((0, *CROP_SIZE, 3), np.uint8)
        with times.stage(Stage.EMBED):
            return self.embedder.embed(batch)

    def labels(self, result: FrameResult) -> list[FaceLabel]:
        """What to draw for one frame: the gallery name and colour, or unknown."""
        return [
            FaceLabel(
                box=face.box,
                name=self.gallery.names[face.identity] if face.identity >= 0 else None,
                score=face.similarity,
                color=self.gallery.colors[face.identity] if face.identity >= 0 else UNKNOWN_COLOR,
            )
            for face in result.faces
        ]
