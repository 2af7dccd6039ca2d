"""`sphereapp-train prepare`: a folder-per-identity image tree -> aligned 112x96 crops for training.

Output in DST: `crops.npy` uint8 (N,112,96,3) (or (N,112,112,3) with `crop_width` 112, the insightface crop), `list.tsv` (index, source path, label, identity),
`boxes.npy` float32 (N,4) (the chosen face's detector box x1,y1,x2,y2 in the source image; NaN for
already-aligned input, which is not detected) and `summary.json`. Work in progress lives in
DST/.prepare-work (the crops and boxes so far and a status per image), so
an interrupted run continues where it stopped when started again with the same arguments.

Images are either detected (MTCNN; the largest, most central face) and aligned to the SphereFace template,
or, for folders of already-aligned 112x112 crops (insightface alignment, e.g. Glint360k), centre-cropped to
112x96 (`aligned_112x112` for every folder, `aligned_globs` for folders whose name matches a glob).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.files import replacing, save_npy
from sphereapp.core.media.images import read_image_rgb
from sphereapp.core.vision.align import CROP_SIZE, WIDE_CROP_SIZE, align_face, center_crop_112x112
from sphereapp.core.vision.detect import DetectorConfig, FaceDetector, primary_face
from sphereapp.core.vision.device import resolve_device
from training.data import CROPS_NAME, LIST_NAME, SUMMARY_NAME, ListEntry, write_list

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
WORK_DIR = ".prepare-work"
BOXES_NAME = "boxes.npy"
PENDING, DONE, NO_FACE, UNREADABLE = -1, 1, 0, 2
CHUNK = 64  # images per detector call and per progress flush
CROP_SHAPE = (*CROP_SIZE, 3)


@dataclass
class PrepareOptions:
    """What `prepare` does besides SRC and DST."""

    exclude: Path | None = None
    device: str = "auto"
    workers: int = 2
    aligned_112x112: bool = False
    aligned_globs: Sequence[str] = field(default_factory=tuple)
    min_face_size: int = 20
    crop_width: int = CROP_SIZE[1]  # 112: insightface 112x112 crops (what the MobileFaceNet teacher reads)


@dataclass(frozen=True)
class Candidate:
    """One source image: path relative to SRC, its person, and whether it is an aligned crop already."""

    path: str
    identity: str
    aligned: bool


def prepare(src: str | Path, dst: str | Path, options: PrepareOptions | None = None) -> dict:
    """Detect, align and store every image of SRC/<person>/ in DST; returns the summary (also summary.json)."""
    options = options or PrepareOptions()
    src, dst = Path(src).resolve(), Path(dst)
    if not src.is_dir():
        raise InputError(f"source folder '{src}' does not exist")
    excluded_names = read_exclusions(options.exclude) if options.exclude else set()
    candidates, excluded = scan_source(src, excluded_names, options)
    job_key = _job_key(src, candidates, options)
    finished = _finished_summary(dst, job_key)
    if finished is not None:
        print(f"'{dst}' is already prepared from '{src}': nothing to do")
        return finished
    job = _Job.open(dst, src, candidates, job_key, (CROP_SIZE[0], options.crop_width, 3))
    job.run(options)
    return job.finish(excluded)


def scan_source(src: Path, excluded_names: set[str], options: PrepareOptions) -> tuple[list[Candidate], list[str]]:
    """Candidate images of SRC (sorted), and the sorted names of the person folders left out."""
    candidates, excluded = [], []
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if normalise_name(folder.name) in excluded_names:
            excluded.append(folder.name)
            continue
        aligned = options.aligned_112x112 or any(fnmatch.fnmatch(folder.name, g) for g in options.aligned_globs)
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        candidates += [Candidate(p.relative_to(src).as_posix(), folder.name, aligned) for p in images]
    if not candidates:
        raise InputError(f"no images found in person folders under '{src}'")
    return candidates, excluded


def read_exclusions(path: Path) -> set[str]:
    """Names to leave out: every tab-separated column of every line (e.g. `folder<TAB>LFW name`), normalised."""
    return {normalise_name(name) for columns in read_name_lines(path) for name in columns}


def read_name_lines(path: Path) -> list[list[str]]:
    """The tab-separated names of each non-empty line of a names file (`#` lines are comments)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read names file '{path}': {error}") from None
    return [[name.strip() for name in line.split("\t") if name.strip()]
            for line in lines if line.strip() and not line.startswith("#")]


