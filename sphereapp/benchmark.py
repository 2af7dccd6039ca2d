"""`sphereapp bench`: frames/s of sphereapp's pipeline against the naive facenet-pytorch loop and decoding alone.

Each resolution is measured on the same clip (the first N frames of the input, rescaled and re-encoded once):
1. decode only: PyAV decode to RGB arrays, the ceiling for any pipeline;
2. naive loop, as a user would write it from the facenet-pytorch README: decode a frame, `MTCNN.detect` on it,
   crop each box and resize it to 112x96, embed the faces one at a time (same SphereFace weights), match,
   draw with OpenCV, encode with `cv2.VideoWriter`; measured only when facenet-pytorch is installed
   (`NAIVE_INSTALL`: sphereapp itself does not need it). It runs in a process of its own, started afresh as a
   user's script is, with the same number of torch threads: sphereapp's process-wide settings (core/memory.py)
   do not reach it;
3. `sphereapp run`'s pipeline (`run_video`: batched detection, aligned crops, batched flip-fused embedding,
   tracking, H.264 encode with audio), with the same speed options as `sphereapp run`.
Both recognisers match against the same gallery of random unit vectors: its content does not change the work.
With `repeat` N > 1 each path runs N times, taking turns, and the median frames/s is reported: on a shared machine
single runs vary. With `profile`, the pipeline's runs also time each of its stages (profiling.py).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from sphereapp.core.drivers.file import RunSummary, run_video
from sphereapp.core.files import write_json_atomic
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.media.video import VideoReader, VideoWriter
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.timing import NO_TIMES, StageTimes
from sphereapp.core.vision.components import Components
from sphereapp.core.vision.embed import Embedder
from sphereapp.core.vision.models import normalize_input
from sphereapp.profiling import Profile

GALLERY_SIZE = 10
NAIVE_INSTALL = "pip install torchvision==0.29.1 && pip install --no-deps facenet-pytorch==2.5.3"  # its own pins ask for an old torch
NAIVE_FACE_SIZE = (96, 112)  # cv2 (width, height) of the network input


@dataclass(frozen=True)
class BenchRow:
    """One resolution's measurements (frames/s) and the ratios the speed goals are stated in."""

    width: int
    height: int
    frames: int
    source_fps: float
    faces_per_frame: float  # found by the pipeline
    naive_faces_per_frame: float | None  # found by the naive loop (same detector, full-size frames); None: not run
    decode_fps: float
    naive_fps: float | None
    pipeline_fps: float
    runs: int = 1  # runs of each path the frames/s are the median of
    profile: Profile | None = None  # the pipeline's stages over all its runs, when asked for

    @property
    def speedup(self) -> float | None:
        """Pipeline over the naive loop (goal on a 2-core CPU: >= 5); None when the naive loop was not run."""
        return None if self.naive_fps is None else self.pipeline_fps / self.naive_fps

    @property
    def realtime(self) -> float:
        """Pipeline over the source frame rate (>= 1: keeps up with playback)."""
        return self.pipeline_fps / self.source_fps

    def to_dict(self) -> dict:
        speedup = None if self.speedup is None else round(self.speedup, 2)
        data = asdict(self) | {"speedup_vs_naive": speedup, "realtime_ratio": round(self.realtime, 2),
                               "pipeline_vs_decode": round(self.pipeline_fps / self.decode_fps, 3)}
        del data["profile"]  # written with its shares below, and only when measured
        if self.profile is not None:
            data["profile"] = self.profile.to_dict()
        return data


def even_width(width: int, height: int, new_height: int) -> int:
    """The width that keeps the aspect of `width` x `height` at `new_height`, rounded to even (H.264 4:2:0)."""
    return max(2, round(width * new_height / height / 2) * 2)


def scaled_clip(source: str | Path, height: int, frames: int, target: Path) -> tuple[int, int, float]:
    """Write the first `frames` frames of `source` rescaled to `height` (even width, same aspect) as H.264 to
    `target`; its width, frame count and fps."""
    with VideoReader(source) as reader:
        info = reader.info
        width = even_width(info.width, info.height, height)
        written = 0
        with VideoWriter(target, width, height, info.fps) as writer:
            for frame in itertools.islice(reader, frames):
                writer.write(cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA))
                written += 1
    return width, written, info.fps


def decode_fps(path: Path) -> float:
    """Frames/s of decoding to RGB arrays alone."""
    started, count = time.perf_counter(), 0
    with VideoReader(path) as reader:
        for _ in reader:
            count += 1
    return count / (time.perf_counter() - started)


def facenet_installed() -> bool:
    """Whether facenet-pytorch, the naive loop's detector, imports (it needs torchvision, which sphereapp does not)."""
    try:
        importlib.import_module("facenet_pytorch")
    except ImportError:
        return False
    return True


