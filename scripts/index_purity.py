"""How well `sphereapp index` groups people: its groups scored against faces labelled by hand.

Indexes a video with the core API (the shipped model and default settings unless told otherwise; no gallery unless
--gallery), finds for every ground-truth face (a row `frame,x,y,person` of the truth CSV: a box centre in that
frame and who it is) the tracked face whose box contains that point, and scores the index's groups (unknown groups
and known people) by ground-truth faces:
  purity - the share of a group's ground-truth faces that belong to its majority person;
  splits - how many groups a real person's faces are spread over (1 = never split).
Faces that no tracked box contains, and faces on tracks too short to be indexed, are counted apart.

    python scripts/index_purity.py ../shared/data/video/hikers_walking_640x480.mp4 \\
        configs/eval/people_truth_hikers.csv [--gallery sphereapp/assets/demo/gallery] [--json purity.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sphereapp.commands import check_output_path
from sphereapp.core.drivers.index import index_video
from sphereapp.core.errors import InputError
from sphereapp.core.identities.enrol import Enroller, open_gallery
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.index.people import IndexedFace
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.vision.components import load_components

TRUTH_HEADER = ["frame", "x", "y", "person"]
NO_TRACK, SHORT_TRACK = "no tracked face", "track too short to be indexed"


@dataclass(frozen=True)
class TruthFace:
    """A face labelled by hand: the frame, its box centre (pixels) and who it is."""

    frame: int
    x: float
    y: float
    person: str


def read_truth(path: Path) -> list[TruthFace]:
    """The rows of a truth CSV (lines starting with '#' are comments); InputError with one line when malformed."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    except OSError as error:
        raise InputError(f"cannot read truth file '{path}': {error.strerror or error}") from None
    rows = list(csv.reader(lines))
    if not rows or [cell.strip() for cell in rows[0]] != TRUTH_HEADER:
        raise InputError(f"'{path}' must start with the header {','.join(TRUTH_HEADER)}")
    faces = []
    for number, row in enumerate(rows[1:], start=2):
        try:
            frame, x, y, person = row
            faces.append(TruthFace(int(frame), float(x), float(y), person.strip()))
        except ValueError:
            raise InputError(f"'{path}' row {number}: expected frame,x,y,person, got {','.join(row)}") from None
    return faces


def track_at(faces: Sequence[IndexedFace], x: float, y: float) -> int | None:
    """The track of the smallest box among `faces` that contains (x, y); None when no box does."""
    inside = [face for face in faces if face.box[0] <= x <= face.box[2] and face.box[1] <= y <= face.box[3]]
    if not inside:
        return None
    return min(inside, key=lambda face: float(np.prod(face.box[2:] - face.box[:2]))).track


def score(labelled: Sequence[tuple[str, str]]) -> dict:
    """Purity of each group and splits of each person from (group, person) pairs, one per ground-truth face."""
    by_group: dict[str, Counter] = defaultdict(Counter)
    by_person: dict[str, Counter] = defaultdict(Counter)
    for group, person in labelled:
        by_group[group][person] += 1
        by_person[person][group] += 1
    groups = {}
    for group, people in by_group.items():
        majority, count = people.most_common(1)[0]
        groups[group] = {"faces": sum(people.values()), "majority": majority,
                         "purity": round(count / sum(people.values()), 4), "people": dict(people)}
    persons = {person: {"faces": sum(found.values()), "splits": len(found), "groups": dict(found)}
               for person, found in by_person.items()}
    return {"groups": groups, "people": persons,
            "mean_purity": round(float(np.mean([g["purity"] for g in groups.values()])), 4) if groups else None,
            "mean_splits": round(float(np.mean([p["splits"] for p in persons.values()])), 4) if persons else None}


