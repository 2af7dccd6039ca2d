"""Milliseconds a frame for the app's player, recognising frames one at a time as it does, with and without search.

Plays the first N frames of a video (rescaled to --height) through the player's `LiveRecognizer` (core/drivers/live.py),
once scanning every frame whole and once scanning every LIVE_SCAN_EVERY-th as the app does; prints ms a frame and
faces a frame for both.

    python scripts/live_speed.py [--video ../shared/data/video/hikers_walking_640x480.mp4] [--height 720] [--frames 60]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import cv2

from sphereapp.benchmark import even_width, random_recognizer
from sphereapp.core.drivers.live import LIVE_SCAN_EVERY, LiveRecognizer
from sphereapp.core.media.video import Frame, VideoReader
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.vision.components import load_components

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"


def play(frames: list[Frame], recognizer: Recognizer, fps: float, scan_every: int) -> tuple[float, float]:
    """(ms a frame, faces a frame) recognising `frames` one by one as the player does."""
    live, faces = LiveRecognizer(recognizer, fps, scan_every), 0
    started = time.perf_counter()
    for frame in frames:
        faces += len(live.show(frame, recognizer.threshold).result.faces)
    return (time.perf_counter() - started) / len(frames) * 1000, faces / len(frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--model", help="embedder weights (default: the shipped model)")
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    recognizer = random_recognizer(load_components(args.model, "auto"))
    with VideoReader(args.video) as reader:
        size, fps = (even_width(reader.info.width, reader.info.height, args.height), args.height), reader.info.fps
        frames = [Frame(f.index, f.time, cv2.resize(f.image, size, interpolation=cv2.INTER_AREA))
                  for f in itertools.islice(reader, args.frames)]
    recognizer.recognise(frames[:1])  # warm-up
    for scan_every in (1, LIVE_SCAN_EVERY):
        ms, faces = play(frames, recognizer, fps, scan_every)
        print(f"{size[0]}x{size[1]}, scan every {scan_every}: {ms:.1f} ms a frame, {faces:.2f} faces a frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
