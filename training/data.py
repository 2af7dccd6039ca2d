"""Prepared training data (crops.npy + list.tsv) and the deterministic batch plans that feed the training loop."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sphereapp.core.errors import InputError

CROPS_NAME = "crops.npy"
LIST_NAME = "list.tsv"
SUMMARY_NAME = "summary.json"
LIST_HEADER = ("index", "path", "label", "identity")


@dataclass(frozen=True)
class ListEntry:
    """One line of list.tsv: the crop's row in crops.npy, its source (relative path), label and person."""

    index: int
    path: str
    label: int
    identity: str


def read_json_or_empty(path: Path) -> dict:
    """A small JSON file (a summary or sidecar) as a dict; {} when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_list(path: Path) -> list[ListEntry]:
    """Parse list.tsv (header `index path label identity`)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or tuple(rows[0]) != LIST_HEADER:
        raise InputError(f"'{path}' is not a sphereapp-train list (expected header {' '.join(LIST_HEADER)})")
    return [ListEntry(int(index), source, int(label), name) for index, source, label, name in rows[1:]]


def write_list(path: Path, entries: list[ListEntry]) -> None:
    """Write list.tsv (tab-separated, with a header)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(LIST_HEADER)
        writer.writerows((e.index, e.path, e.label, e.identity) for e in entries)


class PreparedFaces(Dataset):
    """Aligned crops from `sphereapp-train prepare`: item i -> (uint8 (112,96,3) tensor, label, i)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        crops_path, list_path = self.root / CROPS_NAME, self.root / LIST_NAME
        if not crops_path.is_file() or not list_path.is_file():
            raise InputError(f"'{self.root}' is not prepared training data: run 'sphereapp-train prepare' first")
        entries = read_list(list_path)
        self.rows = np.array([e.index for e in entries], dtype=np.int64)
        self.labels = np.array([e.label for e in entries], dtype=np.int64)
        self.num_classes = int(self.labels.max()) + 1 if len(entries) else 0
        self._crops_path = crops_path
        self._crops: np.ndarray | None = None  # opened lazily, so each DataLoader worker maps its own view
        shape = np.load(crops_path, mmap_mode="r").shape
        if len(shape) != 4 or shape[1:] != (112, 96, 3) or (len(entries) and self.rows.max() >= shape[0]):
            raise InputError(f"'{crops_path}' does not match '{list_path}': prepare the data again")
        if len(entries) == 0:
            raise InputError(f"'{self.root}' holds no training images")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        if self._crops is None:
            self._crops = np.load(self._crops_path, mmap_mode="r")
        return torch.from_numpy(np.array(self._crops[self.rows[i]])), int(self.labels[i]), i

    def __getstate__(self) -> dict:
        """Pickle (for DataLoader workers) without the memory map: each worker maps the file itself."""
        return {**self.__dict__, "_crops": None}

    def summary(self) -> dict:
        """The prepare step's summary.json (empty when absent)."""
        path = self.root / SUMMARY_NAME
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class BatchPlan(Sampler[list[int]]):
    """Endless batches of dataset indices; batch b depends only on (seed, b), so a resume continues exactly.

    Uniform mode walks seeded permutations of the whole set, epoch after epoch. Balanced mode draws
    P = batch_size / K identities per batch (with probabilities `class_weights` when given), then K images of
    each (with replacement when a person has fewer than K). Under data parallelism the global batch is cut into `world_size` contiguous shards.
    """

    def __init__(self, labels: np.ndarray, batch_size: int, seed: int, start_batch: int = 0,
                 balanced: bool = False, samples_per_class: int = 4, rank: int = 0, world_size: int = 1,
                 class_weights: np.ndarray | None = None):
        if batch_size % world_size:
            raise InputError(f"batch size {batch_size} does not split evenly over {world_size} processes")
        self.labels = np.asarray(labels)
        self.batch_size = batch_size
        self.seed = seed
        self.start_batch = start_batch
        self.balanced = balanced
        self.samples_per_class = samples_per_class
        self.shard = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        self._by_class = [np.flatnonzero(self.labels == c) for c in range(int(self.labels.max()) + 1)]
        self._present = np.array([c for c, members in enumerate(self._by_class) if len(members)])
        self._present_p = None
        if class_weights is not None:
            weights = np.asarray(class_weights, np.float64)[self._present]
            self._present_p = weights / weights.sum()
        self._epoch_cache: tuple[int, np.ndarray] | None = None

    def __iter__(self) -> Iterator[list[int]]:
        batch = self.start_batch
        while True:
            yield self.global_batch(batch)[self.shard].tolist()
            batch += 1

    def global_batch(self, batch: int) -> np.ndarray:
        """Indices of global batch number `batch` (all processes together)."""
        return self._balanced_batch(batch) if self.balanced else self._uniform_batch(batch)

    def _uniform_batch(self, batch: int) -> np.ndarray:
        n = len(self.labels)
        positions = np.arange(batch * self.batch_size, (batch + 1) * self.batch_size)
        return np.array([self._epoch_order(p // n)[p % n] for p in positions], dtype=np.int64)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            self._epoch_cache = (epoch, np.random.default_rng([self.seed, 0, epoch]).permutation(len(self.labels)))
        return self._epoch_cache[1]

    def _balanced_batch(self, batch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1, batch])
        k = self.samples_per_class
        people = self.batch_size // k
        chosen = rng.choice(self._present, size=people, replace=people > len(self._present), p=self._present_p)
        picks = [rng.choice(self._by_class[c], size=k, replace=len(self._by_class[c]) < k) for c in chosen]
        return np.concatenate(picks).astype(np.int64)
