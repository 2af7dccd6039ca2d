"""Fake faces for the people index: seeded embeddings, faces on tracks, and a small finished index."""

import numpy as np

from sphereapp.core.index.people import IndexedFace, PeopleIndexer
from sphereapp.core.index.report import VideoIndex

FPS = 10.0
FRONTAL = np.array([[30, 40], [60, 40], [45, 55], [33, 70], [57, 70]], np.float32)


def random_unit(seed: int, dim: int = 16) -> np.ndarray:
    """A seeded random unit vector: one person's embedding."""
    vector = np.random.default_rng(seed).normal(size=dim)
    return vector / np.linalg.norm(vector)


def near(base: np.ndarray, seed: int, noise: float = 0.15) -> np.ndarray:
    """A unit vector a little apart from `base`: the same person in another frame."""
    vector = base + noise * np.random.default_rng(seed).normal(size=base.shape)
    return vector / np.linalg.norm(vector)


def face(track: int, embedding: np.ndarray, name: str | None = None, score: float = 0.3, size: float = 90.0,
         landmarks: np.ndarray = FRONTAL) -> IndexedFace:
    return IndexedFace(track, name, score, embedding, np.array([10, 10, 10 + size * 0.8, 10 + size], np.float32),
                       landmarks)


def textured(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def feed(indexer: PeopleIndexer, frames: dict[int, list[IndexedFace]]) -> None:
    """Add each frame's faces in frame order, on textured images."""
    for index in sorted(frames):
        indexer.add(index, index / FPS, textured(index), frames[index])


def sample_index() -> VideoIndex:
    """Ada (known) 0-1 s; Unknown 1 at 0-1 s and 4-4.5 s; a 6 s video."""
    me, ada = random_unit(11), random_unit(12)
    frames = {i: [face(1, near(me, i)), face(2, near(ada, 50 + i), "Ada", 0.7)] for i in range(10)}
    frames.update({i: [face(3, near(me, i))] for i in range(40, 45)})
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    return VideoIndex("clip.mp4", 6.0, "sphereface20 (id x)", 0.5, tuple(indexer.people()))