@functools.cache
def naive_models(model_path: Path, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """facenet-pytorch's MTCNN and the embedding network of `model_path`, loaded once per naive-loop process."""
    from facenet_pytorch import MTCNN

    return MTCNN(keep_all=True, device=device), Embedder.from_file(model_path, device).model


def naive_run(path: Path, model_path: Path, device: torch.device, threads: int, gallery: np.ndarray,
              threshold: float, output: Path) -> tuple[float, int]:
    """`naive_fps` with `threads` torch threads; the body of the naive loop's own process."""
    torch.set_num_threads(threads)
    return naive_fps(path, *naive_models(model_path, device), device, gallery, threshold, output)


def naive_fps(path: Path, mtcnn: torch.nn.Module, model: torch.nn.Module, device: torch.device, gallery: np.ndarray,
              threshold: float, output: Path) -> tuple[float, int]:
    """Frames/s and faces found by the per-frame, per-face loop of the facenet-pytorch README with its `mtcnn`."""
    gallery_t = torch.from_numpy(gallery).to(device)
    started, count, faces = time.perf_counter(), 0, 0
    with VideoReader(path) as reader:
        info = reader.info
        writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (info.width, info.height))
        for frame in reader:
            image = frame.image
            boxes, _ = mtcnn.detect(image)
            canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            for box in [] if boxes is None else boxes:
                x1, y1, x2, y2 = np.clip(box, 0, [info.width, info.height, info.width, info.height]).astype(int)
                if x2 <= x1 or y2 <= y1:
                    continue
                face = cv2.resize(image[y1:y2, x1:x2], NAIVE_FACE_SIZE)
                with torch.no_grad():
                    embedding = F.normalize(model(normalize_input(torch.from_numpy(face[None]).to(device))), dim=1)
                score = float((embedding @ gallery_t.T).max())
                label = "match" if score >= threshold else "unknown"
                cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 200, 0), 2)
                cv2.putText(canvas, f"{label} {score:.2f}", (x1, y1 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0))
                faces += 1
            writer.write(canvas)
            count += 1
        writer.release()
    return count / (time.perf_counter() - started), faces


def pipeline_run(path: Path, components: Components, gallery: Gallery, threshold: float, output: Path,
                 **options) -> RunSummary:
    """One run of `sphereapp run`'s pipeline (`options`: run_video's, e.g. speed, times)."""
    recognizer = Recognizer(components.detector, components.embedder, gallery, threshold)
    return run_video(path, output, recognizer, **options)


def random_gallery(size: int, dim: int, seed: int = 0) -> Gallery:
    """A gallery of `size` random unit vectors (names p0..; grey): same matching work as real people."""
    vectors = np.random.default_rng(seed).normal(size=(size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Gallery([f"p{k}" for k in range(size)], [(128, 128, 128)] * size, vectors)


def random_recognizer(components: Components) -> Recognizer:
    """A recognizer on `components` against a `random_gallery` of GALLERY_SIZE people, at the model's threshold."""
    info = components.embedder.info
    return Recognizer(components.detector, components.embedder, random_gallery(GALLERY_SIZE, info.embedding_size),
                      info.threshold)


def bench(source: str | Path, components: Components, heights: list[int], frames: int, repeat: int = 1,
          profile: bool = False, **options) -> list[BenchRow]:
    """Measure decode, naive and pipeline frames/s at each height on the first `frames` frames of `source`, each
    the median of `repeat` runs (`options` go to run_video); the naive loop only when facenet-pytorch is installed;
    with `profile`, the time of each pipeline stage over the runs as well."""
    gallery = random_gallery(GALLERY_SIZE, components.embedder.info.embedding_size)
    threshold = components.embedder.info.threshold
    naive_process = (ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) if facenet_installed()
                     else contextlib.nullcontext())
    rows = []
    with tempfile.TemporaryDirectory(prefix="sphereapp-bench-") as folder, naive_process as naive_loop:
        work = Path(folder)
        for height in heights:
            clip = work / f"clip_{height}.mp4"
            width, count, fps = scaled_clip(source, height, frames, clip)
            times = StageTimes() if profile else NO_TIMES
            runs, summaries = [], []
            for _ in range(repeat):
                decoded = decode_fps(clip)
                naive = (naive_loop.submit(naive_run, clip, components.model_path, components.device,
                                           torch.get_num_threads(), gallery.embeddings, threshold,
                                           work / "naive.mp4").result()
                         if naive_loop is not None else (None, None))
                summaries.append(pipeline_run(clip, components, gallery, threshold, work / "pipeline.mp4",
                                              times=times, **options))
                runs.append((decoded, *naive, summaries[-1].fps, summaries[-1].faces))
            decoded, naive, naive_faces, fast, faces = (None if values[0] is None else statistics.median(values)
                                                        for values in zip(*runs))
            rows.append(BenchRow(width, height, count, fps, faces / count,
                                 None if naive_faces is None else naive_faces / count, decoded, naive, fast, repeat,
                                 Profile.of(times, summaries) if profile else None))
    return rows


def environment(components: Components) -> dict:
    """What the figures depend on: device, threads, versions, CPU."""
    return {
        "device": str(components.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "model": components.model_name,
    }


def format_table(rows: list[BenchRow]) -> str:
    """The rows as an aligned text table with the ratios."""
    lines = [f"{'size':>10} {'frames':>6} {'faces/fr':>8} {'decode':>8} {'naive':>7} {'sphereapp':>9} "
             f"{'x naive':>7} {'x realtime':>10}"]
    for row in rows:
        naive, speedup = ("-", "-") if row.naive_fps is None else (f"{row.naive_fps:.2f}", f"{row.speedup:.2f}")
        lines.append(f"{row.width:>5}x{row.height:<4} {row.frames:>6} {row.faces_per_frame:>8.2f} "
                     f"{row.decode_fps:>8.1f} {naive:>7} {row.pipeline_fps:>9.2f} {speedup:>7} {row.realtime:>10.2f}")
    return "\n".join(lines)


def write_report(path: Path, rows: list[BenchRow], env: dict, source: str | Path,
                 startup: float | None = None) -> None:
    """The measurements as JSON (with the seconds the model and detector took to load, when given), written
    atomically."""
    data = {"source": str(source), "environment": env, "rows": [row.to_dict() for row in rows]}
    if startup is not None:
        data["startup_seconds"] = round(startup, 4)
    write_json_atomic(path, data, indent=2)
