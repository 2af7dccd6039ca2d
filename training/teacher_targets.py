"""`sphereapp-train teacher`: one dlib teacher embedding per crop of a prepared folder (fit's teacher.embeddings).

Each crop's ORIGINAL image is read again (list.tsv path under summary.json's source) and embedded with
the face box `prepare` chose (boxes.npy); where there is none (already-aligned input, or data prepared
before boxes were kept) the face is detected again with the same detector settings.

The output `teacher_dlib.npy` (N, 128) float32 is aligned row for row with list.tsv. By default the
descriptors are centred on their mean over the folder and L2-normalised again: dlib's raw descriptors lie
in a narrow cone (on 40 LFW people: cosine 0.85 +- 0.03 between different people, 0.95 between images of
one person; centred: -0.02 +- 0.15 and 0.67), and fit's relational loss matches cosine matrices, so the raw
cone would pull a margin-trained student's different-person cosines towards 0.85. The mean is kept in the
sidecar `teacher_dlib.json`. Work in progress (`.teacher_dlib.npy.partial.npy`, raw descriptors, NaN rows
still to do) makes an interrupted run continue where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.files import save_npy
from sphereapp.core.vision.detect import DetectorConfig, FaceDetector
from sphereapp.core.vision.device import resolve_device
from training.bank_data import centred_on
from training.data import LIST_NAME, SUMMARY_NAME, read_json_or_empty, read_list
from training.prepare import BOXES_NAME
from training.teacher import TEACHER_DIM, TEACHER_NAME, DlibTeacher, embed_files

OUT_NAME = "teacher_dlib.npy"
CHUNK = 64  # images per progress flush


@dataclass
class TeacherOptions:
    """What `teacher` does besides the data folder and the output file."""

    source: Path | None = None  # the images' root; default: the source named in summary.json
    device: str = "auto"  # detector device (dlib runs on the CPU)
    workers: int = 2
    center: bool = True


def write_teacher_embeddings(data_dir: str | Path, out: str | Path | None = None,
                             options: TeacherOptions | None = None) -> Path:
    """Write the teacher embeddings of every crop of `data_dir` to `out` (default DATA/teacher_dlib.npy)."""
    options = options or TeacherOptions()
    data_dir = Path(data_dir)
    out = Path(out) if out else data_dir / OUT_NAME
    entries, source, min_face_size = _prepared(data_dir, options.source)
    boxes = _known_boxes(data_dir, len(entries))
    key = {"teacher": TEACHER_NAME, "rows": len(entries), "center": options.center,
           "list_sha256": hashlib.sha256((data_dir / LIST_NAME).read_bytes()).hexdigest()}
    if out.is_file() and read_json_or_empty(_sidecar(out)).get("key") == key:
        print(f"'{out}' already holds the teacher embeddings of '{data_dir}': nothing to do")
        return out
    teacher = DlibTeacher()
    raw = _open_partial(out, key)
    pending = np.flatnonzero(~np.isfinite(raw).all(axis=1))
    detector = FaceDetector(DetectorConfig(min_face_size=min_face_size), resolve_device(options.device))
    fallbacks = 0
    with tqdm(total=len(entries), initial=len(entries) - len(pending), unit="img", desc="teacher") as bar:
        for start in range(0, len(pending), CHUNK):
            rows = pending[start:start + CHUNK]
            embeddings, fell_back = embed_files([source / entries[i].path for i in rows], teacher, detector,
                                                boxes[rows], options.workers)
            raw[rows] = embeddings
            raw.flush()
            fallbacks += fell_back
            bar.update(len(rows))
    _finish(out, raw, key)
    detected = int(np.sum(~np.isfinite(boxes).all(axis=1)))
    print(f"wrote {len(entries)} teacher embeddings to '{out}' ({len(entries) - detected} with prepare's face box, "
          f"{detected} detected again, {fallbacks} of those with no face found: assumed an aligned crop)")
    return out


def centred(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows minus their mean, L2-normalised again; and the mean."""
    mean = embeddings.mean(axis=0, dtype=np.float64)
    return centred_on(embeddings, mean).astype(np.float32), mean.astype(np.float32)


