"""Whole-file writes: a temporary file beside the target, renamed over it only once it is complete."""

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError


def temporary_beside(path: Path) -> Path:
    """A hidden, unique name in `path`'s folder with the same suffix (`.<stem>.<random>.tmp<suffix>`)."""
    return path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` when the block succeeds, remove it otherwise.

    Readers see the old file or the new one, never a partial one (os.replace is atomic within a folder).
    """
    path = Path(path)
    temporary = temporary_beside(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """np.save `array` to exactly `path` (through a handle: np.save adds .npy to a name without it), via replacing."""
    with replacing(path) as temporary, temporary.open("xb") as handle:
        np.save(handle, array)


def write_json_atomic(path: str | Path, data: dict, indent: int | None = None) -> None:
    """Write JSON to a temp file beside `path`, then rename it into place; InputError when that fails (disk full)."""
    path = Path(path)
    try:
        with replacing(path) as temporary, temporary.open("x", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=indent)
    except OSError as error:
        raise InputError(f"cannot write '{path}': {error.strerror or error}") from error
