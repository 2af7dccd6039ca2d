"""Can dlib teach from a bank's 112x112 ArcFace crops? Its descriptor of such crops of an LFW folder's pairs,
scored with the 10-fold protocol, to set beside `sphereapp-train eval lfw-teacher --teacher dlib` on the full images.

    python scripts/dlib_on_crops.py .data/holdout10      (needs the '.[teacher]' extra)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sphereapp.core.vision.align import WIDE_CROP_SIZE, align_face
from sphereapp.core.vision.detect import FaceDetector
from training.evaluation import evaluate_pairs
from training.evaluation.lfw import read_lfw_pairs
from training.prepare import aligned_crop, primary_detections
from training.teacher import DlibCropTeacher, read_images


def crop_descriptors(paths: list[Path], detector: FaceDetector, teacher: DlibCropTeacher) -> np.ndarray:
    """dlib descriptors of the 112x112 ArcFace crops of image files (as a bank holds them)."""
    images = read_images(paths, 2)
    faces = primary_detections(images, detector)
    crops = [aligned_crop(image, WIDE_CROP_SIZE[1]) if face is None else align_face(image, face[1], WIDE_CROP_SIZE[1])
             for image, face in zip(images, faces)]
    return teacher.embed(np.stack(crops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lfw", type=Path, help="LFW folder with pairs.txt")
    args = parser.parse_args()
    pairs = read_lfw_pairs(args.lfw / "pairs.txt")
    detector, teacher = FaceDetector(), DlibCropTeacher()
    report = evaluate_pairs(pairs.pairs, pairs.same, pairs.folds,
                            lambda paths: crop_descriptors(paths, detector, teacher))
    print(f"dlib on 112x112 ArcFace crops: {100 * report.accuracy:.2f}% +- {100 * report.std:.2f}, "
          f"AUC {report.auc:.4f}")


if __name__ == "__main__":
    main()
