"""`sphereapp-train merge`: several prepared folders -> one, so one run trains on all their people.

People are matched by name, compared as prepare's --exclude compares them (case- and space/underscore-insensitive):
one name in two folders is one person. Lines of `same_person` (`name<TAB>name...`, e.g. train/in_lfw_pairs.txt)
join differently named folders of one person, under the line's last name. `exclude` leaves people out (any
column of any line names them, as in prepare), and `min_images` drops people with fewer crops: a class of one
image teaches nothing about how a face varies. Labels are numbered in the order of the people's names.

List paths become relative to the folder the sources' images share, so `teacher` reads every original image
(teacher embeddings are not merged: each folder's are centred on their own mean; run `teacher` on the result).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.files import replacing, save_npy
from training.data import CROPS_NAME, LIST_NAME, SUMMARY_NAME, ListEntry, read_list, write_list
from training.prepare import BOXES_NAME, normalise_name, read_exclusions, read_name_lines

COPY_ROWS = 4096  # crops copied at a time


@dataclass(frozen=True)
class PreparedFolder:
    """One input: its list, the root its list paths are relative to, and prepare's detector setting."""

    root: Path
    entries: list[ListEntry]
    source: Path
    min_face_size: int

    @classmethod
    def read(cls, root: Path) -> PreparedFolder:
        summary_path = root / SUMMARY_NAME
        if not all((root / name).is_file() for name in (CROPS_NAME, LIST_NAME, SUMMARY_NAME)):
            raise InputError(f"'{root}' is not prepared training data: run 'sphereapp-train prepare' first")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        if "source" not in summary:
            raise InputError(f"'{summary_path}' does not name the folder its images came from: prepare it again")
        return cls(root, read_list(root / LIST_NAME), Path(summary["source"]),
                   int(summary.get("job", {}).get("min_face_size", 20)))

    def boxes(self) -> np.ndarray:
        """prepare's face boxes (rows of crops.npy), NaN where the folder has none."""
        path = self.root / BOXES_NAME
        rows = np.load(self.root / CROPS_NAME, mmap_mode="r").shape[0]
        return np.load(path) if path.is_file() else np.full((rows, 4), np.nan, np.float32)


def read_same_person(path: Path) -> dict[str, str]:
    """Normalised name -> the name its line gives the person (the line's last column)."""
    joined = {}
    for columns in read_name_lines(path):
        for name in columns:
            joined[normalise_name(name)] = columns[-1]
    return joined


@dataclass(frozen=True)
class Pick:
    """One crop to merge: its folder (position in the sources), its entry there with the path rewritten, and its
    person (the normalised key and the name the output gives them)."""

    folder: int
    entry: ListEntry
    key: str
    name: str


def merge(sources: list[Path], dst: Path, same_person: Path | None = None, exclude: Path | None = None,
          min_images: int = 1) -> dict:
    """Write the people of every prepared folder in `sources` to `dst` as one prepared folder; returns its summary."""
    dst = Path(dst)
    if (dst / SUMMARY_NAME).exists() or (dst / CROPS_NAME).exists():
        raise InputError(f"'{dst}' already holds prepared data: choose another DST")
    folders = [PreparedFolder.read(Path(root)) for root in sources]
    if len({folder.min_face_size for folder in folders}) > 1:
        raise InputError("the folders were prepared with different --min-face-size: prepare them alike")
    common = Path(os.path.commonpath([str(folder.source.resolve()) for folder in folders]))
    picks, excluded = _pick(folders, common, read_same_person(same_person) if same_person else {},
                            read_exclusions(exclude) if exclude else set())
    counts = Counter(pick.key for pick in picks)
    kept = [pick for pick in picks if counts[pick.key] >= min_images]
    if not kept:
        raise InputError(f"no person with {min_images}+ images is left to merge")
    names: dict[str, str] = {}
    folders_of: dict[str, set[int]] = defaultdict(set)
    for pick in kept:
        names.setdefault(pick.key, pick.name)
        folders_of[pick.key].add(pick.folder)
    label_of = {key: label for label, key in enumerate(sorted(names, key=lambda k: (names[k], k)))}
    kept.sort(key=lambda pick: (label_of[pick.key], pick.folder, pick.entry.index))

    dst.mkdir(parents=True, exist_ok=True)
    _write_crops(dst, folders, kept)
    write_list(dst / LIST_NAME, [ListEntry(row, pick.entry.path, label_of[pick.key], names[pick.key])
                                 for row, pick in enumerate(kept)])
    joined_people = sum(len(numbers) > 1 for numbers in folders_of.values())
    summary = {
        "source": str(common),
        "merged": [str(folder.root) for folder in folders],
        "people": len(label_of),
        "images": len(kept),
        "joined_people": joined_people,
        "excluded_people": len(excluded),
        "excluded": sorted(excluded),
        "dropped_people": len(counts) - len(label_of),
        "min_images": min_images,
        "job": {"merged": [str(folder.root) for folder in folders], "min_face_size": folders[0].min_face_size},
    }
    with replacing(dst / SUMMARY_NAME) as temporary:  # written last: its presence marks a finished merge
        temporary.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"merged {summary['images']} crops of {summary['people']} people into '{dst}' ({joined_people} people "
          f"found in several folders, {len(excluded)} person folders excluded, {summary['dropped_people']} people "
          f"with fewer than {min_images} images dropped)")
    return summary


