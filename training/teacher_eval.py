"""`sphereapp-train eval lfw-teacher`: a distillation teacher on LFW View 2 (or a pairs CSV), our 10-fold protocol.

dlib: its plain 128-d descriptors (dlib's own protocol; no flip concatenation) of the face MTCNN finds in each
image. MobileFaceNet: the sum of its embeddings of the 112x112 ArcFace crop and its mirror (its authors' protocol).
Both scored by `evaluate_pairs` (wy1iu evaluation.m: per-fold mean subtraction, cosine, threshold from the other
9 folds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.vision.align import WIDE_CROP_SIZE, align_face
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.device import resolve_device
from training.evaluation import VerificationPairs, VerificationReport, evaluate_pairs
from training.evaluation.lfw import read_lfw_pairs
from training.evaluation.pairs import read_pairs_csv
from training.prepare import aligned_crop, primary_detections
from training.teacher import DlibTeacher, embed_files, read_images
from training.teacher_mobilefacenet import MobileFaceNetTeacher

CHUNK = 64


def subsample_pairs(pairs: VerificationPairs, per_fold: int) -> VerificationPairs:
    """The first per_fold/2 same and per_fold/2 different pairs of every fold (a quick check; order kept)."""
    keep = []
    for fold in np.unique(pairs.folds):
        for same in (True, False):
            keep += list(np.flatnonzero((pairs.folds == fold) & (pairs.same == same))[:per_fold // 2])
    keep = sorted(keep)
    return VerificationPairs([pairs.pairs[i] for i in keep], pairs.same[keep], pairs.folds[keep])


def mobilefacenet_files(paths: list[Path], teacher: MobileFaceNetTeacher, detector: FaceDetector,
                        workers: int = 2) -> tuple[np.ndarray, int]:
    """Flip-summed MobileFaceNet embeddings of image files (MTCNN + ArcFace alignment; no face found: the image
    is taken as an aligned crop), and how many fell back."""
    images = read_images(paths, workers)
    faces = primary_detections(images, detector)
    crops = np.stack([aligned_crop(image, WIDE_CROP_SIZE[1]) if face is None
                      else align_face(image, face[1], WIDE_CROP_SIZE[1]) for image, face in zip(images, faces)])
    return teacher.embed(crops) + teacher.embed(np.ascontiguousarray(crops[:, :, ::-1])), sum(f is None for f in faces)


Teacher = DlibTeacher | MobileFaceNetTeacher


def teacher_features(paths: list[Path], teacher: Teacher, detector: FaceDetector, facts: dict,
                     workers: int = 2) -> np.ndarray:
    """(N, 128) L2-normalised teacher embeddings of image files; adds images, no_face_found, seconds to `facts`."""
    embed = mobilefacenet_files if isinstance(teacher, MobileFaceNetTeacher) else embed_files
    started, parts = time.perf_counter(), []
    for start in tqdm(range(0, len(paths), CHUNK), desc="teacher", unit="chunk"):
        embeddings, fallbacks = embed(paths[start:start + CHUNK], teacher, detector, workers=workers)
        parts.append(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True))
        facts["no_face_found"] = facts.get("no_face_found", 0) + fallbacks
    facts["images"] = facts.get("images", 0) + len(paths)
    facts["seconds"] = facts.get("seconds", 0.0) + time.perf_counter() - started
    return np.concatenate(parts)


def make_teacher(kind: str, model_dir: Path) -> Teacher:
    """The named teacher: 'dlib' or 'mobilefacenet' (read from `model_dir`)."""
    return DlibTeacher() if kind == "dlib" else MobileFaceNetTeacher(model_dir)


def evaluate_teacher(pairs: VerificationPairs, teacher: Teacher, detector: FaceDetector,
                     workers: int = 2) -> tuple[VerificationReport, dict]:
    """The teacher's verification report on `pairs`, and timing / detection facts."""
    facts: dict = {}
    report = evaluate_pairs(pairs.pairs, pairs.same, pairs.folds,
                            lambda paths: teacher_features(paths, teacher, detector, facts, workers))
    facts["seconds_per_image"] = facts["seconds"] / max(1, facts["images"])
    return report, facts


def add_lfw_teacher_parser(protocols: argparse._SubParsersAction) -> None:
    """Register the `lfw-teacher` protocol of `eval`."""
    p = protocols.add_parser("lfw-teacher", help="a distillation teacher on LFW View 2 (needs '.[teacher]')",
                             description="A teacher's embedding of the MTCNN face of each image (dlib: plain "
                                         "descriptor; MobileFaceNet: flip-summed), scored with the same 10-fold "
                                         "protocol as 'eval lfw' (or 'eval pairs' for a CSV).")
    p.add_argument("--lfw", type=Path, help="LFW folder (<name>/<name>_NNNN.jpg)")
    p.add_argument("--pairs", type=Path,
                   help="pairs.txt (default: LFW_DIR/pairs.txt), or a path1,path2,same CSV as 'eval pairs' reads")
    p.add_argument("--teacher", choices=("dlib", "mobilefacenet"), default="dlib", help="which teacher (default: dlib)")
    p.add_argument("--teacher-dir", type=Path, default=Path("../shared/teachers/mobilefacenet_ms1m"),
                   help="MobileFaceNet's folder (default: ../shared/teachers/mobilefacenet_ms1m)")
    p.add_argument("--pairs-per-fold", type=int, metavar="N",
                   help="only the first N/2 same and N/2 different pairs of each fold (a quick check)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the report as JSON")
    p.add_argument("--device", default="auto", help="face detector device: auto, cpu, cuda (default: auto)")
    p.add_argument("--workers", type=int, default=2, help="image-decoding threads (default: 2)")
    p.set_defaults(run=run_lfw_teacher)


def run_lfw_teacher(args: argparse.Namespace) -> int:
    if args.pairs is not None and args.pairs.suffix.lower() == ".csv":
        pairs = read_pairs_csv(args.pairs)
    elif args.lfw is None:
        raise InputError("pass --lfw LFW_DIR, or --pairs with a pairs CSV")
    else:
        pairs = read_lfw_pairs(args.pairs or args.lfw / "pairs.txt", args.lfw)
    if args.pairs_per_fold:
        pairs = subsample_pairs(pairs, args.pairs_per_fold)
    teacher = make_teacher(args.teacher, args.teacher_dir)
    report, facts = evaluate_teacher(pairs, teacher, FaceDetector(device=resolve_device(args.device)), args.workers)
    tar = ", ".join(f"TAR@FAR={far}: {value:.4f}" for far, value in report.tar_at_far.items())
    print(f"{teacher.name}: accuracy {100 * report.accuracy:.2f}% ± {100 * report.std:.2f} (10-fold, "
          f"{report.n_pairs} pairs); {tar}; AUC {report.auc:.4f}; EER {report.eer:.4f}; best threshold "
          f"{report.threshold:.3f}; {facts['seconds_per_image']:.3f} s/image over {facts['images']} images "
          f"({facts['no_face_found']} without a detected face: assumed it fills the image)")
    if args.json:
        data = json.loads(report.to_json())
        features = "plain 128-d descriptor" if args.teacher == "dlib" else "flip-summed 128-d embedding"
        data.update(teacher=teacher.name, features=features, **facts)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0