def _prepared(data_dir: Path, source: Path | None) -> tuple[list, Path, int]:
    """list.tsv entries, the image root and prepare's min_face_size of a prepared folder; InputError otherwise."""
    list_path, summary_path = data_dir / LIST_NAME, data_dir / SUMMARY_NAME
    if not list_path.is_file() or not summary_path.is_file():
        raise InputError(f"'{data_dir}' is not prepared training data: run 'sphereapp-train prepare' first")
    summary = read_json_or_empty(summary_path)
    source = Path(source or summary.get("source", ""))
    if not source.is_dir():
        raise InputError(f"the source images of '{data_dir}' are not at '{source}': pass --source DIR")
    return read_list(list_path), source, int(summary.get("job", {}).get("min_face_size", 20))


def _known_boxes(data_dir: Path, rows: int) -> np.ndarray:
    """prepare's face boxes (N, 4), NaN where unknown (all NaN for data prepared before boxes.npy existed)."""
    path = data_dir / BOXES_NAME
    if not path.is_file():
        return np.full((rows, 4), np.nan, np.float32)
    boxes = np.load(path)
    if boxes.shape != (rows, 4):
        raise InputError(f"'{path}' has shape {boxes.shape}, expected ({rows}, 4): prepare the data again")
    return boxes


def _sidecar(out: Path) -> Path:
    return out.with_suffix(".json")


def _partial_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(f".{out.name}.partial.npy"), out.with_name(f".{out.name}.partial.json")


def _open_partial(out: Path, key: dict) -> np.ndarray:
    """The raw descriptors so far (NaN rows: to do), continuing the work of the same job or starting afresh."""
    array_path, key_path = _partial_paths(out)
    if array_path.is_file() and read_json_or_empty(key_path) == key:
        return np.load(array_path, mmap_mode="r+")
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = np.lib.format.open_memmap(array_path, "w+", np.float32, (key["rows"], TEACHER_DIM))
    raw[:] = np.nan
    raw.flush()
    key_path.write_text(json.dumps(key), encoding="utf-8")  # written last: the partial file is complete
    return raw


def _finish(out: Path, raw: np.ndarray, key: dict) -> None:
    """Write the output (centred when asked) atomically, then its sidecar; remove the work files."""
    embeddings = np.asarray(raw, np.float32)
    embeddings, mean = centred(embeddings) if key["center"] else (embeddings, None)
    save_npy(out, embeddings.astype(np.float32))
    sidecar = {"key": key, "dim": TEACHER_DIM, "mean": None if mean is None else mean.tolist()}
    _sidecar(out).write_text(json.dumps(sidecar, indent=2), encoding="utf-8")
    del raw
    for path in _partial_paths(out):
        path.unlink()


def add_teacher_parser(commands: argparse._SubParsersAction, positive_int) -> None:
    """Register `teacher` (the caller's `positive_int` argparse type checks --workers)."""
    p = commands.add_parser(
        "teacher", help="dlib teacher embeddings of prepared crops, for distillation (needs '.[teacher]')",
        description="Embed the original image of every crop of a prepared folder with dlib's face descriptor "
                    f"(face box from prepare, or detected again); writes DATA/{OUT_NAME} (N,128), aligned with "
                    "list.tsv, for fit's teacher.embeddings. Rerun to continue an interrupted run.")
    p.add_argument("data", type=Path, help="folder written by 'sphereapp-train prepare'")
    p.add_argument("out", type=Path, nargs="?", help=f"output .npy (default: DATA/{OUT_NAME})")
    p.add_argument("--source", type=Path, help="the images' root folder (default: the one prepare read)")
    p.add_argument("--device", default="auto", help="face detector device: auto, cpu, cuda (default: auto)")
    p.add_argument("--workers", type=positive_int, default=2, help="image-decoding threads (default: 2)")
    p.add_argument("--no-center", dest="center", action="store_false",
                   help="keep dlib's raw descriptors (default: centred on their mean, normalised again)")
    p.set_defaults(run=_run_teacher)


def _run_teacher(args: argparse.Namespace) -> int:
    options = TeacherOptions(source=args.source, device=args.device, workers=args.workers, center=args.center)
    write_teacher_embeddings(args.data, args.out, options)
    return 0
