"""The gallery store: enrolled people in an SQLite file, one transaction per change."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.locations import app_data_dir
from sphereapp.core.media.annotate import Color, identity_color

if TYPE_CHECKING:  # only for annotations: the store works without torch
    from sphereapp.core.vision.embed import Embedder

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 3.0  # how long a write waits for another sphereapp holding the gallery before giving up


def default_gallery_path() -> Path:
    """The user's own gallery file: <app data folder>/gallery.sqlite."""
    return app_data_dir() / "gallery.sqlite"


def clean_name(name: str) -> str:
    """An identity name without surrounding whitespace; an empty one is refused."""
    cleaned = name.strip()
    if not cleaned:
        raise InputError("the name is empty: give the person a name")
    return cleaned


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

