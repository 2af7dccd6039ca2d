"""Build an edited-footage benchmark clip: shots of the shared clips, cut every 0.5-3 s, some without faces.

Film and TV cut between wide shots, closer shots and shots with nobody in them. This script splices such shots
from the shared hikers and marathon clips and the bundled demo clip: a wide shot is a 16:9 band of the whole
frame, a close shot a third of it around the middle of the frame (a few large faces), an empty shot the top-left
corner (trees, buildings). Each shot starts at a random time of its source, so the clip is new
footage for the tracker. The result is 1920x1080 at 24 fps (`sphereapp bench --heights` rescales it) and is
not committed: run the script, then
    sphereapp bench .data/edited_1080p.mp4 --heights 360 720 1080 --frames 240 --repeat 3
Usage: python scripts/edited_clip.py [--out .data/edited_1080p.mp4] [--seconds 20] [--seed 0] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sphereapp.core.locations import shipped_path
from sphereapp.core.media.video import VideoReader, VideoWriter, probe

SIZE = (1920, 1080)
FPS = 24
SHOT_SECONDS = (0.5, 3.0)
# shot kind -> (share of shots, region of the source frame as (left, top, width) fractions; height is 16:9)
KINDS = {"wide": (0.45, (0.0, 0.06, 1.0)), "close": (0.35, (0.33, 0.12, 0.34)), "empty": (0.2, (0.0, 0.0, 0.3))}


@dataclass(frozen=True)
class Shot:
    source: Path
    kind: str
    start: int  # first source frame
    frames: int


def plan_shots(sources: dict[Path, int], seconds: float, rng: np.random.Generator) -> list[Shot]:
    """Shots until `seconds` are filled: random source, kind, length and start (sources: path -> frame count)."""
    kinds, shares = list(KINDS), np.array([share for share, _ in KINDS.values()])
    shots, total = [], 0
    while total < seconds * FPS:
        source = list(sources)[rng.integers(len(sources))]
        frames = min(int(rng.uniform(*SHOT_SECONDS) * FPS), sources[source] - 1, round(seconds * FPS) - total)
        kind = kinds[rng.choice(len(kinds), p=shares / shares.sum())]
        shots.append(Shot(source, kind, int(rng.integers(sources[source] - frames)), frames))
        total += frames
    return shots


def framed(image: np.ndarray, kind: str) -> np.ndarray:
    """The shot's 16:9 region of a source frame, resized to SIZE."""
    height, width = image.shape[:2]
    left, top, share = KINDS[kind][1]
    w = int(width * share)
    h = min(int(w * SIZE[1] / SIZE[0]), height - int(height * top))
    x, y = int(width * left), int(height * top)
    return cv2.resize(image[y:y + h, x:x + w], SIZE, interpolation=cv2.INTER_LINEAR)


def shot_frames(shot: Shot) -> list[np.ndarray]:
    with VideoReader(shot.source, start=shot.start) as reader:
        return [framed(frame.image, shot.kind) for frame, _ in zip(reader, range(shot.frames))]


def _count_frames(clip: Path) -> int:
    """Frames of a clip whose container does not say how many it holds (decodes it once)."""
    with VideoReader(clip) as reader:
        return sum(1 for _ in reader)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".data/edited_1080p.mp4"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    clips = [args.data / "video" / "hikers_walking_640x480.mp4", args.data / "video" / "marathon_crowd_960x540.mp4",
             shipped_path("demo", "hikers_4s.mp4")]
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        parser.error(f"missing source clips: {', '.join(missing)}")
    sources = {clip: probe(clip).frame_count or _count_frames(clip) for clip in clips}
    shots = plan_shots(sources, args.seconds, np.random.default_rng(args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(args.out, *SIZE, FPS, crf=18) as writer:
        for shot in tqdm(shots, unit="shot", desc="edited clip"):
            for image in shot_frames(shot):
                writer.write(image)
    kinds = {kind: sum(s.frames for s in shots if s.kind == kind) / FPS for kind in KINDS}
    print(f"{args.out}: {len(shots)} shots, {sum(s.frames for s in shots) / FPS:.1f} s "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in kinds.items())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
