"""`sphereapp-train bank`: augmented views of wide prepared crops, each with its own teacher embedding.

Embedding distillation needs the teacher's embedding of exactly the image the student sees. Targets are
therefore cached per view: V views of every crop are rendered once (view 0 as prepared, view 1 mirrored,
views 2.. through the training augmentation with a seeded generator) and embedded by the teacher, so
augmentation never makes a target stale.

BANK/ holds `views.npy` uint8 (N, V, 112, 112, 3), `teacher_<name>.npy` float32 (N, V, D) unit vectors,
`rows.tsv` (index, source, path, identity: one row per prepared crop, sources in the order given) and
`bank.json`, written last (its presence means the bank is complete). Work in progress is kept in BANK/.bank-work
per chunk of rows, so an interrupted build continues where it stopped when run again with the same arguments.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.vision.align import WIDE_CROP_SIZE
from training.augment import BatchAugmenter
from training.config import AugmentConfig
from training.data import CROPS_NAME, LIST_NAME, read_list

VIEWS_NAME, ROWS_NAME, BANK_NAME, WORK_DIR = "views.npy", "rows.tsv", "bank.json", ".bank-work"
ROWS_HEADER = ("index", "source", "path", "identity")
CHUNK = 64  # rows per teacher call, progress flush and generator seed
# Views 2..: what faces cut from video look like (mis-aligned, re-lit, small, soft), a little stronger than fit's
# own augmentation because these views replace it when distilling.
VIEW_AUGMENT = AugmentConfig(flip_p=0.5, affine_p=1.0, max_scale=0.1, max_shift_px=6.0, colour_p=0.8,
                             brightness=0.3, contrast=0.3, saturation=0.3, blur_p=0.2, blur_sigma=[0.5, 1.5],
                             downscale_p=0.3, downscale_range=[0.25, 0.6], gray_p=0.1)


@dataclass(frozen=True)
class BankRow:
    """One crop of the bank: its source folder's name, its image path there and its person."""

    index: int
    source: str
    path: str
    identity: str


def teacher_file(teacher_name: str) -> str:
    return f"teacher_{teacher_name}.npy"


def render_views(crops: np.ndarray, views: int, generator: torch.Generator) -> np.ndarray:
    """uint8 (n, H, W, 3) -> (n, views, H, W, 3): as given, mirrored, then `views - 2` augmented copies."""
    batch = torch.from_numpy(np.ascontiguousarray(crops))
    rendered = [batch, batch.flip(2)][:views]
    augment = BatchAugmenter(VIEW_AUGMENT, generator)
    rendered += [augment(batch) for _ in range(views - 2)]
    return torch.stack(rendered, dim=1).numpy()


class Teacher(Protocol):
    """What a bank needs of a teacher (`MobileFaceNetTeacher`): its name, licence, size and embeddings."""

    name: str
    licence: str
    dim: int

    def embed(self, crops: np.ndarray) -> np.ndarray: ...


def build_bank(out: str | Path, sources: dict[str, Path], teacher: Teacher, views: int = 4, seed: int = 0) -> Path:
    """Write BANK=`out` from named wide prepared folders (`prepare --wide`); returns the bank folder."""
    if views < 2:
        raise InputError("a bank needs at least 2 views (as prepared and mirrored)")
    out = Path(out)
    rows, crops = _read_sources(sources)
    key = {"sources": {name: str(Path(root).resolve()) for name, root in sources.items()}, "rows": len(rows),
           "views": views, "seed": seed, "teacher": teacher.name, "augment": asdict(VIEW_AUGMENT)}
    if (out / BANK_NAME).is_file():
        if json.loads((out / BANK_NAME).read_text(encoding="utf-8")).get("key") != key:
            raise InputError(f"'{out}' already holds another bank: choose another folder")
        print(f"'{out}' is already built: nothing to do")
        return out
    view_array, targets, done = _open_work(out, key, teacher.dim)
    with tqdm(total=len(rows), initial=rows_done(done, len(rows)), unit="img", desc="bank") as bar:
        for c in np.flatnonzero(~done).tolist():
            span = chunk_rows(c, len(rows))
            batch = np.stack([crops[r.source][r.index] for r in rows[span]])
            generator = torch.Generator().manual_seed(seed * 1_000_003 + c)
            rendered = render_views(batch, views, generator)
            embedded = teacher.embed(rendered.reshape(-1, *rendered.shape[2:]))
            view_array[span] = rendered
            targets[span] = embedded.reshape(len(batch), views, teacher.dim)
            view_array.flush()
            targets.flush()
            done[c] = True
            done.flush()
            bar.update(len(batch))
    _write_rows(out / ROWS_NAME, rows)
    summary = {"key": key, "images": len(rows), "people": len({(r.source, r.identity) for r in rows}),
               "teacher_dim": teacher.dim, "teacher_licence": teacher.licence}
    (out / BANK_NAME).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    shutil.rmtree(out / WORK_DIR)
    print(f"bank '{out}': {len(rows)} crops x {views} views, {teacher.name} targets")
    return out


