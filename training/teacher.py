"""Distillation teacher: dlib's ResNet face descriptor (weights CC0; LFW 99.38% as its authors report).

dlib finds 5 landmarks with its shape predictor inside a face rectangle, cuts a 150x150 chip
(`get_face_chip`, padding 0.25) and maps it to a 128-d descriptor. The rectangle comes from OUR detector
(MTCNN), not dlib's HOG detector, which misses profiles: `dlib_rectangle_box` turns an MTCNN box into the
square box dlib's predictor was trained with. Install with `pip install '.[teacher]'` (CPU wheels, ~100 MB).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path

import numpy as np

from sphereapp.core.errors import SphereappError
from sphereapp.core.media.images import read_image_rgb
from sphereapp.core.vision.detect import FaceDetector
from training.prepare import primary_detections

TEACHER_NAME = "dlib_face_recognition_resnet_model_v1"
TEACHER_DIM = 128
MODELS_PACKAGE = "face_recognition_models"
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what the descriptor network was trained on (dlib dnn_face_recognition_ex)
# Fitted on 79 LFW images with both detectors: dlib's HOG box is a square of side 1.04 x the MTCNN box width,
# centred 0.02 widths right of and 0.058 heights below the MTCNN box centre. With this mapping the descriptor
# differs from the HOG-box one by 0.035 on average (Euclidean; the raw MTCNN box: 0.078; dlib's "same" < 0.6).
HOG_SIDE, HOG_SHIFT_X, HOG_SHIFT_Y = 1.04, 0.02, 0.058
# MTCNN box of a face that fills an aligned insightface 112x112 crop (median over 72 Glint360k crops), as
# fractions of the image: used where no face is detected (prepare kept such images as aligned crops).
FALLBACK_BOX = np.array([0.13, 0.10, 0.84, 1.0], np.float32)


def dlib_rectangle_box(box: np.ndarray) -> np.ndarray:
    """MTCNN box (x1, y1, x2, y2) -> the square box dlib's HOG detector would give for the same face."""
    x1, y1, x2, y2 = (float(v) for v in box)
    width, height = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 + HOG_SHIFT_X * width, (y1 + y2) / 2 + HOG_SHIFT_Y * height
    half = HOG_SIDE * width / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def fallback_box(image_size: tuple[int, int]) -> np.ndarray:
    """The MTCNN-style box assumed when no face is detected: the face fills the image as in an aligned crop."""
    height, width = image_size
    return FALLBACK_BOX * np.array([width, height, width, height], np.float32)


def _import_dlib():
    """dlib and the folder of its model files; SphereappError naming the install command when missing."""
    try:
        dlib = importlib.import_module("dlib")
        models = files(MODELS_PACKAGE) / "models"
    except ModuleNotFoundError as error:
        raise SphereappError(f"the dlib teacher needs {error.name}: pip install '.[teacher]'") from None
    for name in (SHAPE_PREDICTOR_FILE, DESCRIPTOR_FILE):
        if not (models / name).is_file():
            raise SphereappError(f"dlib model file '{name}' is missing from {MODELS_PACKAGE}: "
                                 "pip install --force-reinstall '.[teacher]'")
    return dlib, Path(str(models))


class DlibTeacher:
    """dlib's 128-d face descriptor of faces given by our detector's boxes (CPU)."""

    name = TEACHER_NAME
    dim = TEACHER_DIM

    def __init__(self):
        self._dlib, models = _import_dlib()
        self._landmarks = self._dlib.shape_predictor(str(models / SHAPE_PREDICTOR_FILE))
        self._descriptor = self._dlib.face_recognition_model_v1(str(models / DESCRIPTOR_FILE))

    def chip(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 150x150 RGB chip dlib aligns from its 5 landmarks found in `box` (our detector's box)."""
        x1, y1, x2, y2 = np.rint(dlib_rectangle_box(box)).astype(int).tolist()
        shape = self._landmarks(image, self._dlib.rectangle(x1, y1, x2, y2))
        return self._dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 L2-normalised descriptors of 150x150 chips (one batched dlib call)."""
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        descriptors = np.array(self._descriptor.compute_face_descriptor(list(chips)), np.float32)
        return descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True)

    def embed_images(self, rgb_images: Sequence[np.ndarray], boxes: np.ndarray) -> np.ndarray:
        """(N, 128) float32 L2-normalised descriptors: face `boxes[i]` (MTCNN x1,y1,x2,y2) of `rgb_images[i]`."""
        if len(rgb_images) != len(boxes):
            raise ValueError(f"{len(rgb_images)} images but {len(boxes)} boxes")
        return self.embed_chips([self.chip(image, box) for image, box in zip(rgb_images, boxes)])


class DlibCropTeacher:
    """dlib's descriptor of aligned crops such as a bank's views (`bank_teachers.add_teacher`): the face our
    detector finds in each crop, else the box an aligned crop's face fills."""

    name = TEACHER_NAME
    dim = TEACHER_DIM
    licence = "CC0 (dlib's face recognition model, via face-recognition-models)"

    def __init__(self):
        self._teacher, self._detector = DlibTeacher(), FaceDetector()

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(N, 128) unit descriptors of uint8 RGB crops (N, H, W, 3)."""
        images = [np.ascontiguousarray(crop) for crop in crops]
        boxes, _ = face_boxes(images, np.full((len(images), 4), np.nan, np.float32), self._detector)
        return self._teacher.embed_images(images, boxes)


def face_boxes(images: Sequence[np.ndarray], known: np.ndarray, detector: FaceDetector) -> tuple[np.ndarray, int]:
    """(N, 4) boxes: `known` rows where finite, else the detector's chosen face, else `fallback_box`; and how
    many fell back."""
    boxes = np.array(known, np.float32).reshape(len(images), 4)
    unknown = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if len(unknown) == 0:
        return boxes, 0
    faces = primary_detections([images[k] for k in unknown], detector)
    for k, face in zip(unknown, faces):
        boxes[k] = fallback_box(images[k].shape[:2]) if face is None else face[0]
    return boxes, sum(face is None for face in faces)


def read_images(paths: Sequence[Path], workers: int) -> list[np.ndarray]:
    """RGB images of `paths`, decoded on `workers` threads; InputError naming the first unreadable one."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        return list(pool.map(read_image_rgb, paths))


def embed_files(paths: Sequence[Path], teacher: DlibTeacher, detector: FaceDetector, known: np.ndarray | None = None,
                workers: int = 2) -> tuple[np.ndarray, int]:
    """Teacher descriptors (N, 128) of image files (boxes as in `face_boxes`; NaN/None: detect), and fallbacks."""
    images = read_images(paths, workers)
    known = np.full((len(paths), 4), np.nan, np.float32) if known is None else known
    boxes, fallbacks = face_boxes(images, known, detector)
    return teacher.embed_images(images, boxes), fallbacks
