"""The gallery: enrolled people in an SQLite file, in-memory snapshots for matching, and enrolment from photos."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from sphereapp.core.align import align_face
from sphereapp.core.annotate import identity_color
from sphereapp.core.errors import InputError, NoFaceError
from sphereapp.core.images import read_image_rgb
from sphereapp.core.locations import app_data_dir
from sphereapp.core.quality import face_warnings, lookalike_warnings

if TYPE_CHECKING:
    from sphereapp.core.detect import Detections, FaceDetector
    from sphereapp.core.embed import Embedder

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
OTHER_PHOTO_SUFFIXES = (".heic", ".heif", ".avif", ".jxl", ".tif", ".tiff", ".gif")  # photos, but not enrolled
LOCK_TIMEOUT_S = 3.0  # how long a write waits for another sphereapp holding the gallery before giving up
MAX_PHOTO_SIDE = 4096  # larger photos are shrunk before detection: MTCNN on 80 megapixels needs gigabytes

Color = tuple[int, int, int]


# ---------------------------------------------------------------------------------------------------------------
# Where the gallery lives, and what a name may be


def default_gallery_path() -> Path:
    """The user's own gallery file: <app data folder>/gallery.sqlite."""
    return app_data_dir() / "gallery.sqlite"


def clean_name(name: str) -> str:
    """An identity name without surrounding whitespace; an empty one is refused."""
    cleaned = name.strip()
    if not cleaned:
        raise InputError("the name is empty: give the person a name")
    return cleaned


# ---------------------------------------------------------------------------------------------------------------
# The SQLite store


@dataclass(frozen=True, eq=False)
class Identity:
    """One enrolled person as stored: colour (RGB), aligned crop, embedding and the model that computed it."""

    id: int
    name: str
    color: Color
    crop: np.ndarray  # (112, 96, 3) uint8 RGB
    embedding: np.ndarray  # (D,) float32
    model_id: str
    source: str


def _create_version_1(conn: sqlite3.Connection) -> None:
    """Version 0 (a new, empty file) -> 1: the identities table."""
    conn.execute(
        """CREATE TABLE identities (
            id INTEGER PRIMARY KEY,
            name TEXT UNIQUE NOT NULL,
            color TEXT,
            crop BLOB,
            embedding BLOB,
            dim INTEGER,
            model_id TEXT,
            source TEXT,
            created REAL
        )"""
    )


# MIGRATIONS[v] turns a version-v file into version v + 1 (PRAGMA user_version); append one step per new version.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_version_1,)
SCHEMA_VERSION = len(MIGRATIONS)

# What an SQLite failure (primary result code) means for the user; other failures are bugs and propagate.
_SQLITE_PROBLEMS = {
    "SQLITE_BUSY": "is locked by another sphereapp; close it and try again",
    "SQLITE_LOCKED": "is locked by another sphereapp; close it and try again",
    "SQLITE_READONLY": "is read-only; it can be used for recognition but not changed",
    "SQLITE_NOTADB": "is not a sphereapp gallery (not an SQLite database)",
    "SQLITE_CORRUPT": "is damaged (corrupt SQLite database)",
    "SQLITE_CANTOPEN": "cannot be opened (missing folder or no permission)",
    "SQLITE_FULL": "cannot be changed: the disk is full",
    "SQLITE_IOERR": "cannot be read or written (input/output error)",
}