def evaluate(video: Path, truth: list[TruthFace], gallery: str | None, model: str | None) -> dict:
    """Index `video` and score its groups against `truth`."""
    components = load_components(model)
    embedder = components.embedder
    chosen = (open_gallery(gallery, Enroller(components.detector, embedder), embedder) if gallery
              else Gallery([], [], np.zeros((0, embedder.info.embedding_size), np.float32)))
    wanted = {face.frame for face in truth}
    seen: dict[int, Sequence[IndexedFace]] = {}

    def keep(frame: int, faces: Sequence[IndexedFace]) -> None:
        if frame in wanted:
            seen[frame] = faces

    index = index_video(video, Recognizer(components.detector, embedder, chosen, embedder.info.threshold),
                        model_name=components.model_name, on_faces=keep)
    group_of = {track: person.label for person in index.people for track in person.tracks}
    labelled, missed, on_track = [], [], defaultdict(set)
    for face in truth:
        track = track_at(seen.get(face.frame, ()), face.x, face.y)
        group = NO_TRACK if track is None else group_of.get(track, SHORT_TRACK)
        if group in (NO_TRACK, SHORT_TRACK):
            missed.append({"frame": face.frame, "person": face.person, "why": group})
        else:
            labelled.append((group, face.person))
            on_track[track].add(face.person)
    figures = score(labelled)
    tracks = {person.label: len(person.tracks) for person in index.people}
    figures["groups"] = {label: figures["groups"][label] | {"tracks": tracks[label]}
                         for label in tracks if label in figures["groups"]}  # in the index's order
    return {"video": str(video), "model": index.model, "threshold": round(index.threshold, 4),
            "truth_faces": len(truth), "truth_people": len({face.person for face in truth}),
            "index_groups": len(index.people), "groups_without_truth": len(tracks) - len(figures["groups"]),
            "tracks_with_truth": len(on_track), "mixed_tracks": sum(len(people) > 1 for people in on_track.values()),
            "no_track": sum(m["why"] == NO_TRACK for m in missed),
            "short_track": sum(m["why"] == SHORT_TRACK for m in missed), "unmatched": missed} | figures


def print_report(figures: dict) -> None:
    print(f"{Path(figures['video']).name}: {figures['truth_faces']} ground-truth faces of {figures['truth_people']} "
          f"people; the index has {figures['index_groups']} groups (model {figures['model']}, threshold "
          f"{figures['threshold']})")
    print(f"  unmatched: {figures['no_track']} with no tracked face, {figures['short_track']} on tracks too short "
          f"to be indexed; {figures['groups_without_truth']} groups hold no ground-truth face")
    print(f"  tracks holding faces of two or more people (a tracker swap, not a grouping error): "
          f"{figures['mixed_tracks']} of {figures['tracks_with_truth']}")
    print("  group purity (share of its ground-truth faces that are its majority person):")
    for label, entry in figures["groups"].items():
        others = ", ".join(f"{p} {n}" for p, n in entry["people"].items() if p != entry["majority"])
        print(f"    {label}: {entry['purity']:.2f} of {entry['faces']} faces ({entry['tracks']} track(s)) are "
              f"{entry['majority']}" + (f"; also {others}" if others else ""))
    print("  groups per real person:")
    for person, entry in sorted(figures["people"].items()):
        groups = ", ".join(f"{g} ({n})" for g, n in entry["groups"].items())
        print(f"    {person}: {entry['splits']} group(s) over {entry['faces']} faces: {groups}")
    print(f"  mean purity {figures['mean_purity']}, mean groups per person {figures['mean_splits']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path, help="the video to index")
    parser.add_argument("truth", type=Path,
                        help="ground truth CSV: frame,x,y,person (e.g. configs/eval/people_truth_hikers.csv)")
    parser.add_argument("--gallery", help="a gallery folder or store file (default: none, everyone unknown)")
    parser.add_argument("--model", help="embedder weights (default: the shipped model)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    try:
        if not args.video.is_file():
            raise InputError(f"video not found: {args.video}")
        truth = read_truth(args.truth)
        if args.json:
            check_output_path(args.json)
        figures = evaluate(args.video, truth, args.gallery, args.model)
    except InputError as error:
        sys.exit(f"error: {error}")
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
