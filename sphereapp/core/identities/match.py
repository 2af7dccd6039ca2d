"""Open-set matching: cosine similarity of probe embeddings against the gallery, thresholded."""

from dataclasses import dataclass

import numpy as np

UNIT_NORM_TOLERANCE = 1e-2  # float16 embeddings are unit-norm only to about 1e-3


@dataclass(frozen=True)
class MatchResult:
    """Per probe: best gallery row (-1 = unknown), its cosine; and the full (N, M) cosine matrix."""

    identity: np.ndarray  # (N,) int64
    score: np.ndarray  # (N,) float32, NaN when the gallery is empty
    scores: np.ndarray  # (N, M) float32


def match(probes: np.ndarray, gallery: np.ndarray, threshold: float) -> MatchResult:
    """Cosine of every probe against every gallery row (one matmul); known when the best score >= threshold.

    Open-set rule of the SphereFace video demo (wy1iu/sphereface README): the best cosine below the threshold
    means an unknown face. Rows must already be L2-normalised, so the dot product is the cosine; they are
    checked, not silently renormalised.
    """
    probes = _unit_rows(probes, "probes")
    gallery = _unit_rows(gallery, "gallery")
    n, m = len(probes), len(gallery)
    if n == 0 or m == 0:
        return MatchResult(
            identity=np.full(n, -1, dtype=np.int64),
            score=np.full(n, np.nan, dtype=np.float32),
            scores=np.zeros((n, m), dtype=np.float32),
        )
    if probes.shape[1] != gallery.shape[1]:
        raise ValueError(f"probe dimension {probes.shape[1]} does not match gallery dimension {gallery.shape[1]}")
    scores = probes @ gallery.T
    best = np.argmax(scores, axis=1)
    score = scores[np.arange(n), best]
    identity = np.where(score >= np.float32(threshold), best, -1).astype(np.int64)
    return MatchResult(identity=identity, score=score, scores=scores)


def identity_from_scores(scores: np.ndarray, threshold: float) -> tuple[int, float]:
    """One face's (gallery row or -1, best cosine) from its (M,) scores; (-1, nan) for an empty gallery."""
    if scores.size == 0:
        return -1, float("nan")
    best = int(np.argmax(scores))
    similarity = float(scores[best])
    return (best if similarity >= threshold else -1), similarity


def assign_identities(scores: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Name the faces of one frame from their (N, M) scores: a person appears at most once in a frame.

    Each face takes its best gallery row at or above the threshold, pairs taken best score first; a face whose
    person went to a closer match takes its next-best row above the threshold, else it is unknown. Returns (N,)
    rows (-1 = unknown) and (N,) similarities: the named row's score, else the best score (nan: empty gallery).
    """
    scores = np.asarray(scores, np.float32)
    identity = np.full(len(scores), -1, dtype=np.int64)
    if scores.size == 0:
        return identity, np.full(len(scores), np.nan, dtype=np.float32)
    similarity = scores.max(axis=1)
    faces, rows = np.nonzero(scores >= np.float32(threshold))
    taken: set[int] = set()
    for k in np.argsort(-scores[faces, rows], kind="stable"):
        face, row = int(faces[k]), int(rows[k])
        if identity[face] < 0 and row not in taken:
            identity[face], similarity[face] = row, scores[face, row]
            taken.add(row)
    return identity, similarity


def _unit_rows(embeddings: np.ndarray, what: str) -> np.ndarray:
    """The (K, D) float32 version of float embeddings (float16 included), after checking rows have unit length."""
    array = np.asarray(embeddings)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{what} must be a floating-point (K, D) array, got {array.dtype} {array.shape}")
    array = array.astype(np.float32, copy=False)
    norms = np.linalg.norm(array, axis=1)
    if not np.all(np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE):
        raise ValueError(f"{what} rows must be L2-normalised (norms range {norms.min():.4f}..{norms.max():.4f})")
    return array