def normalise_name(name: str) -> str:
    """Compare names case-insensitively, treating spaces and underscores alike (as in_lfw_pairs.txt was built)."""
    return name.strip().lower().replace(" ", "_")


def read_rgb(path: Path) -> np.ndarray | None:
    """An image file as RGB uint8 (the app's robust reader), None when it cannot be decoded."""
    try:
        return read_image_rgb(path)
    except InputError:
        return None


def aligned_crop(image: np.ndarray, width: int = CROP_SIZE[1]) -> np.ndarray:
    """An already-aligned crop -> 112x96: kept when 112x96, centre-cropped from 112x112 (resized to it first).

    `width` 112: the 112x112 crop itself.
    """
    if image.shape[:2] == CROP_SIZE and width == CROP_SIZE[1]:
        return image
    if image.shape[:2] != WIDE_CROP_SIZE:
        image = cv2.resize(image, WIDE_CROP_SIZE[::-1], interpolation=cv2.INTER_AREA)
    return image if width == WIDE_CROP_SIZE[1] else center_crop_112x112(image)


def primary_detections(images: Sequence[np.ndarray],
                       detector: FaceDetector) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """(box (4,), landmarks (5,2)) of the chosen face of each image, or None where no face is found."""
    chosen: list[tuple[np.ndarray, np.ndarray] | None] = []
    for image, detections in zip(images, detector.detect(images)):
        if len(detections) == 0:
            chosen.append(None)
            continue
        face = primary_face(detections.boxes, image.shape[:2])
        chosen.append((detections.boxes[face], detections.landmarks[face]))
    return chosen


def detect_and_align(images: Sequence[np.ndarray], detector: FaceDetector) -> list[np.ndarray | None]:
    """The chosen face of each image aligned to 112x96, or None where no face is found."""
    return [None if face is None else align_face(image, face[1])
            for image, face in zip(images, primary_detections(images, detector))]


