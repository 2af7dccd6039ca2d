"""`sphereapp-train bank add-teacher`: another teacher's targets for a built bank's views.

A bank is built with one teacher; a second one (dlib) is added beside it as `teacher_<name>.npy`, float32
(N, K, D) unit vectors of the first K views (view 0 as prepared, view 1 mirrored, ...). A student view from K on
takes that teacher's view-0 target, which suits a teacher that aligns each face again from its own landmarks
(dlib: its targets of one face's views agree closely). The bank's `bank.json` lists added teachers under
"added_teachers" once their file is complete; work in progress is kept per chunk of rows in
BANK/.teacher-<name>, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sphereapp.core.errors import InputError
from training.bank import (
    BANK_NAME,
    VIEWS_NAME,
    Teacher,
    chunk_count,
    chunk_rows,
    read_summary,
    rows_done,
    teacher_file,
)

_worker_teacher: Teacher | None = None  # each worker process's own teacher


def add_teacher(root: str | Path, make_teacher: Callable[[], Teacher], views: int, workers: int = 1) -> Path:
    """Embed the first `views` views of every row of bank `root` with `make_teacher()` on `workers` processes."""
    root = Path(root)
    summary = read_summary(root)
    all_views = summary["key"]["views"]
    if not 1 <= views <= all_views:
        raise InputError(f"the bank holds {all_views} views a crop: --views must be 1..{all_views}")
    probe = make_teacher()
    if probe.name == summary["key"]["teacher"]:
        raise InputError(f"'{root}' was built with {probe.name}: it needs no second copy of its targets")
    if probe.name in summary.get("added_teachers", {}):
        print(f"'{root}' already holds {probe.name} targets: nothing to do")
        return root
    rows = summary["images"]
    targets, done = _open_work(root, probe.name, (rows, views, probe.dim))
    chunks = np.flatnonzero(~done).tolist()
    bank_views = np.load(root / VIEWS_NAME, mmap_mode="r")
    with tqdm(total=rows, initial=rows_done(done, rows), unit="img", desc=f"{probe.name}") as bar:
        for chunk, embedded in _embed_chunks(bank_views, chunks, views, probe, make_teacher, workers):
            span = chunk_rows(chunk, rows)
            targets[span] = embedded.reshape(span.stop - span.start, views, probe.dim)
            targets.flush()
            done[chunk] = True
            done.flush()
            bar.update(span.stop - span.start)
    added = {**summary.get("added_teachers", {}),
             probe.name: {"views": views, "dim": probe.dim, "licence": probe.licence}}
    _write_summary(root, {**summary, "added_teachers": added})
    shutil.rmtree(_work_dir(root, probe.name))
    print(f"bank '{root}': {probe.name} targets of {views} view(s) of {rows} crops added")
    return root


def _embed_chunks(bank_views: np.ndarray, chunks: list[int], views: int, teacher: Teacher,
                  make_teacher: Callable[[], Teacher], workers: int) -> Iterator[tuple[int, np.ndarray]]:
    """(chunk, (rows * views, D) targets) in chunk order, on this process or a pool of `workers`."""
    rows = len(bank_views)
    work = ((c, np.ascontiguousarray(bank_views[chunk_rows(c, rows), :views])) for c in chunks)
    if workers == 1:
        for chunk, crops in work:
            yield chunk, teacher.embed(crops.reshape(-1, *crops.shape[2:]))
        return
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(make_teacher,)) as pool:
        pending = deque()
        for chunk, crops in work:  # at most 2 chunks a worker in flight, results in chunk order
            pending.append((chunk, pool.submit(_embed_in_worker, crops)))
            if len(pending) >= 2 * workers:
                chunk, future = pending.popleft()
                yield chunk, future.result()
        for chunk, future in pending:
            yield chunk, future.result()


def _start_worker(make_teacher: Callable[[], Teacher]) -> None:
    global _worker_teacher
    torch.set_num_threads(1)  # one core a worker
    _worker_teacher = make_teacher()


def _embed_in_worker(crops: np.ndarray) -> np.ndarray:
    return _worker_teacher.embed(crops.reshape(-1, *crops.shape[2:]))


def _write_summary(root: Path, summary: dict) -> None:
    temporary = root / f".{BANK_NAME}.tmp"
    temporary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    temporary.replace(root / BANK_NAME)


def _work_dir(root: Path, name: str) -> Path:
    return root / f".teacher-{name}"


def _open_work(root: Path, name: str, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The target array and per-chunk done flags, continuing an unfinished run of the same shape or starting one."""
    work, path = _work_dir(root, name), root / teacher_file(name)
    if (work / "shape.json").is_file():
        if tuple(json.loads((work / "shape.json").read_text(encoding="utf-8"))) != shape:
            raise InputError(f"'{root}' holds unfinished {name} targets of another shape: rerun with the same "
                             f"--views, or delete '{work}' and '{path}'")
        return np.load(path, mmap_mode="r+"), np.load(work / "done.npy", mmap_mode="r+")
    work.mkdir(parents=True, exist_ok=True)
    targets = np.lib.format.open_memmap(path, "w+", np.float32, shape)
    done = np.lib.format.open_memmap(work / "done.npy", "w+", np.bool_, (chunk_count(shape[0]),))
    done[:] = False
    for array in (targets, done):
        array.flush()
    (work / "shape.json").write_text(json.dumps(shape), encoding="utf-8")  # written last: the work folder is complete
    return targets, done
