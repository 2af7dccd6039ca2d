"""Memory over a long video: does `sphereapp run`'s pipeline keep a flat resident set size (RSS)?

Loops a clip (rescaled to --height) into a --minutes long H.264 file, runs the pipeline on it with the given speed
settings against a 10-person gallery, samples the process RSS every 1% of the frames, and prints RSS after the
first 10% (warm: models loaded, queues full), at the end, the peak, and the growth per 1,000 frames fitted over
the last 90%.

    python scripts/rss_check.py [--video ../shared/data/video/hikers_walking_640x480.mp4] [--minutes 10] \\
        [--height 360] [--detect-every 4] [--embed-every 2] [--json runs/eval/rss.json] [--default-allocator]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from sphereapp.benchmark import even_width, random_recognizer
from sphereapp.core.drivers.file import run_video
from sphereapp.core.media.video import VideoReader, VideoWriter
from sphereapp.core.memory import reuse_large_blocks
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.vision.components import load_components

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"


def rss_mb() -> float:
    """This process's resident set size in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def looped_clip(source: Path, target: Path, minutes: float, height: int) -> tuple[int, float]:
    """Write `source`, rescaled to `height` and played over and over, as `minutes` of H.264; (frames, fps)."""
    with VideoReader(source) as reader:
        info = reader.info
    width = even_width(info.width, info.height, height)
    total = round(minutes * 60 * info.fps)
    written = 0
    with VideoWriter(target, width, height, info.fps) as writer:
        while written < total:
            with VideoReader(source) as reader:
                for frame in itertools.islice(reader, total - written):
                    writer.write(cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA))
                    written += 1
    return written, info.fps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--detect-every", type=int, default=Speed().detect_every)
    parser.add_argument("--embed-every", type=int, default=Speed().embed_every)
    parser.add_argument("--scan-every", type=int, default=Speed().scan_every)
    parser.add_argument("--model", help="embedder weights (default: the shipped model)")
    parser.add_argument("--json", type=Path, help="write the samples and figures as JSON")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's large-block setting alone (core/memory.py), unlike `sphereapp run`")
    args = parser.parse_args()
    speed = Speed(args.detect_every, args.embed_every, args.scan_every)
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    if not args.default_allocator:
        reuse_large_blocks()  # as `sphereapp run` does
    recognizer = random_recognizer(load_components(args.model, "auto"))
    with tempfile.TemporaryDirectory(prefix="sphereapp-rss-") as folder:
        clip = Path(folder) / "looped.mp4"
        frames, fps = looped_clip(args.video, clip, args.minutes, args.height)
        print(f"{clip.name}: {frames} frames ({frames / fps / 60:.1f} min at {fps:.2f} fps), {args.height}p",
              flush=True)
        samples: list[tuple[int, float]] = []
        step = max(1, frames // 100)

        def sample(done: int, _total: int | None) -> None:
            if not samples or done - samples[-1][0] >= step:
                samples.append((done, rss_mb()))

        started = time.perf_counter()
        summary = run_video(clip, Path(folder) / "out.mp4", recognizer, batch_size=8, speed=speed, progress=sample)
        seconds = time.perf_counter() - started
    done, rss = (np.array(v, np.float64) for v in zip(*samples))
    warm = done >= 0.1 * frames
    slope = float(np.polyfit(done[warm], rss[warm], 1)[0]) * 1000 if warm.sum() >= 2 else float("nan")
    report = {
        "video": str(args.video), "frames": summary.frames, "minutes": round(frames / fps / 60, 2),
        "height": args.height, "detect_every": speed.detect_every, "embed_every": speed.embed_every,
        "scan_every": speed.scan_every,
        "seconds": round(seconds, 1), "fps": round(summary.frames / seconds, 2), "faces": summary.faces,
        "rss_mb_at_10pct": round(float(rss[warm][0]), 1), "rss_mb_at_end": round(float(rss[-1]), 1),
        "rss_mb_peak": round(float(rss.max()), 1), "growth_mb_per_1000_frames": round(slope, 3),
        "samples": [[int(d), round(float(r), 1)] for d, r in zip(done, rss)],
    }
    print(f"{summary.frames} frames in {seconds:.0f} s ({report['fps']} fps), {summary.faces} faces; RSS MiB: "
          f"{report['rss_mb_at_10pct']} after 10%, {report['rss_mb_at_end']} at the end, peak {report['rss_mb_peak']}; "
          f"growth {report['growth_mb_per_1000_frames']} MiB per 1,000 frames (fit over the last 90%)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
