"""Fakes that stand in for the networks and for stored people: detectors, embedders, a gallery, a pickled payload."""

import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from sphereapp.core.drivers.file import RunSummary, run_video
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.store import GalleryStore, Identity
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import EVERY_FRAME
from sphereapp.core.vision.align import TEMPLATE_112x96
from sphereapp.core.vision.detect import Detections

from helpers import unit

GALLERY = Gallery(["Red", "Green"], [(255, 0, 0), (0, 255, 0)], np.eye(3, dtype=np.float32)[:2])


class TemplateFaceDetector:
    """One 112x96 face per non-blank frame, its landmarks placed on the template so alignment is the identity;
    logs its batch sizes."""

    def __init__(self):
        self.calls = []

    def detect(self, images):
        self.calls.append(len(images))
        out = []
        for image in images:
            if image.max() == 0:
                out.append(Detections.empty())
            else:
                out.append(Detections(np.array([[0, 0, 96, 112]], np.float32), np.array([0.99], np.float32),
                                      TEMPLATE_112x96[None].astype(np.float32)))
        return out


class ColourEmbedder:
    """Embedding = unit vector along the crop's mean colour, so GALLERY names red and green faces; logs batch sizes."""

    def __init__(self):
        self.batches = []

    def embed(self, crops):
        self.batches.append(len(crops))
        means = crops.reshape(len(crops), -1 if len(crops) else 1, 3).mean(axis=1).astype(np.float32)  # none: (0, 3)
        return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-6)


def colour_recognizer() -> Recognizer:
    """The template detector and colour embedder naming GALLERY's people at threshold 0.9."""
    return Recognizer(TemplateFaceDetector(), ColourEmbedder(), GALLERY, threshold=0.9)


def annotate(video: Path, output: Path, json_path: Path | None = None) -> RunSummary:
    """The full pipeline (decode, recognise, draw, encode) with the fake detector and embedder."""
    return run_video(video, output, colour_recognizer(), json_path=json_path, speed=EVERY_FRAME)


class PerModelEmbedder:
    """Unit vectors from the crops' channel means plus a per-model constant, so models disagree; logs batch sizes."""

    def __init__(self, model_id: str = "model-a"):
        self.info = SimpleNamespace(model_id=model_id, embedding_size=4, threshold=0.5)
        self.batches: list[int] = []

    def embed(self, crops: np.ndarray) -> np.ndarray:
        self.batches.append(len(crops))
        means = crops.reshape(len(crops), -1, 3).mean(axis=1)
        model_constant = sum(map(ord, self.info.model_id)) % 97 + 1
        vectors = np.concatenate([means, np.full((len(crops), 1), model_constant)], axis=1).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@dataclass
class FakeDetections:
    """Boxes, scores and five landmarks per face, as a detector returns them."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


def landmarks_for(box) -> np.ndarray:
    """The SphereFace template scaled into a box, so aligning maps the box onto the 112x96 crop."""
    x1, y1, x2, y2 = box
    return (TEMPLATE_112x96 / [96, 112] * [x2 - x1, y2 - y1] + [x1, y1]).astype(np.float32)


def detections(*boxes) -> FakeDetections:
    """Faces found in these boxes, each with score 1 and the template's landmarks."""
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    return FakeDetections(boxes, np.ones(len(boxes), np.float32), np.stack([landmarks_for(b) for b in boxes])
                          if len(boxes) else np.zeros((0, 5, 2), np.float32))


class FixedDetector:
    """Returns the same detections for any image."""

    def __init__(self, found: FakeDetections):
        self.found = found

    def detect(self, images):
        return [self.found for _ in images]


class WholeImageDetector:
    """One face filling the image, or none when the image is all black."""

    def detect(self, images):
        return [detections((0, 0, image.shape[1], image.shape[0]) if image.any() else ()) for image in images]


def random_crop(seed: int) -> np.ndarray:
    """A seeded 112x96 crop of random pixels."""
    return np.random.default_rng(seed).integers(0, 256, (112, 96, 3), dtype=np.uint8)


def add_person(store: GalleryStore, name: str, seed: int, model_id: str = "model-a") -> Identity:
    """Store a person with a random crop and a seeded embedding."""
    return store.add(name, random_crop(seed), unit([seed + 1, 2, 3, 4]), model_id, source=f"{name}.jpg")


class RunsAShellCommand:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)
