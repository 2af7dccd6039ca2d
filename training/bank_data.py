"""Training batches from a bank: a view of each face, its class (or -1) and its teachers' embeddings of that view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sphereapp.core.errors import InputError
from sphereapp.core.vision.align import center_crop_112x112
from training.bank import Bank
from training.bank_select import Selection
from training.data import BatchPlan, read_json_or_empty


class BankFaces(Dataset):
    """Item `position * views + view` -> (uint8 (112,96,3) view as the student sees it, label, targets (sum D,)):
    each teacher's target of that view (view 0's for a view the teacher has none of), concatenated in the order
    of `teachers` (default: the bank's own teacher). Each teacher's targets are centred on their mean over the
    bank and normalised again: dlib's descriptors of two different people have a mean cosine of 0.83, a cone
    that relational distillation would copy into the student; MobileFaceNet's mean is near zero. `wide`: the
    view is the bank's whole (112,112,3) crop instead and the targets are empty (0,), for a teacher that embeds
    each view afresh (`ConsistentTeaching`)."""

    def __init__(self, bank_dir: str | Path, selection_path: str | Path, teachers: list[str] | None = None,
                 wide: bool = False):
        self.bank_dir, self.selection_path, self.wide = Path(bank_dir), Path(selection_path), wide
        bank = Bank.open(self.bank_dir)
        self.selection = Selection.load(selection_path, len(bank.rows))
        self.bank_teacher = bank.teacher
        self.teachers = list(teachers or [bank.teacher])
        targets = [bank.targets_of(name) for name in self.teachers]
        self.views = bank.views.shape[1]
        self.dims = [t.shape[2] for t in targets]
        self.centres = [_mean_target(t) for t in targets]
        self.licence = "; ".join(f"{bank.licence_of(name)}: distilled from {name}" for name in self.teachers
                                 if bank.licence_of(name))
        self.labels = self.selection.labels
        self.sources = np.array([bank.rows[row].source for row in self.selection.rows])
        self.num_classes = self.selection.num_classes
        self._targets: list[np.ndarray] | None = None  # mapped lazily, so each DataLoader worker maps its own
        self._views: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels) * self.views

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        if self._views is None:
            bank = Bank.open(self.bank_dir)
            self._views, self._targets = bank.views, [bank.targets_of(name) for name in self.teachers]
        position, view = divmod(item, self.views)
        row = self.selection.rows[position]
        crop = np.array(self._views[row, view])
        crop = crop if self.wide else center_crop_112x112(crop)
        target = (np.empty(0, np.float32) if self.wide else  # the teacher embeds a wide view afresh
                  np.concatenate([centred_on(t[row, view if view < t.shape[1] else 0], centre)
                                  for t, centre in zip(self._targets, self.centres)]).astype(np.float32))
        return torch.from_numpy(crop), int(self.labels[position]), torch.from_numpy(target)

    def describe(self) -> str:
        """One line for the model file: what the selection holds and where it came from."""
        labelled = int(np.sum(self.labels >= 0))
        about = read_json_or_empty(self.selection_path.with_suffix(".json"))
        left_out = (f"; {about['excluded_rows']} crops of excluded people and {about['screened_rows']} of screened "
                    "ones left out" if about.get("excluded_rows") or about.get("screened_rows") else "")
        return (f"{labelled} labelled crops of {self.num_classes} people + {len(self.labels) - labelled} "
                f"distillation-only crops, {self.views} views each, from bank '{self.bank_dir.as_posix()}'{left_out}")

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_views": None, "_targets": None}


def _mean_target(targets: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(D,) float64 mean of (N, K, D) memory-mapped targets, read a chunk of rows at a time."""
    total = sum(np.asarray(targets[start:start + chunk], np.float64).sum(axis=(0, 1))
                for start in range(0, len(targets), chunk))
    return total / (targets.shape[0] * targets.shape[1])


def centred_on(targets: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Teacher embeddings (..., D) moved by -`centre` and normalised again (float64)."""
    moved = np.asarray(targets, np.float64) - centre
    return moved / np.linalg.norm(moved, axis=-1, keepdims=True)


class BankPlan(Sampler[list[int]]):
    """Endless batches of BankFaces items; batch b depends only on (seed, b), so a resume continues exactly.

    Each batch holds `batch_size - unlabelled` labelled faces drawn as BatchPlan's balanced batches (P people x
    K faces) and `unlabelled` distillation-only faces drawn uniformly; every face comes as one random view.
    `source_share` {source: share} draws that share of the people from those with a face in that source
    (`sources`: each position's source), the rest from all the others, uniformly within each group.
    """

    def __init__(self, labels: np.ndarray, views: int, batch_size: int, unlabelled: int, seed: int,
                 start_batch: int = 0, samples_per_class: int = 4, sources: np.ndarray | None = None,
                 source_share: dict[str, float] | None = None):
        self.labelled = np.flatnonzero(labels >= 0)
        self.unlabelled = np.flatnonzero(labels < 0)
        self.unlabelled_count = unlabelled if len(self.unlabelled) else 0
        self.views, self.seed, self.start_batch = views, seed, start_batch
        weights = _class_weights(labels, sources, source_share) if source_share else None
        self.people = BatchPlan(labels[self.labelled], batch_size - self.unlabelled_count, seed, balanced=True,
                                samples_per_class=samples_per_class, class_weights=weights)

    def __iter__(self) -> Iterator[list[int]]:
        batch = self.start_batch
        while True:
            yield self.global_batch(batch).tolist()
            batch += 1

    def global_batch(self, batch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2, batch])
        positions = np.concatenate([self.labelled[self.people.global_batch(batch)],
                                    rng.choice(self.unlabelled, size=self.unlabelled_count)]).astype(np.int64)
        return positions * self.views + rng.integers(self.views, size=len(positions))


def _class_weights(labels: np.ndarray, sources: np.ndarray | None, share: dict[str, float]) -> np.ndarray:
    """Per-class draw weights giving each named source's people `share` of the draws; a person with faces in
    several named sources counts in the first one named."""
    if sources is None:
        raise InputError("a source share needs each face's source")
    if sum(share.values()) > 1 or min(share.values()) < 0:
        raise InputError(f"source shares must be >= 0 and add up to at most 1, not {share}")
    classes = int(labels.max()) + 1
    group = np.full(classes, len(share))
    for g, source in reversed(list(enumerate(share))):
        people = np.unique(labels[(sources == source) & (labels >= 0)])
        if not len(people):
            raise InputError(f"no labelled face comes from source '{source}'")
        group[people] = g
    shares = np.array([*share.values(), 1 - sum(share.values())])
    counts = np.bincount(group, minlength=len(shares))
    return shares[group] / np.maximum(counts[group], 1)
