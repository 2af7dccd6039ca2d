"""sphereapp's batched MTCNN cascade (core/vision/mtcnn.py) against facenet-pytorch's `MTCNN.detect`: same faces? how fast?

Runs both on the same batches of frames of the shared videos, the group photo and a sample of LFW photos; pairs
their faces by box IoU and prints per source: faces found by each, faces paired, mean and least IoU, the largest
landmark and score differences, and milliseconds per image of each. Boxes of both are clipped to the image.

    python scripts/compare_mtcnn.py [--data ../shared/data] [--batch 8]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from sphereapp.benchmark import NAIVE_INSTALL
from sphereapp.core.media.video import VideoReader
from sphereapp.core.recognition.geometry import box_iou, match_boxes
from sphereapp.core.vision.detect import FaceDetector

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def compare(name: str, images: list[np.ndarray], reference, ours: FaceDetector, batch: int) -> None:
    """Print how the two detectors agree on `images` and how fast each is."""
    found = {"facenet": 0, "sphereapp": 0}
    ious, landmark_errors, score_errors = [], [], []
    seconds = {"facenet": 0.0, "sphereapp": 0.0}
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        began = time.perf_counter()
        boxes, scores, points = reference.detect(np.stack(chunk), landmarks=True)
        seconds["facenet"] += time.perf_counter() - began
        began = time.perf_counter()
        detections = ours.detect(chunk)
        seconds["sphereapp"] += time.perf_counter() - began
        for image, ref_boxes, ref_scores, ref_points, mine in zip(chunk, boxes, scores, points, detections):
            ref_boxes = np.zeros((0, 4)) if ref_boxes is None else ref_boxes[:, :4].copy()
            ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clip(0, image.shape[1])
            ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clip(0, image.shape[0])
            found["facenet"] += len(ref_boxes)
            found["sphereapp"] += len(mine)
            for i, j in match_boxes(ref_boxes, mine.boxes, 0.3):
                ious.append(box_iou(ref_boxes[i], mine.boxes[j])[0, 0])
                landmark_errors.append(np.abs(ref_points[i] - mine.landmarks[j]).max())
                score_errors.append(abs(ref_scores[i] - mine.scores[j]))
    n = len(images)
    print(f"{name}: {n} images; faces facenet {found['facenet']}, sphereapp {found['sphereapp']}, paired {len(ious)}; "
          f"IoU mean {np.mean(ious):.4f}, least {np.min(ious):.3f}; largest landmark difference "
          f"{np.max(landmark_errors):.3f} px, score {np.max(score_errors):.1e}; ms an image: facenet "
          f"{seconds['facenet'] / n * 1000:.1f}, sphereapp {seconds['sphereapp'] / n * 1000:.1f}", flush=True)


def video_frames(path: Path, count: int, step: int, height: int | None = None) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        frames = [frame.image for frame in itertools.islice(reader, 0, count * step, step)]
    if height is None:
        return frames
    width = round(frames[0].shape[1] * height / frames[0].shape[0])
    return [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in frames]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--batch", type=int, default=8, help="images per detector call")
    args = parser.parse_args()
    if not (args.data / "video").is_dir():
        sys.exit(f"shared data not found: {args.data}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from facenet_pytorch import MTCNN
        except ImportError:
            sys.exit(f"facenet-pytorch is not installed (sphereapp does not need it; to compare: {NAIVE_INSTALL})")
        reference = MTCNN(keep_all=True, post_process=False)
    ours = FaceDetector()
    ours.detect(video_frames(args.data / "video" / "hikers_walking_640x480.mp4", 2, 1))  # warm-up
    hikers = args.data / "video" / "hikers_walking_640x480.mp4"
    compare("hikers 640x480", video_frames(hikers, 52, 10), reference, ours, args.batch)
    compare("hikers 480x360", video_frames(hikers, 52, 10, 360), reference, ours, args.batch)
    compare("marathon 960x540", video_frames(args.data / "video" / "marathon_crowd_960x540.mp4", 30, 10),
            reference, ours, min(args.batch, 4))
    group = np.asarray(Image.open(args.data / "photos" / "race_group_640x428.jpg").convert("RGB"))
    compare("group photo", [group], reference, ours, 1)
    lfw = sorted((args.data / "lfw").glob("*/*.jpg"))[::60][:200]
    compare("LFW sample", [np.asarray(Image.open(p).convert("RGB")) for p in lfw], reference, ours, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
