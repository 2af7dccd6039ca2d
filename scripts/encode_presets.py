"""x264 presets for the annotated video: encode time, file size and PSNR against the frames encoded.

Rescales the first N frames of a video to each --heights value (as `sphereapp bench` does), encodes them with
`VideoWriter` at CRF 20 and each preset, decodes the result and prints ms a frame, kB and PSNR (dB) against the
frames given to the encoder.

    python scripts/encode_presets.py [--video ../shared/data/video/hikers_walking_640x480.mp4] [--heights 720 1080]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sphereapp.benchmark import scaled_clip
from sphereapp.core.media.video import VideoReader, VideoWriter

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"
PRESETS = ("veryfast", "superfast", "ultrafast")


def psnr(original: list[np.ndarray], decoded: list[np.ndarray]) -> float:
    """PSNR (dB) of `decoded` against `original` over all frames."""
    mse = np.mean([np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2) for a, b in zip(original, decoded)])
    return float(10 * np.log10(255**2 / mse))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--heights", type=int, nargs="+", default=[720, 1080])
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    with tempfile.TemporaryDirectory(prefix="sphereapp-presets-") as folder:
        work = Path(folder)
        for height in args.heights:
            _, _, fps = scaled_clip(args.video, height, args.frames, work / "clip.mp4")
            with VideoReader(work / "clip.mp4") as reader:
                frames = [frame.image for frame in reader]
            for preset in PRESETS:
                output = work / f"{preset}.mp4"
                started = time.perf_counter()
                with VideoWriter(output, frames[0].shape[1], frames[0].shape[0], fps, crf=20, preset=preset) as writer:
                    for image in frames:
                        writer.write(image)
                ms = (time.perf_counter() - started) / len(frames) * 1000
                with VideoReader(output) as reader:
                    decoded = [frame.image for frame in reader]
                print(f"{height}p {preset:>9}: {ms:5.1f} ms a frame, {output.stat().st_size // 1000:>5} kB, "
                      f"PSNR {psnr(frames, decoded):.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