def _pick(folders: list[PreparedFolder], common: Path, joined: dict[str, str],
          excluded_names: set[str]) -> tuple[list[Pick], set[str]]:
    """Every crop of the folders whose person is not excluded (paths made relative to `common`), and the names
    of the person folders left out."""
    picks, excluded = [], set()
    for number, folder in enumerate(folders):
        relative = folder.source.resolve().relative_to(common)
        for entry in folder.entries:
            own_key = normalise_name(entry.identity)
            name = joined.get(own_key, entry.identity)
            key = normalise_name(name)
            if {own_key, key} & excluded_names:
                excluded.add(entry.identity)
                continue
            moved = ListEntry(entry.index, (relative / entry.path).as_posix(), entry.label, entry.identity)
            picks.append(Pick(number, moved, key, name))
    return picks, excluded


def _write_crops(dst: Path, folders: list[PreparedFolder], kept: list[Pick]) -> None:
    """crops.npy and boxes.npy of the kept entries, in order, each written whole then renamed."""
    crops = [np.load(folder.root / CROPS_NAME, mmap_mode="r") for folder in folders]
    boxes = [folder.boxes() for folder in folders]
    shapes = {c.shape[1:] for c in crops}
    if len(shapes) > 1:
        raise InputError(f"the prepared folders hold crops of different sizes {sorted(shapes)}: prepare them alike")
    with replacing(dst / CROPS_NAME) as temporary:
        out = np.lib.format.open_memmap(temporary, "w+", np.uint8, (len(kept), *crops[0].shape[1:]))
        for start in range(0, len(kept), COPY_ROWS):
            chunk = kept[start:start + COPY_ROWS]
            out[start:start + len(chunk)] = np.stack([crops[pick.folder][pick.entry.index] for pick in chunk])
        out.flush()
        del out
    save_npy(dst / BOXES_NAME, np.array([boxes[pick.folder][pick.entry.index] for pick in kept], np.float32))


def add_merge_parser(commands: argparse._SubParsersAction, positive_int) -> None:
    """Register `merge` (the caller's `positive_int` argparse type checks --min-images)."""
    p = commands.add_parser(
        "merge", help="combine prepared folders into one (one person per name)",
        description="Combine folders written by 'prepare' into DST: one label per person, where the same name "
                    "(or a --same-person line) in several folders is one person.")
    p.add_argument("dst", type=Path, help="output folder (new)")
    p.add_argument("sources", type=Path, nargs="+", metavar="SRC", help="folders written by 'sphereapp-train prepare'")
    p.add_argument("--same-person", type=Path, metavar="NAMES.tsv",
                   help="lines 'name<TAB>name...' of one person each, e.g. train/in_lfw_pairs.txt")
    p.add_argument("--exclude", type=Path, metavar="NAMES.txt",
                   help="leave out people named in this file (any tab-separated column of any line)")
    p.add_argument("--min-images", type=positive_int, default=1,
                   help="drop people with fewer crops than this after merging (default: 1)")
    p.set_defaults(run=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    merge(args.sources, args.dst, args.same_person, args.exclude, args.min_images)
    return 0
