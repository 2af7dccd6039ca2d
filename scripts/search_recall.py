"""What searched keyframes find, against scanning the same frames whole (core/recognition/search.py).

Takes every `--every`-th frame of a video as a keyframe (default 4, as `sphereapp run`), scans every 2nd one and
searches those in between near the faces of the scans on either side (`detect_keyframes`, the fast-motion rule
included), then also scans the searched ones to compare. Prints the faces a scan finds on them, how many the search
finds (IoU >= 0.5), how many of the missed ones showed on neither neighbouring scan (no face within one width
there), the faces only the search finds, and how many searched keyframes were scanned after all (fast motion).

    python scripts/search_recall.py [--video ../shared/data/video/hikers_walking_640x480.mp4] [--every 4]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from sphereapp.core.media.video import VideoReader
from sphereapp.core.recognition.geometry import match_boxes
from sphereapp.core.recognition.search import FAST_MOVE, detect_keyframes, typical_move
from sphereapp.core.vision.detect import FaceDetector

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"
BATCH = 9  # keyframes per call: scanned, searched, ..., scanned


def near_any(box: np.ndarray, others: np.ndarray) -> bool:
    """Whether a box of `others` has its centre within one width of `box`'s centre."""
    if not len(others):
        return False
    centre, width = (box[:2] + box[2:]) / 2, box[2] - box[0]
    return bool(np.min(np.linalg.norm((others[:, :2] + others[:, 2:]) / 2 - centre, axis=1)) <= width)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--every", type=int, default=4, help="frames between keyframes (default: 4)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    if args.every < 1:
        sys.exit("--every must be at least 1")
    detector = FaceDetector()
    with VideoReader(args.video) as reader:
        keyframes = list(itertools.islice(reader, 0, None, args.every))
    figures = dict(searched_keyframes=0, scanned_for_fast_motion=0, faces_a_scan_finds=0, found_by_search=0,
                   missed=0, missed_on_neither_scan=0, found_by_search_only=0)
    for start in range(0, len(keyframes) - 2, BATCH - 1):  # consecutive batches share their end scans
        batch = keyframes[start:start + BATCH]
        if len(batch) % 2 == 0:
            batch = batch[:-1]
        scanned = [k % 2 == 0 for k in range(len(batch))]
        found = detect_keyframes(detector, batch, scanned)
        searched = [k for k in range(len(batch)) if not scanned[k]]
        reference = detector.detect([batch[k].image for k in searched])
        for k, truth in zip(searched, reference):
            before, after = found[k - 1].boxes, found[k + 1].boxes
            figures["searched_keyframes"] += 1
            figures["scanned_for_fast_motion"] += typical_move(before, after) > FAST_MOVE
            pairs = dict(match_boxes(truth.boxes, found[k].boxes, 0.5))
            figures["faces_a_scan_finds"] += len(truth)
            figures["found_by_search"] += len(pairs)
            figures["found_by_search_only"] += len(found[k]) - len(pairs)
            for i, box in enumerate(truth.boxes):
                if i not in pairs:
                    figures["missed"] += 1
                    figures["missed_on_neither_scan"] += not (near_any(box, before) or near_any(box, after))
    print(f"{args.video.name}, a keyframe every {args.every} frames, every 2nd one scanned:")
    for name, value in figures.items():
        print(f"  {name.replace('_', ' ')}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"video": str(args.video), "every": args.every} | figures, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
