"""Detect and embed every k-th frame of a video and interpolate the faces in between.

Keyframes (positions 0, k, 2k, ... and the last frame; and the two frames on either side of a scene cut,
cuts.py, after which the count starts again) go through the full recognizer, `batch_size` of them per
call. With `scan_every` s > 1, only every s-th keyframe (and the first, the last and those around a cut) is
scanned whole for faces; the keyframes in between are searched near the faces of the scanned ones on either side
(search.py). For a frame at fraction t between keyframes A and B, faces of A and B paired by least centre
move (Hungarian, `pair_faces` within `geometry.KEYFRAME_STEP`; a quick face in a crowd may no longer overlap its
last box) are placed at the linear interpolation of their boxes, landmarks and gallery scores; a face only in A is
kept while t < 1/2, a face only in B appears from t >= 1/2. Detection and embedding cost drop k-fold; the tracker
that names faces afterwards still sees every frame. It looks ahead to B, so it serves files (CLI, export,
benchmarks), not the live player.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.cuts import SceneCuts
from sphereapp.core.recognition.geometry import KEYFRAME_STEP, pair_faces
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FaceResult, FrameResult
from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.timing import NO_TIMES, Stage, StageTimes


class Role(IntEnum):
    """What happens to a frame: interpolated, recognised after a search near known faces, or scanned whole."""

    BETWEEN = 0
    SEARCHED = 1
    SCANNED = 2


class Planned(NamedTuple):
    """A frame waiting for its keyframes to be recognised: its role, and whether a scene cut lies just before it."""

    frame: Frame
    role: Role
    cut: bool


def recognised_frames(
    frames: Iterable[Frame], recognizer: Recognizer, speed: Speed = Speed(), batch_size: int = 8,
    times: StageTimes = NO_TIMES,
) -> Iterator[tuple[Frame, FrameResult]]:
    """(frame, result) for every frame, in order; detection and embedding on every `speed.detect_every`-th frame
    only, a whole frame scanned for faces on every `speed.scan_every`-th of those only, and a face followed from
    keyframe to keyframe embedded on every `speed.embed_every`-th of them only (reuse.py); the stages are timed in
    `times`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    every, scan_every = speed.detect_every, speed.scan_every
    reuse = EmbeddingReuse(speed.embed_every) if speed.embed_every > 1 else None
    anchor: tuple[Frame, FrameResult] | None = None  # the last keyframe handed out, always a scanned one
    window: list[Planned] = []  # frames after the anchor
    keys, since_key, since_scan, cuts = 0, every, scan_every, SceneCuts()
    for frame in frames:
        role = Role.BETWEEN
        if since_key >= every:
            role = Role.SCANNED if since_scan >= scan_every else Role.SEARCHED
        with times.stage(Stage.CUT_TEST):
            cut = cuts.cut_before(frame.image)
        if cut:  # nothing spans a scene cut: the frames on both sides of it are scanned
            role = Role.SCANNED
            if window and window[-1].role != Role.SCANNED:
                keys += window[-1].role == Role.BETWEEN
                window[-1] = window[-1]._replace(role=Role.SCANNED)
        window.append(Planned(frame, role, cut))
        if role:
            keys, since_key = keys + 1, 1
            since_scan = 1 if role == Role.SCANNED else since_scan + 1
        else:
            since_key += 1
        if keys >= batch_size and role == Role.SCANNED:
            anchor = yield from _release(window, anchor, recognizer, reuse, times)
            window, keys = [], 0
    if window:
        window[-1] = window[-1]._replace(role=Role.SCANNED)  # the last is scanned: nothing to interpolate towards
        yield from _release(window, anchor, recognizer, reuse, times)


def _release(window: list[Planned], anchor: tuple[Frame, FrameResult] | None, recognizer: Recognizer,
             reuse: EmbeddingReuse | None, times: StageTimes):
    """Recognise the window's keyframes in one call, yield every frame of it; return the last keyframe."""
    key_frames, scanned, cuts, cut = [], [], [], False
    for frame, role, cut_before in window:  # a keyframe follows a cut when one lies since the keyframe before it
        cut = cut or cut_before
        if role:
            key_frames.append(frame)
            scanned.append(role == Role.SCANNED)
            cuts.append(cut)
            cut = False
    results = iter(recognizer.recognise(key_frames, reuse, scanned, None if anchor is None else anchor[1], cuts,
                                        times))
    between: list[Frame] = []
    for frame, role, _ in window:
        if not role:
            between.append(frame)
            continue
        current = (frame, next(results))
        for k, middle in enumerate(between, start=1):  # anchor is None only before the first frame, a keyframe
            with times.stage(Stage.INTERPOLATE):
                result = interpolate(anchor[1], current[1], k / (len(between) + 1), middle)
            yield middle, result
        yield current
        anchor, between = current, []
    return anchor


def interpolate(a: FrameResult, b: FrameResult, t: float, frame: Frame) -> FrameResult:
    """The faces of `frame`, a fraction `t` of the way from keyframe result `a` to keyframe result `b`."""
    pairs = pair_faces(np.array([f.box for f in a.faces], np.float32).reshape(-1, 4),
                       np.array([f.box for f in b.faces], np.float32).reshape(-1, 4), KEYFRAME_STEP)
    paired_a, paired_b = {i for i, _ in pairs}, {j for _, j in pairs}
    faces = [_blend(a.faces[i], b.faces[j], t) for i, j in pairs]
    if t < 0.5:
        faces += [_blend(face, face, 0.0) for i, face in enumerate(a.faces) if i not in paired_a]
    else:
        faces += [_blend(face, face, 0.0) for j, face in enumerate(b.faces) if j not in paired_b]
    return replace(a, index=frame.index, time=frame.time, faces=faces)


def _blend(a: FaceResult, b: FaceResult, t: float) -> FaceResult:
    """A new, not yet named face: `a` moved a fraction `t` towards `b` (box, landmarks, scores linearly)."""
    return FaceResult(
        box=((1 - t) * a.box + t * b.box).astype(np.float32),
        detection_score=(a if t < 0.5 else b).detection_score,
        landmarks=((1 - t) * a.landmarks + t * b.landmarks).astype(np.float32),
        scores=((1 - t) * a.scores + t * b.scores).astype(np.float32),
        embedding=(a if t < 0.5 else b).embedding,
    )
