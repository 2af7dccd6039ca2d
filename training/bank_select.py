"""Which bank rows a run trains on, and as whom: `sphereapp-train bank select` and `bank screen`.

A selection (`.npz`: `rows` int64, `labels` int64, -1 for a face used for distillation only) names the people of
the labelled sources as classes (joined across sources by `--same-person`, as `merge` does), uses every other
face (unlabelled sources, people with fewer than `min_images` faces) for distillation only, and leaves out the
excluded people and every person with a face that `screen` found too close to a held-out person.

`screen` guards a scored benchmark against people who appear under another name or none (CelebA identities are
numbers, UTKFace has no labels): with the teacher's flip-fused embeddings, it lists every candidate face whose
nearest held-out face is closer than the teacher's threshold at a low false-accept rate among held-out people.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.files import replacing
from training.bank import Bank, BankRow
from training.merge import read_same_person
from training.prepare import normalise_name, read_exclusions

SCREEN_HEADER = ("source", "path", "identity", "nearest", "score")


@dataclass(frozen=True)
class Selection:
    """Bank rows to train on and their class labels (-1: distillation only)."""

    rows: np.ndarray
    labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    def save(self, path: Path, about: dict) -> None:
        with replacing(path) as temporary, temporary.open("xb") as handle:
            np.savez(handle, rows=self.rows, labels=self.labels)
        path.with_suffix(".json").write_text(json.dumps(about, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, bank_rows: int) -> Selection:
        try:
            with np.load(path) as saved:
                selection = cls(saved["rows"].astype(np.int64), saved["labels"].astype(np.int64))
        except (OSError, KeyError, ValueError) as error:
            raise InputError(f"cannot read selection '{path}': {error}") from None
        if len(selection.rows) == 0 or selection.rows.max() >= bank_rows:
            raise InputError(f"selection '{path}' does not fit its bank ({bank_rows} rows): select again")
        return selection


def select(rows: list[BankRow], labelled: Iterable[str], unlabelled: Iterable[str], exclude: Path | None = None,
           same_person: Path | None = None, drop: Iterable[Path] = (), min_images: int = 2,
           drop_singletons: Iterable[str] = ()) -> tuple[Selection, dict]:
    """The selection and a summary of what it holds (people, faces, what was left out and why)."""
    labelled, unlabelled, drop_singletons = set(labelled), set(unlabelled), set(drop_singletons)
    unknown = (labelled | unlabelled | drop_singletons) - {r.source for r in rows}
    if unknown:
        raise InputError(f"the bank has no source named {', '.join(sorted(unknown))}")
    joined = {key: normalise_name(name) for key, name in read_same_person(same_person).items()} if same_person else {}
    excluded = {joined.get(name, name) for name in read_exclusions(exclude)} if exclude else set()
    dropped = {(r["source"], r["identity"]) for path in drop for r in read_screened(path)}

    def person(row: BankRow) -> str:
        key = normalise_name(row.identity)
        return joined.get(key, key)

    kept = [i for i, r in enumerate(rows) if r.source in labelled | unlabelled and person(r) not in excluded
            and (r.source, r.identity) not in dropped]
    counts = Counter(person(rows[i]) for i in kept if rows[i].source in labelled)
    people = sorted(p for p, n in counts.items() if n >= min_images)
    label_of = {p: k for k, p in enumerate(people)}
    chosen, labels = [], []
    for i in kept:
        row, key = rows[i], person(rows[i])
        if row.source in labelled and key not in label_of and row.source in drop_singletons:
            continue
        chosen.append(i)
        labels.append(label_of.get(key, -1) if row.source in labelled else -1)
    selection = Selection(np.array(chosen, np.int64), np.array(labels, np.int64))
    about = {"people": len(people), "labelled_faces": int(np.sum(selection.labels >= 0)),
             "distillation_only_faces": int(np.sum(selection.labels < 0)),
             "excluded_rows": sum(1 for r in rows if person(r) in excluded),
             "screened_rows": sum(1 for r in rows if (r.source, r.identity) in dropped), "labelled_sources": sorted(labelled),
             "unlabelled_sources": sorted(unlabelled), "min_images": min_images,
             "singletons_dropped_from": sorted(drop_singletons)}
    return selection, about


def read_screened(path: Path) -> list[dict]:
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))
    except OSError as error:
        raise InputError(f"cannot read screened list '{path}': {error}") from None


def flip_fused(bank: Bank, indices: np.ndarray) -> np.ndarray:
    """The teacher's embedding of view 0 plus the mirrored view 1, normalised (as the app fuses the mirror)."""
    fused = np.asarray(bank.targets[indices, 0], np.float32) + np.asarray(bank.targets[indices, 1], np.float32)
    return fused / np.linalg.norm(fused, axis=1, keepdims=True)


def impostor_threshold(embeddings: np.ndarray, people: list[str], far: float) -> float:
    """The cosine above which a fraction `far` of different-person pairs of these faces lie."""
    same = np.array(people)[:, None] == np.array(people)[None, :]
    scores = (embeddings @ embeddings.T)[~same]
    return float(np.quantile(scores, 1 - far))


def screen(bank: Bank, candidates: Iterable[str], against: str, people: Path | None, far: float,
           out: Path, threshold: float | None = None) -> dict:
    """Write the candidate sources' faces too close to the held-out people of `against` to `out` (TSV).

    The threshold is the teacher's at `far` among the held-out people, unless `threshold` gives one (for a
    held-out set too small, or too alike, to measure a low FAR on)."""
    candidates = set(candidates)
    rows = bank.rows
    held_names = read_exclusions(people) if people else None
    held = np.array([i for i, r in enumerate(rows) if r.source == against
                     and (held_names is None or normalise_name(r.identity) in held_names)], np.int64)
    tested = np.array([i for i, r in enumerate(rows) if r.source in candidates], np.int64)
    if len(held) == 0 or len(tested) == 0:
        raise InputError("nothing to screen: no held-out faces or no candidate faces in the bank")
    held_embeddings = flip_fused(bank, held)
    measured = threshold is None
    if measured:
        threshold = impostor_threshold(held_embeddings, [normalise_name(rows[i].identity) for i in held], far)
    hits = []
    for start in range(0, len(tested), 2048):
        part = tested[start:start + 2048]
        scores = flip_fused(bank, part) @ held_embeddings.T
        nearest = scores.argmax(axis=1)
        best = scores[np.arange(len(part)), nearest]
        hits += [(rows[i], rows[held[n]].identity, s) for i, n, s in zip(part, nearest, best) if s >= threshold]
    with replacing(out) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(SCREEN_HEADER)
        writer.writerows((r.source, r.path, r.identity, name, f"{s:.4f}") for r, name, s in hits)
    return {"threshold": threshold, "far": far if measured else None, "held_faces": len(held), "tested_faces": len(tested),
            "dropped_faces": len(hits), "dropped_people": len({(r.source, r.identity) for r, _, _ in hits})}
