"""Verification pair lists: the shared container and the CSV reader (`path1,path2,same`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError

CSV_HEADER = ["path1", "path2", "same"]


@dataclass(frozen=True)
class VerificationPairs:
    """Image pairs with their same-identity flags (bool (N,)) and fold indices (int (N,))."""

    pairs: list[tuple[Path, Path]]
    same: np.ndarray
    folds: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)


def require_images(pairs: list[tuple[Path, Path]], source: Path) -> None:
    """Raise InputError naming the first missing image when any image of `pairs` is not a file."""
    missing = sorted({str(p) for pair in pairs for p in pair if not p.is_file()})
    if missing:
        raise InputError(f"{source}: {len(missing)} image(s) not found, e.g. '{missing[0]}'")


def require_both_classes(same: np.ndarray, source: Path) -> None:
    """Raise InputError unless there are both same and different pairs."""
    if same.all() or not same.any():
        raise InputError(f"{source}: needs both same (1) and different (0) pairs")


def read_pairs_csv(path: str | Path, n_folds: int = 10) -> VerificationPairs:
    """Read a `path1,path2,same` CSV (header required; paths relative to the CSV's folder or absolute).

    Folds follow row order with np.array_split semantics (the first folds take the remainder).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read pairs file '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    if not rows or [cell.strip().lower() for cell in rows[0]] != CSV_HEADER:
        raise InputError(f"{path}: the first line must be the header 'path1,path2,same'")
    pairs, same = [], []
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        if len(cells) != 3 or not cells[0] or not cells[1] or cells[2] not in ("0", "1"):
            got = ",".join(row)
            raise InputError(f"{path}:{line_number}: expected 'path1,path2,same' with same 1 or 0, got {got!r}")
        pairs.append((path.parent / cells[0], path.parent / cells[1]))  # an absolute path replaces the folder
        same.append(cells[2] == "1")
    if len(pairs) < n_folds:
        raise InputError(f"{path}: {len(pairs)} pairs is too few for {n_folds}-fold evaluation")
    same_flags = np.array(same, dtype=bool)
    require_both_classes(same_flags, path)
    require_images(pairs, path)
    folds = np.concatenate(
        [np.full(chunk.size, k) for k, chunk in enumerate(np.array_split(np.arange(len(pairs)), n_folds))]
    )
    return VerificationPairs(pairs, same_flags, folds)
