"""Enrolment from photos: read, detect, pick the main face, align, embed; with hints about its quality."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError, NoFaceError
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.photos import IMAGE_SUFFIXES, photo_files
from sphereapp.core.identities.quality import face_warnings, lookalike_warnings
from sphereapp.core.identities.store import GalleryStore, Identity, clean_name
from sphereapp.core.media.annotate import Color, identity_color
from sphereapp.core.media.images import read_image_rgb
from sphereapp.core.vision.align import align_face
from sphereapp.core.vision.detect import Detections, FaceDetector, primary_face
from sphereapp.core.vision.embed import Embedder

log = logging.getLogger(__name__)

MAX_PHOTO_SIDE = 4096  # larger photos are shrunk before detection: MTCNN on 80 megapixels needs gigabytes


@dataclass(frozen=True, eq=False)
class Enrolment:
    """The face chosen in one photo: its aligned crop, embedding, box, how many faces there were, and warnings
    (several faces; a small, blurred or turned face: core/identities/quality.py)."""

    crop: np.ndarray  # (112, 96, 3) uint8 RGB
    embedding: np.ndarray  # (D,) float32
    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    n_faces: int
    warnings: list[str] = field(default_factory=list)


class Enroller:
    """Turns a photo of a person into a gallery entry: read, detect, pick the main face, align, embed."""

    def __init__(self, detector: FaceDetector, embedder: Embedder):
        self.detector = detector
        self.embedder = embedder

    def find_faces(self, path: str | Path) -> tuple[np.ndarray, Detections]:
        """The photo as RGB and every face the detector finds in it; NoFaceError when there is none."""
        path = Path(path)
        image = read_image_rgb(path, max_side=MAX_PHOTO_SIDE)
        detections = self.detector.detect([image])[0]
        if len(detections.boxes) == 0:
            raise NoFaceError(f"no face found in '{path}'")
        return image, detections

    def enrol_face(self, image: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> Enrolment:
        """One face already located in an RGB image (e.g. a video frame): aligned crop, embedding, quality hints."""
        crop = align_face(image, landmarks)
        embedding = np.asarray(self.embedder.embed(crop[None])[0], dtype=np.float32)
        return Enrolment(crop, embedding, np.asarray(box, np.float32).copy(), n_faces=1,
                         warnings=face_warnings(crop, landmarks))

    def enrol_image(self, path: str | Path) -> Enrolment:
        """The largest (most central) face of the photo; NoFaceError when the detector finds none."""
        image, detections = self.find_faces(path)
        return self._enrol_main_face(image, detections, f"'{Path(path).name}'")

    def enrol_picture(self, image: np.ndarray, label: str) -> Enrolment:
        """The largest (most central) face of an RGB image (e.g. an index thumbnail, called `label` in messages)."""
        detections = self.detector.detect([image])[0]
        if len(detections.boxes) == 0:
            raise NoFaceError(f"no face found in {label}")
        return self._enrol_main_face(image, detections, label)

    def _enrol_main_face(self, image: np.ndarray, detections: Detections, label: str) -> Enrolment:
        n_faces = len(detections.boxes)
        chosen = primary_face(detections.boxes, image.shape[:2])
        enrolment = self.enrol_face(image, detections.boxes[chosen], detections.landmarks[chosen])
        notes = [f"{n_faces} faces found in {label}; using the largest"] if n_faces > 1 else []
        return replace(enrolment, n_faces=n_faces, warnings=notes + enrolment.warnings)

    def enrol(self, store: GalleryStore, name: str, image_path: str | Path) -> Identity:
        """Enrol the main face of a photo under `name` (hints are logged)."""
        identity, warnings = add_enrolment(store, name, self.enrol_image(image_path), self.embedder, str(image_path))
        for warning in warnings:
            log.warning("%s: %s", image_path, warning)
        return identity


def add_enrolment(
    store: GalleryStore, name: str, enrolment: Enrolment, embedder: Embedder, source: str = ""
) -> tuple[Identity, list[str]]:
    """Store an enrolment under `name`; returns the identity and every hint: the enrolment's own, and one per
    enrolled person it looks like (cosine >= the model's threshold)."""
    enrolled = Gallery.from_store(store, embedder)
    identity = store.add(name, enrolment.crop, enrolment.embedding, embedder.info.model_id, source)
    threshold = embedder.info.threshold
    return identity, enrolment.warnings + lookalike_warnings(identity.name, enrolment.embedding, enrolled, threshold)


def gallery_from_folder(folder: str | Path, enroller: Enroller) -> Gallery:
    """One identity per photo in `folder`, named after the file ('Ada_Lovelace.jpg' -> 'Ada Lovelace').

    Photos that cannot be read or show no face are skipped with a logged warning.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"gallery folder '{folder}' does not exist")
    photos, unread = photo_files([folder])
    for path in unread:
        log.warning("gallery folder: skipping '%s': %s photos are not read (use %s)", path.name,
                    path.suffix.lower(), ", ".join(IMAGE_SUFFIXES))
    if not photos:
        raise InputError(f"gallery folder '{folder}' has no photos ({', '.join(IMAGE_SUFFIXES)})")
    names: list[str] = []
    embeddings: list[np.ndarray] = []
    for photo in photos:
        try:
            name = clean_name(photo.stem.replace("_", " "))
            if name in names:
                raise InputError(f"'{name}' is already enrolled from another photo")
            enrolment = enroller.enrol_image(photo)
        except InputError as exc:
            log.warning("gallery folder: skipping '%s': %s", photo.name, exc)
            continue
        for warning in enrolment.warnings:
            log.warning("gallery folder: %s: %s", photo.name, warning)
        names.append(name)
        embeddings.append(enrolment.embedding)
    if not names:
        raise InputError(f"no face could be enrolled from the {len(photos)} photos in '{folder}'")
    colors: list[Color] = []
    for name in names:
        colors.append(identity_color(name, colors))
    return Gallery(names, colors, np.stack(embeddings).astype(np.float32))


def open_gallery(spec: str | Path, enroller: Enroller, embedder: Embedder) -> Gallery:
    """A gallery from a folder of photos or from a store file (re-embedded for `embedder` where needed)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return gallery_from_folder(path, enroller)
    if path.is_file():
        with GalleryStore(path) as store:
            return Gallery.from_store(store, embedder)
    raise InputError(f"gallery '{spec}' not found: give a gallery file (.sqlite) or a folder of photos")