class GalleryStore:
    """Enrolled identities in one SQLite file (WAL journal); every change is one transaction.

    A second sphereapp writing at the same time waits up to `timeout` seconds, then gets an InputError. A file
    without write permission (or `read_only=True`) is opened read-only: reading works, changes raise InputError.
    """

    def __init__(self, path: str | Path, *, read_only: bool | None = None, timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        if read_only is None:
            read_only = self.path.exists() and not os.access(self.path, os.W_OK)
        self.read_only = read_only
        target = f"{self.path.resolve().as_uri()}?mode=ro" if read_only else str(self.path)
        with self._explained_errors():
            self._conn = sqlite3.connect(target, uri=read_only, timeout=timeout, isolation_level=None)
        try:
            with self._explained_errors():
                if not read_only:
                    self._conn.execute("PRAGMA journal_mode = WAL")
                self._upgrade()
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def add(self, name: str, crop: np.ndarray, embedding: np.ndarray, model_id: str, source: str = "") -> Identity:
        """Store a new identity; its colour is fixed now (from the name, apart from the others') and kept across
        renames."""
        name = clean_name(name)
        crop = np.ascontiguousarray(crop)
        if crop.shape != (112, 96, 3) or crop.dtype != np.uint8:
            raise ValueError(f"expected a uint8 (112, 96, 3) crop, got {crop.dtype} {crop.shape}")
        embedding = np.asarray(embedding, dtype=np.float32)
        if embedding.ndim != 1:
            raise ValueError(f"expected a (D,) embedding, got shape {embedding.shape}")
        with self._transaction() as conn:
            self._require_free(conn, name)
            taken = [_parse_color(text) for (text,) in conn.execute("SELECT color FROM identities")]
            color = identity_color(name, taken)
            cursor = conn.execute(
                "INSERT INTO identities (name, color, crop, embedding, dim, model_id, source, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, _color_text(color), _encode_crop(crop), embedding.tobytes(), embedding.size, model_id,
                 source, time.time()),
            )
        return Identity(cursor.lastrowid, name, color, crop.copy(), embedding.copy(), model_id, source)

    def remove(self, name: str) -> None:
        """Delete the identity with this name."""
        name = clean_name(name)
        with self._transaction() as conn:
            if conn.execute("DELETE FROM identities WHERE name = ?", (name,)).rowcount == 0:
                raise InputError(f"'{name}' is not in the gallery")

    def rename(self, old: str, new: str) -> None:
        """Give an identity a new name; its colour, crop and embedding stay."""
        old, new = clean_name(old), clean_name(new)
        with self._transaction() as conn:
            if new != old:
                self._require_free(conn, new)
            if conn.execute("UPDATE identities SET name = ? WHERE name = ?", (new, old)).rowcount == 0:
                raise InputError(f"'{old}' is not in the gallery")

    def identities(self) -> list[Identity]:
        """Every stored identity, in enrolment order."""
        with self._explained_errors():
            rows = self._conn.execute(
                "SELECT id, name, color, crop, embedding, model_id, source FROM identities ORDER BY id"
            ).fetchall()
        return [
            Identity(row_id, name, _parse_color(color), _decode_crop(crop),
                     np.frombuffer(embedding, np.float32).copy(), model_id, source)
            for row_id, name, color, crop, embedding, model_id, source in rows
        ]

    def refresh_embeddings(self, embedder: Embedder) -> int:
        """Re-embed, from the stored crops, every identity embedded by another model; returns how many changed."""
        model_id = embedder.info.model_id
        with self._explained_errors():
            stale = self._conn.execute(
                "SELECT id, crop FROM identities WHERE model_id IS NOT ? ORDER BY id", (model_id,)
            ).fetchall()
        if not stale:
            return 0
        embeddings = np.asarray(embedder.embed(np.stack([_decode_crop(crop) for _, crop in stale])), np.float32)
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE identities SET embedding = ?, dim = ?, model_id = ? WHERE id = ?",
                [(vector.tobytes(), vector.size, model_id, row_id) for (row_id, _), vector in zip(stale, embeddings)],
            )
        log.info("re-embedded %d gallery identities with model %s", len(stale), model_id)
        return len(stale)

    def _upgrade(self) -> None:
        """Bring the file to SCHEMA_VERSION, one MIGRATIONS step at a time; refuse newer or foreign files."""
        version = _user_version(self._conn)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise InputError(
                f"gallery '{self.path}' was written by a newer sphereapp (format {version}, this one reads up to"
                f" {SCHEMA_VERSION}); update sphereapp"
            )
        if version == 0 and self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise InputError(f"gallery '{self.path}' is another program's SQLite database, not a sphereapp gallery")
        if self.read_only:
            raise InputError(f"gallery '{self.path}' is read-only but must be upgraded to this sphereapp's format"
                             f" (from {version} to {SCHEMA_VERSION}); make it writable once")
        with self._transaction() as conn:
            for step in MIGRATIONS[_user_version(conn):]:  # read again under the lock: another instance may be done
                step(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock at once: committed at the end, rolled back if it raises."""
        with self._explained_errors(), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            yield self._conn

    @contextmanager
    def _explained_errors(self) -> Iterator[None]:
        """Turn SQLite failures the user can act on (locked, read-only, not a database...) into InputError."""
        try:
            yield
        except sqlite3.Error as exc:
            primary_code = "_".join(getattr(exc, "sqlite_errorname", "").split("_")[:2])
            if primary_code not in _SQLITE_PROBLEMS:
                raise
            raise InputError(f"gallery '{self.path}' {_SQLITE_PROBLEMS[primary_code]}") from exc

    @staticmethod
    def _require_free(conn: sqlite3.Connection, name: str) -> None:
        if conn.execute("SELECT 1 FROM identities WHERE name = ?", (name,)).fetchone():
            raise InputError(f"'{name}' is already in the gallery; remove it first or choose another name")


def _user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _encode_crop(crop: np.ndarray) -> bytes:
    """RGB crop -> PNG bytes (lossless, so the crop reads back exactly)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not PNG-encode the face crop")
    return png.tobytes()


def _decode_crop(png: bytes) -> np.ndarray:
    """PNG bytes -> RGB uint8 crop."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _color_text(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def _parse_color(text: str) -> Color:
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def enrols(path: Path) -> bool:
    """Whether a dropped or given path is for enrolment: a folder, or a photo of any type (see `photo_files`)."""
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES + OTHER_PHOTO_SUFFIXES


def photo_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """The photos to enrol among files and folders (a folder gives the files directly inside it, sorted by name),
    and the photos of other types (HEIC, TIFF, ...) among them, which are not read. Other files are left out."""
    files: list[Path] = []
    for path in paths:
        try:
            files.extend(sorted(child for child in path.iterdir() if child.is_file()) if path.is_dir() else [path])
        except OSError as exc:
            raise InputError(f"cannot read the folder '{path}': {exc.strerror or exc}") from exc
    photos = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    return photos, [path for path in files if path.suffix.lower() in OTHER_PHOTO_SUFFIXES]


# ---------------------------------------------------------------------------------------------------------------
# Snapshots used for matching


@dataclass(frozen=True, eq=False)
class Gallery:
    """What matching needs: row i of `embeddings` is `names[i]`, drawn in `colors[i]` (RGB)."""

    names: list[str]
    colors: list[Color]
    embeddings: np.ndarray  # (M, D) float32, L2-normalised rows

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_store(cls, store: GalleryStore, embedder: Embedder) -> Gallery:
        """Every stored identity, first re-embedded where another model computed it."""
        store.refresh_embeddings(embedder)
        identities = store.identities()
        if not identities:
            return cls([], [], np.zeros((0, embedder.info.embedding_size), np.float32))
        return cls(
            [identity.name for identity in identities],
            [identity.color for identity in identities],
            np.stack([identity.embedding for identity in identities]),
        )

    @classmethod
    def from_folder(cls, folder: str | Path, enroller: Enroller) -> Gallery:
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
        return cls(names, colors, np.stack(embeddings).astype(np.float32))


def open_gallery(spec: str | Path, enroller: Enroller, embedder: Embedder) -> Gallery:
    """A gallery from a folder of photos or from a store file (re-embedded for `embedder` where needed)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return Gallery.from_folder(path, enroller)
    if path.is_file():
        with GalleryStore(path) as store:
            return Gallery.from_store(store, embedder)
    raise InputError(f"gallery '{spec}' not found: give a gallery file (.sqlite) or a folder of photos")


# ---------------------------------------------------------------------------------------------------------------
# Enrolment from a photo


@dataclass(frozen=True, eq=False)
class Enrolment:
    """The face chosen in one photo: its aligned crop, embedding, box, how many faces there were, and warnings
    (several faces; a small, blurred or turned face: core/quality.py)."""

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
        n_faces = len(detections.boxes)
        from sphereapp.core.detect import primary_face  # here: detect imports torch, which the store never needs

        chosen = primary_face(detections.boxes, image.shape[:2])
        enrolment = self.enrol_face(image, detections.boxes[chosen], detections.landmarks[chosen])
        notes = [f"{n_faces} faces found in '{Path(path).name}'; using the largest"] if n_faces > 1 else []
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