class _Job:
    """The resumable work folder: job.json (what is being prepared); crops, boxes and status, one per image."""

    def __init__(self, dst: Path, src: Path, candidates: list[Candidate]):
        self.dst = dst
        self.src = src
        self.work = dst / WORK_DIR
        self.candidates = candidates
        self.crops = np.load(self.work / CROPS_NAME, mmap_mode="r+")
        self.boxes = np.load(self.work / BOXES_NAME, mmap_mode="r+")
        self.status = np.load(self.work / "status.npy", mmap_mode="r+")

    @classmethod
    def open(cls, dst: Path, src: Path, candidates: list[Candidate], job_key: dict,
             crop_shape: tuple[int, int, int]) -> _Job:
        """Continue the unfinished job in DST, or start one; refuse when DST's unfinished job is another one."""
        work = dst / WORK_DIR
        job_file = work / "job.json"
        if job_file.is_file():
            if json.loads(job_file.read_text(encoding="utf-8")) != job_key:
                raise InputError(f"'{dst}' holds an unfinished preparation of other input: "
                                 f"rerun with the same arguments, or delete '{work}'")
        else:
            work.mkdir(parents=True, exist_ok=True)
            np.lib.format.open_memmap(work / CROPS_NAME, "w+", np.uint8, (len(candidates), *crop_shape)).flush()
            status = np.lib.format.open_memmap(work / "status.npy", "w+", np.int8, (len(candidates),))
            status[:] = PENDING
            status.flush()
            job_file.write_text(json.dumps(job_key), encoding="utf-8")  # written last: the job is complete
        if not (work / BOXES_NAME).is_file():  # also for a job begun before boxes were kept: those stay unknown
            boxes = np.lib.format.open_memmap(work / BOXES_NAME, "w+", np.float32, (len(candidates), 4))
            boxes[:] = np.nan
            boxes.flush()
        return cls(dst, src, candidates)

    def run(self, options: PrepareOptions) -> None:
        """Process the pending images chunk by chunk; crops and boxes are flushed before their status says done."""
        pending = np.flatnonzero(self.status == PENDING)
        detector: FaceDetector | None = None
        bar = tqdm(total=len(self.candidates), initial=len(self.candidates) - len(pending), unit="img",
                   desc="prepare")
        with ThreadPoolExecutor(max(1, options.workers)) as pool, bar:
            for start in range(0, len(pending), CHUNK):
                chunk = pending[start:start + CHUNK]
                images = list(pool.map(read_rgb, (self.src / self.candidates[i].path for i in chunk)))
                needs_detector = any(img is not None and not self.candidates[i].aligned
                                     for i, img in zip(chunk, images))
                if needs_detector and detector is None:
                    detector = FaceDetector(DetectorConfig(min_face_size=options.min_face_size),
                                            resolve_device(options.device))
                codes = np.empty(len(chunk), np.int8)
                for k, (i, face) in enumerate(zip(chunk, self._faces_for(chunk, images, detector))):
                    codes[k] = UNREADABLE if images[k] is None else NO_FACE if face is None else DONE
                    if face is not None:
                        self.crops[i], self.boxes[i] = face
                self.crops.flush()
                self.boxes.flush()
                self.status[chunk] = codes
                self.status.flush()
                bar.update(len(chunk))

    def _faces_for(self, chunk: np.ndarray, images: list[np.ndarray | None],
                   detector: FaceDetector | None) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """(crop, box) per image of the chunk: centre-cropped with a NaN box when aligned, else detected and
        aligned (None: no face)."""
        faces: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(chunk)
        to_detect = []
        for k, (i, image) in enumerate(zip(chunk, images)):
            if image is not None and self.candidates[i].aligned:
                faces[k] = aligned_crop(image, self.crops.shape[2]), np.full(4, np.nan, np.float32)
            elif image is not None:
                to_detect.append(k)
        if to_detect:
            for k, face in zip(to_detect, primary_detections([images[k] for k in to_detect], detector)):
                faces[k] = None if face is None else (align_face(images[k], face[1], self.crops.shape[2]), face[0])
        return faces

    def finish(self, excluded: list[str]) -> dict:
        """Copy the kept crops and boxes into DST, write list.tsv and summary.json, remove the work folder."""
        candidates = self.candidates
        kept = np.flatnonzero(self.status == DONE)
        if len(kept) == 0:
            raise InputError(f"no faces found in any of the {len(candidates)} images")
        people = sorted({candidates[i].identity for i in kept})
        label_of = {name: label for label, name in enumerate(people)}
        with replacing(self.dst / CROPS_NAME) as temporary:
            out = np.lib.format.open_memmap(temporary, "w+", np.uint8, (len(kept), *self.crops.shape[1:]))
            for start in range(0, len(kept), 4096):
                out[start:start + 4096] = self.crops[kept[start:start + 4096]]
            out.flush()
            del out
        save_npy(self.dst / BOXES_NAME, np.asarray(self.boxes[kept], np.float32))
        write_list(self.dst / LIST_NAME, [ListEntry(row, candidates[i].path, label_of[candidates[i].identity],
                                                    candidates[i].identity) for row, i in enumerate(kept)])
        summary = {
            "source": str(self.src),
            "people": len(people),
            "images": int(len(kept)),
            "skipped_faceless": int(np.sum(self.status == NO_FACE)),
            "skipped_unreadable": int(np.sum(self.status == UNREADABLE)),
            "excluded_people": len(excluded),
            "excluded": excluded,
            "aligned_input_images": sum(c.aligned for c in candidates),
            "job": json.loads((self.work / "job.json").read_text(encoding="utf-8")),
        }
        (self.dst / SUMMARY_NAME).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        del self.crops, self.boxes, self.status
        shutil.rmtree(self.work)
        print(f"prepared {summary['images']} crops of {summary['people']} people in '{self.dst}' "
              f"({summary['skipped_faceless']} without a face, {summary['skipped_unreadable']} unreadable, "
              f"{summary['excluded_people']} people excluded)")
        return summary


def _finished_summary(dst: Path, job_key: dict) -> dict | None:
    """The summary of a finished preparation of the same job in DST; None when there is none; error for another."""
    path = dst / SUMMARY_NAME
    if not path.is_file() or (dst / WORK_DIR).exists():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("job") != job_key:
        raise InputError(f"'{dst}' already holds data prepared from other input ('{summary.get('source')}' "
                         "or other images/options): choose another DST")
    return summary


def _job_key(src: Path, candidates: list[Candidate], options: PrepareOptions) -> dict:
    """What identifies a preparation: the source, and a hash of its image list (paths, people, aligned flags)."""
    digest = hashlib.sha256()
    for candidate in candidates:
        digest.update(json.dumps(asdict(candidate)).encode())
    key = {"source": str(src), "images_sha256": digest.hexdigest(), "min_face_size": options.min_face_size}
    return key if options.crop_width == CROP_SIZE[1] else {**key, "crop_width": options.crop_width}
