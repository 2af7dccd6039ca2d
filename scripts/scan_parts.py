"""Where MTCNN's whole-frame scan spends its time: integral image, pyramid levels, R-Net and O-Net, P-Net.

Takes `--frames` frames of a video (every 10th, rescaled to `--height`), scans them in one `FaceDetector.detect`
call `--repeat` times and prints each part's share of the scan and the scan's milliseconds a frame (the fastest
repeat). With `--default-allocator` glibc maps large blocks afresh as it does by default (core/memory.py).

    python scripts/scan_parts.py [--video .data/edited_1080p.mp4] [--height 720] [--frames 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from sphereapp.benchmark import even_width
from sphereapp.core.media.video import VideoReader
from sphereapp.core.memory import reuse_large_blocks
from sphereapp.core.vision import mtcnn
from sphereapp.core.vision.detect import FaceDetector

PARTS = {"integral": "integral", "pyramid": "pyramid_level", "R-Net and O-Net": "refine"}


def sample_frames(video: Path, height: int, count: int) -> list[np.ndarray]:
    """Every 10th frame of `video`, rescaled to `height` (even width), `count` of them at most."""
    frames = []
    with VideoReader(video) as reader:
        for index, frame in enumerate(reader):
            if index % 10 == 0:
                width = even_width(frame.image.shape[1], frame.image.shape[0], height)
                frames.append(cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA))
            if len(frames) == count:
                break
    return frames


def timed(seconds: dict[str, float], part: str, function: Callable) -> Callable:
    """`function`, adding the time of each call to `seconds[part]`."""
    def call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[part] += time.perf_counter() - started
    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=Path(".data/edited_1080p.mp4"))
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--default-allocator", action="store_true", help="leave glibc's large-block setting alone")
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    if not args.default_allocator:
        reuse_large_blocks()
    torch.set_num_threads(args.threads)
    frames = sample_frames(args.video, args.height, args.frames)
    detector = FaceDetector()
    seconds: dict[str, float] = defaultdict(float)
    for part, name in PARTS.items():
        setattr(mtcnn, name, timed(seconds, part, getattr(mtcnn, name)))
    runs = []
    for _ in range(args.repeat):
        seconds.clear()
        started = time.perf_counter()
        detector.detect(frames)
        runs.append((time.perf_counter() - started, dict(seconds)))
    total, parts = min(runs, key=lambda run: run[0])
    parts["P-Net and the rest"] = total - sum(parts.values())  # P-Net, its candidates and their NMS
    shares = ", ".join(f"{part} {seconds / total:.0%}" for part, seconds in parts.items())
    print(f"{len(frames)} frames of {args.video.name} at {args.height}p, {args.threads} torch threads"
          f"{', default allocator' if args.default_allocator else ''}: scan {total * 1000 / len(frames):.0f} ms a "
          f"frame (fastest of {args.repeat}); {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
