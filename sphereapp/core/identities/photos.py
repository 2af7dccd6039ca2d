"""Which files are photos to enrol: the types read, and the photo types left out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sphereapp.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
OTHER_PHOTO_SUFFIXES = (".heic", ".heif", ".avif", ".jxl", ".tif", ".tiff", ".gif")  # photos, but not enrolled


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
