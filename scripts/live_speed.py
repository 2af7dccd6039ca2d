"""Milliseconds a frame for the app's player, recognising frames one at a time as it does, with and without search.

Plays the first N frames of a video (rescaled to --height) through `Recognizer.recognise`, one frame a call with the
player's embedding reuse, once scanning every frame whole and once planned by `FollowingSearch(LIVE_SCAN_EVERY)` as
the app's worker plans it; prints ms a frame and faces a frame for both.

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
from sphereapp.core.media.video import Frame, VideoReader
from sphereapp.core.recognition.cuts import SceneCuts
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.recognition.search import FollowingSearch
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.vision.components import load_components
from sphereapp.gui.engine import LIVE_SCAN_EVERY

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"


def play(frames: list[Frame], recognizer: Recognizer, scan_every: int) -> tuple[float, float]:
    """(ms a frame, faces a frame) recognising `frames` one by one as the player does."""
    reuse, following, cuts, faces = EmbeddingReuse(Speed().embed_every), FollowingSearch(scan_every), SceneCuts(), 0
    started = time.perf_counter()
    for frame in frames:
        cut = cuts.cut_before(frame.image)
        before = following.before(frame.index, cut)
        result = recognizer.recognise([frame], reuse, None if before is None else [False], before, [cut])[0]
        following.remember(result)
        faces += len(result.faces)
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
        size = (even_width(reader.info.width, reader.info.height, args.height), args.height)
        frames = [Frame(f.index, f.time, cv2.resize(f.image, size, interpolation=cv2.INTER_AREA))
                  for f in itertools.islice(reader, args.frames)]
    recognizer.recognise(frames[:1])  # warm-up
    for scan_every in (1, LIVE_SCAN_EVERY):
        ms, faces = play(frames, recognizer, scan_every)
        print(f"{size[0]}x{size[1]}, scan every {scan_every}: {ms:.1f} ms a frame, {faces:.2f} faces a frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
