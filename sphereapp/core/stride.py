"""Detect and embed every k-th frame of a video and interpolate the faces in between.

Keyframes (positions 0, k, 2k, ... and the last frame; and the two frames on either side of a scene cut,
core/cuts.py, after which the count starts again) go through the full recognizer, `batch_size` of them per
call. For a frame at fraction t between keyframes A and B, faces of A and B paired by box IoU (Hungarian,
`match_boxes`) are placed at the linear interpolation of their boxes, landmarks and gallery scores; a face only
in A is kept while t < 1/2, a face only in B appears from t >= 1/2. Detection and embedding cost drop k-fold;
the tracker that names faces afterwards still sees every frame. It looks ahead to B, so it serves files (CLI,
export, benchmarks), not the live player.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from sphereapp.core.cuts import is_cut, thumbnail
from sphereapp.core.reuse import EmbeddingReuse
from sphereapp.core.tracking import match_boxes
from sphereapp.core.video import Frame

if TYPE_CHECKING:
    from sphereapp.core.pipeline import FaceResult, FrameResult, Recognizer

KEY_MIN_IOU = 0.2  # faces move between keyframes: pair them more loosely than frame-to-frame tracks


def recognised_frames(
    frames: Iterable[Frame], recognizer: Recognizer, batch_size: int = 8, every: int = 1, embed_every: int = 1
) -> Iterator[tuple[Frame, FrameResult]]:
    """(frame, result) for every frame, in order; detection and embedding on every `every`-th frame only, and a
    face followed from keyframe to keyframe embedded on every `embed_every`-th of them only (core/reuse.py)."""
    if min(every, batch_size, embed_every) < 1:
        raise ValueError(f"every, batch_size and embed_every must be at least 1, not {every}, {batch_size} and "
                         f"{embed_every}")
    reuse = EmbeddingReuse(embed_every) if embed_every > 1 else None
    anchor: tuple[Frame, FrameResult] | None = None  # the last keyframe handed out
    window: list[tuple[Frame, bool]] = []  # frames after the anchor, each with "is a keyframe"
    keys, since_key, last_thumbnail = 0, every, None
    for frame in frames:
        is_key = since_key >= every
        if every > 1:  # interpolation never spans a scene cut: the frames on both sides of it are keyframes
            small = thumbnail(frame.image)
            if is_cut(last_thumbnail, small):
                is_key = True
                if window and not window[-1][1]:
                    window[-1], keys = (window[-1][0], True), keys + 1
            last_thumbnail = small
        window.append((frame, is_key))
        keys += is_key
        since_key = 1 if is_key else since_key + 1
        if keys >= batch_size:
            anchor = yield from _release(window, anchor, recognizer, reuse)
            window, keys = [], 0
    if window:
        window[-1] = (window[-1][0], True)  # the last frame is always detected: nothing to interpolate towards
        yield from _release(window, anchor, recognizer, reuse)


def _release(window: list[tuple[Frame, bool]], anchor: tuple[Frame, FrameResult] | None, recognizer: Recognizer,
             reuse: EmbeddingReuse | None):
    """Recognise the window's keyframes in one call, yield every frame of it; return the last keyframe."""
    key_frames = [frame for frame, is_key in window if is_key]
    results = iter(recognizer.recognise(key_frames, reuse))
    between: list[Frame] = []
    for frame, is_key in window:
        if not is_key:
            between.append(frame)
            continue
        current = (frame, next(results))
        for k, middle in enumerate(between, start=1):  # anchor is None only before the first frame, a keyframe
            yield middle, interpolate(anchor[1], current[1], k / (len(between) + 1), middle)
        yield current
        anchor, between = current, []
    return anchor


def interpolate(a: FrameResult, b: FrameResult, t: float, frame: Frame) -> FrameResult:
    """The faces of `frame`, a fraction `t` of the way from keyframe result `a` to keyframe result `b`."""
    pairs = match_boxes(np.array([f.box for f in a.faces]), np.array([f.box for f in b.faces]), KEY_MIN_IOU)
    paired_a, paired_b = {i for i, _ in pairs}, {j for _, j in pairs}
    faces = [_blend(a.faces[i], b.faces[j], t) for i, j in pairs]
    if t < 0.5:
        faces += [_blend(face, face, 0.0) for i, face in enumerate(a.faces) if i not in paired_a]
    else:
        faces += [_blend(face, face, 0.0) for j, face in enumerate(b.faces) if j not in paired_b]
    return replace(a, index=frame.index, time=frame.time, faces=faces)


def _blend(a: FaceResult, b: FaceResult, t: float) -> FaceResult:
    """A new, not yet named face: `a` moved a fraction `t` towards `b` (box, landmarks, scores linearly)."""
    return type(a)(
        box=((1 - t) * a.box + t * b.box).astype(np.float32),
        detection_score=(a if t < 0.5 else b).detection_score,
        landmarks=((1 - t) * a.landmarks + t * b.landmarks).astype(np.float32),
        scores=((1 - t) * a.scores + t * b.scores).astype(np.float32),
    )
