"""The file driver: decode -> recognise (keyframes, tracking) -> annotate -> encode, with a JSON log."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from sphereapp.core.background import BackgroundSink, prefetched
from sphereapp.core.files import write_json_atomic
from sphereapp.core.media.annotate import FaceLabel, draw_faces
from sphereapp.core.media.video import VideoReader, VideoWriter
from sphereapp.core.memory import release_free_memory
from sphereapp.core.recognition.keyframes import recognised_frames
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FrameResult, label_faces
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.recognition.tracking import Tracker
from sphereapp.core.timing import NO_TIMES, Stage, StageTimes

TRIM_EVERY = 256  # frames between returns of freed heap memory to the system (core/memory.py): flat RSS
# x264 preset of the annotated video. Its encoder shares the CPU with the networks: "superfast" takes much less time
# than VideoWriter's "veryfast" for slightly larger files and PSNR (scripts/encode_presets.py; docs/MEASURED.md).
OUTPUT_PRESET = "superfast"


@dataclass
class RunSummary:
    frames: int
    faces: int
    named: dict[str, int]  # faces that carry each person's name, most first
    seconds: float
    skipped_packets: int

    @property
    def recognised(self) -> int:
        return sum(self.named.values())

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[int, int | None], None]  # (frames done, total or None)


def run_video(
    video_path: str | Path,
    output_path: str | Path,
    recognizer: Recognizer,
    *,
    batch_size: int = 8,
    json_path: str | Path | None = None,
    model_name: str = "",
    show_scores: bool = True,
    tracking: bool = True,
    speed: Speed = Speed(),
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    times: StageTimes = NO_TIMES,
) -> RunSummary:
    """Annotate every frame of a video into an H.264 file (audio copied); optionally write a JSON log.

    With `tracking`, faces are linked into tracks and named from each track's recent scores
    (core/recognition/tracking.py); without it, every frame is named on its own. `speed` says which frames are
    detected, scanned and embedded (core/recognition/speed.py).

    Nothing is left at `output_path` or `json_path` unless the whole run succeeds; `should_stop` returning True
    cancels the run (raises `KeyboardInterrupt` after cleaning up). The time each stage takes is added to `times`
    (core/timing.py).
    """
    started = time.perf_counter()
    log_frames: list[dict] = []
    n_faces, named = 0, Counter()
    tracker = Tracker() if tracking else None
    with (
        VideoReader(video_path) as reader,
        closing(prefetched(times.iterate(reader, Stage.DECODE))) as decoded,  # decoded on a thread
    ):
        info = reader.info
        with (
            VideoWriter(output_path, info.width, info.height, info.fps, audio_from=video_path,
                        preset=OUTPUT_PRESET) as writer,
            BackgroundSink(partial(draw_and_encode, writer, show_scores, times)) as sink,
        ):
            done = 0
            for frame, result in recognised_frames(times.iterate(decoded, Stage.WAIT_FOR_FRAMES), recognizer, speed,
                                                   batch_size, times):
                if should_stop is not None and should_stop():
                    raise KeyboardInterrupt("cancelled")
                with times.stage(Stage.TRACK):
                    named_faces = (tracker.update(result.faces, recognizer.threshold) if tracker is not None
                                   else label_faces(result.faces, recognizer.threshold))
                result = replace(result, faces=named_faces)
                labels = recognizer.labels(result)
                with times.stage(Stage.WAIT_FOR_ENCODER):
                    sink.put((frame.image, labels, frame.time))  # drawn and encoded on a thread
                n_faces += len(result.faces)
                named.update(recognizer.gallery.names[face.identity] for face in result.faces if face.identity >= 0)
                if json_path is not None:
                    log_frames.append(frame_log(result, recognizer.gallery.names))
                done += 1
                if done % TRIM_EVERY == 0:
                    release_free_memory()
                if progress is not None and (done % batch_size == 0 or done == info.frame_count):
                    progress(done, info.frame_count)
        skipped = reader.skipped_packets
    if json_path is not None:
        log = {
            "video": str(video_path),
            "fps": info.fps,
            "model": model_name,
            "threshold": recognizer.threshold,
            "frames": log_frames,
        }
        try:
            write_json_atomic(json_path, log)
        except BaseException:
            Path(output_path).unlink(missing_ok=True)  # the run did not complete: no video without its log
            raise
    return RunSummary(done, n_faces, dict(named.most_common()), time.perf_counter() - started, skipped)


def draw_and_encode(writer: VideoWriter, show_scores: bool, times: StageTimes,
                    item: tuple[np.ndarray, list[FaceLabel], float]) -> None:
    """Draw the faces of one (image, labels, time) onto the image and encode it."""
    image, labels, frame_time = item
    with times.stage(Stage.DRAW):
        image = draw_faces(image, labels, show_scores=show_scores)
    with times.stage(Stage.ENCODE):
        writer.write(image, frame_time)


def frame_log(result: FrameResult, names: Sequence[str]) -> dict:
    """The JSON-log record of one frame."""
    return {
        "index": result.index,
        "time": round(result.time, 4),
        "faces": [
            {
                "box": [round(float(v), 1) for v in face.box],
                "detection_score": round(face.detection_score, 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in face.landmarks],
                "identity": names[face.identity] if face.identity >= 0 else None,
                "similarity": None if np.isnan(face.similarity) else round(face.similarity, 4),
                "track": face.track if face.track >= 0 else None,
            }
            for face in result.faces
        ],
    }