@dataclass(frozen=True)
class Bank:
    """A built bank, memory-mapped: views (N, V, 112, 112, 3), its own teacher's targets (N, V, D), rows."""

    root: Path
    views: np.ndarray
    targets: np.ndarray
    rows: list[BankRow]
    teacher: str
    licence: str
    added_teachers: dict = field(default_factory=dict)  # {name: {"views", "dim", "licence"}} (`bank add-teacher`)

    @property
    def teachers(self) -> list[str]:
        """Every teacher the bank holds targets of: its own first."""
        return [self.teacher, *self.added_teachers]

    def targets_of(self, teacher: str) -> np.ndarray:
        """(N, K, D) targets of one of `teachers` (memory-mapped); K < V for an added teacher of fewer views."""
        if teacher == self.teacher:
            return self.targets
        if teacher not in self.added_teachers:
            raise InputError(f"bank '{self.root}' holds targets of {', '.join(self.teachers)}, not {teacher}: "
                             "add it with 'sphereapp-train bank add-teacher'")
        return np.load(self.root / teacher_file(teacher), mmap_mode="r")

    def licence_of(self, teacher: str) -> str:
        return self.licence if teacher == self.teacher else self.added_teachers[teacher].get("licence", "")

    @classmethod
    def open(cls, root: str | Path) -> Bank:
        root = Path(root)
        summary = read_summary(root)
        teacher = summary["key"]["teacher"]
        return cls(root, np.load(root / VIEWS_NAME, mmap_mode="r"), np.load(root / teacher_file(teacher), mmap_mode="r"),
                   read_rows(root / ROWS_NAME), teacher, summary.get("teacher_licence", ""),
                   summary.get("added_teachers", {}))


def read_summary(root: Path) -> dict:
    """A built bank's bank.json; a one-line error when `root` is not one."""
    if not (root / BANK_NAME).is_file():
        raise InputError(f"'{root}' is not a built bank: run 'sphereapp-train bank build' first")
    return json.loads((root / BANK_NAME).read_text(encoding="utf-8"))


def chunk_count(rows: int) -> int:
    """How many chunks of CHUNK rows a bank of `rows` rows has."""
    return -(-rows // CHUNK)


def chunk_rows(chunk: int, rows: int) -> slice:
    """The rows of chunk `chunk` of a bank of `rows` rows."""
    return slice(chunk * CHUNK, min((chunk + 1) * CHUNK, rows))


def rows_done(done: np.ndarray, rows: int) -> int:
    """How many rows the chunks flagged in `done` hold (the last chunk may be short)."""
    return sum(len(range(rows)[chunk_rows(c, rows)]) for c in np.flatnonzero(done))


def read_rows(path: Path) -> list[BankRow]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or tuple(rows[0]) != ROWS_HEADER:
        raise InputError(f"'{path}' is not a bank's rows.tsv")
    return [BankRow(int(i), source, image, identity) for i, source, image, identity in rows[1:]]


def _write_rows(path: Path, rows: list[BankRow]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(ROWS_HEADER)
        writer.writerows((r.index, r.source, r.path, r.identity) for r in rows)


def _read_sources(sources: dict[str, Path]) -> tuple[list[BankRow], dict[str, np.ndarray]]:
    """Every crop of every source, in order, and each source's crops (memory-mapped)."""
    rows, crops = [], {}
    for name, root in sources.items():
        root = Path(root)
        if not (root / CROPS_NAME).is_file() or not (root / LIST_NAME).is_file():
            raise InputError(f"'{root}' is not prepared training data: run 'sphereapp-train prepare --wide' first")
        crops[name] = np.load(root / CROPS_NAME, mmap_mode="r")
        if crops[name].shape[1:] != (*WIDE_CROP_SIZE, 3):
            raise InputError(f"'{root}' holds {crops[name].shape[1]}x{crops[name].shape[2]} crops: the teacher "
                             "reads 112x112 ones (prepare it again with --wide)")
        rows += [BankRow(e.index, name, e.path, e.identity) for e in read_list(root / LIST_NAME)]
    if not rows:
        raise InputError("the bank's sources hold no crops")
    return rows, crops


def _open_work(out: Path, key: dict, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The output arrays and the per-chunk done flags, continuing the same unfinished build or starting one."""
    work = out / WORK_DIR
    shape = (key["rows"], key["views"])
    paths = out / VIEWS_NAME, out / teacher_file(key["teacher"]), work / "done.npy"
    if (work / "key.json").is_file():
        if json.loads((work / "key.json").read_text(encoding="utf-8")) != key:
            raise InputError(f"'{out}' holds an unfinished bank of other input: rerun with the same arguments, "
                             f"or delete '{out}'")
        return tuple(np.load(p, mmap_mode="r+") for p in paths)
    work.mkdir(parents=True, exist_ok=True)
    arrays = (np.lib.format.open_memmap(paths[0], "w+", np.uint8, (*shape, *WIDE_CROP_SIZE, 3)),
              np.lib.format.open_memmap(paths[1], "w+", np.float32, (*shape, dim)),
              np.lib.format.open_memmap(paths[2], "w+", np.bool_, (chunk_count(key["rows"]),)))
    arrays[2][:] = False
    for array in arrays:
        array.flush()
    (work / "key.json").write_text(json.dumps(key), encoding="utf-8")  # written last: the work folder is complete
    return arrays

