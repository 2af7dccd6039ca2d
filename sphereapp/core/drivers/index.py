"""The index driver: decode -> recognise (keyframes, tracking) -> the people of the video. Nothing is encoded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from sphereapp.core.background import prefetched
from sphereapp.core.index.people import IndexedFace, PeopleIndexer
from sphereapp.core.index.report import VideoIndex
from sphereapp.core.media.video import VideoReader
from sphereapp.core.recognition.keyframes import recognised_frames
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.recognition.tracking import Tracker

ProgressCallback = Callable[[int, int | None], None]  # (frames done, total or None)
FacesCallback = Callable[[int, Sequence[IndexedFace]], None]  # (frame index, its tracked faces)
PeopleCallback = Callable[[VideoIndex], None]  # the people found so far

PEOPLE_EVERY = 2.0  # seconds of video between two snapshots of the people found so far


def index_video(video_path: str | Path, recognizer: Recognizer, *, model_name: str = "", speed: Speed = Speed(),
                batch_size: int = 8, progress: ProgressCallback | None = None,
                should_stop: Callable[[], bool] | None = None, on_faces: FacesCallback | None = None,
                on_people: PeopleCallback | None = None, people_every: float = PEOPLE_EVERY) -> VideoIndex:
    """Who is in the video and when: the tracked faces of every frame grouped into people (core/index/people.py),
    unknown tracks joined at the recognizer's threshold. `should_stop` returning True raises KeyboardInterrupt;
    `on_faces` sees each frame's tracked faces (track ids and boxes, e.g. to score the grouping).

    `on_people` gets the people found so far every `people_every` seconds of video (0: after every frame), grouped
    as the final index is: a partial VideoIndex whose `indexed_until` is the time indexed so far and whose duration is
    the whole video's (so timelines keep their scale), or the time indexed so far when the video does not say."""
    names = recognizer.gallery.names
    tracker = Tracker()
    with VideoReader(video_path) as reader, closing(prefetched(reader)) as decoded:
        info = reader.info
        indexer = PeopleIndexer(1 / info.fps, recognizer.threshold)

        def people_index(indexed: float, partial: bool) -> VideoIndex:
            """The people of the first `indexed` seconds."""
            return VideoIndex(str(video_path), info.duration or indexed, model_name, recognizer.threshold,
                              tuple(indexer.people()), indexed if partial else None)

        done, last_time, next_people = 0, 0.0, people_every
        for frame, result in recognised_frames(decoded, recognizer, speed, batch_size):
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt("cancelled")
            result = replace(result, faces=tracker.update(result.faces, recognizer.threshold))
            faces = [IndexedFace(face.track, names[face.identity] if face.identity >= 0 else None, face.similarity,
                                 face.embedding, face.box, face.landmarks) for face in result.faces]
            indexer.add(frame.index, frame.time, frame.image, faces)
            if on_faces is not None:
                on_faces(frame.index, faces)
            done, last_time = done + 1, frame.time
            if progress is not None and (done % batch_size == 0 or done == info.frame_count):
                progress(done, info.frame_count)
            if on_people is not None and frame.time >= next_people:
                on_people(people_index(frame.time + 1 / info.fps, partial=True))
                next_people = frame.time + people_every
    return people_index(last_time + 1 / info.fps, partial=False)
