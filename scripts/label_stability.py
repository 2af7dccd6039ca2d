"""Label stability on a real multi-face video: per-frame naming vs tracked naming vs the faster settings.

Enrols the K largest faces of one frame of the video as people person_1..K, recognises every frame once, then
names the same faces two ways:
  per-frame  - each frame on its own (`sphereapp run --no-tracking`);
  tracked    - tracks named from their window-mean scores (`sphereapp run`, the default);
and runs the video again tracked with each faster setting K:N[:S] given to --check (`sphereapp run --detect-every K
--embed-every N --scan-every S`: detection on every K-th frame, a followed face embedded on every N-th detection,
whole frames scanned on every S-th detection and searched near known faces on the others; S defaults to 1).
Prints, per way: label changes per track (flicker), how often an enrolled person's own track carries their name,
frames where two faces carry one name (the app names a person on one face a frame: always 0) and frames where
that rule acted (each face's best person alone would have put one name on two faces: at least one certainly
wrong), and for the faster settings the agreement with the tracked labels face by face.

    python scripts/label_stability.py --model sphereapp/assets/sphereface20.safetensors \\
        [--video ../shared/data/video/hikers_walking_640x480.mp4] [--enrol-at 2.0] [--people 3] [--check 3:1 3:2]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.identities.enrol import Enroller
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.match import identity_from_scores
from sphereapp.core.media.annotate import identity_color
from sphereapp.core.media.video import VideoReader
from sphereapp.core.recognition.geometry import match_boxes
from sphereapp.core.recognition.keyframes import recognised_frames
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FrameResult, label_faces
from sphereapp.core.recognition.speed import EVERY_FRAME, Speed
from sphereapp.core.recognition.tracking import Tracker
from sphereapp.core.vision.components import load_components

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "hikers_walking_640x480.mp4"


def enrol_from_frame(video: Path, at_seconds: float, people: int, components) -> tuple[Gallery, int, np.ndarray]:
    """Gallery of the `people` largest faces of the frame at `at_seconds`; its index and the enrolled boxes."""
    enroller = Enroller(components.detector, components.embedder)
    with VideoReader(video) as reader:
        frame = next(f for f in reader if f.time >= at_seconds)
    detections = components.detector.detect([frame.image])[0]
    areas = np.prod(detections.boxes[:, 2:] - detections.boxes[:, :2], axis=1)
    chosen = np.argsort(-areas)[:people]
    if len(chosen) < people:
        sys.exit(f"only {len(chosen)} faces at {at_seconds} s; pick another --enrol-at")
    names, colors, embeddings = [], [], []
    for k, row in enumerate(chosen, start=1):
        enrolment = enroller.enrol_face(frame.image, detections.boxes[row], detections.landmarks[row])
        names.append(f"person_{k}")
        colors.append(identity_color(names[-1], colors))
        embeddings.append(enrolment.embedding)
    return Gallery(names, colors, np.stack(embeddings)), frame.index, detections.boxes[chosen]


def recognise_all(video: Path, recognizer: Recognizer, speed: Speed = EVERY_FRAME) -> list[FrameResult]:
    with VideoReader(video) as reader:
        return [result for _, result in recognised_frames(reader, recognizer, speed)]


Named = list[list[tuple[int, int, int]]]  # per frame, per face: (track id, identity, its best person alone)


def track_all(results: list[FrameResult], threshold: float) -> list[FrameResult]:
    """Every frame's faces named by the tracker (`sphereapp run`, the default)."""
    tracker = Tracker()
    return [replace(r, faces=tracker.update(r.faces, threshold)) for r in results]


def name_tracked(tracked: list[FrameResult], threshold: float) -> Named:
    """(Track id, identity, best person alone) of every face of every frame named by the tracker."""
    return [[(face.track, face.identity, identity_from_scores(face.track_scores, threshold)[0]) for face in r.faces]
            for r in tracked]


def name_per_frame(results: list[FrameResult], tracks: Named, threshold: float) -> Named:
    """Same faces and track ids, each frame named from its own scores (`sphereapp run --no-tracking`)."""
    return [[(track, face.identity, identity_from_scores(face.scores, threshold)[0])
             for (track, _, _), face in zip(frame_tracks, label_faces(r.faces, threshold))]
            for r, frame_tracks in zip(results, tracks)]


def name_twice(identities: list[int]) -> bool:
    """Does one known person's name appear on two of these faces?"""
    return any(n > 1 for n in Counter(i for i in identities if i >= 0).values())


def stability(named: Named, enrol_tracks: dict[int, int]) -> dict:
    """Flicker, own-name rate of the enrolled people's tracks, and frames with one name on two faces."""
    sequences: dict[int, list[int]] = defaultdict(list)
    for frame in named:
        for track, identity, _ in frame:
            sequences[track].append(identity)
    changes = [sum(a != b for a, b in zip(seq, seq[1:])) for seq in sequences.values() if len(seq) > 1]
    own = [identity == person for track, person in enrol_tracks.items() for identity in sequences[track]]
    named_faces = sum(identity >= 0 for frame in named for _, identity, _ in frame)
    return {
        "tracks": len(sequences),
        "label_changes": int(sum(changes)),
        "tracks_with_changes": int(sum(c > 0 for c in changes)),
        "changes_per_track": round(float(np.mean(changes)) if changes else 0.0, 3),
        "own_name_rate": round(float(np.mean(own)) if own else float("nan"), 4),
        "frames_with_a_name_twice": sum(name_twice([identity for _, identity, _ in frame]) for frame in named),
        "frames_the_rule_resolved": sum(name_twice([alone for _, _, alone in frame]) for frame in named),
        "named_faces": int(named_faces),
    }


def agreement(reference: list[FrameResult], faster: list[FrameResult]) -> float:
    """Fraction of reference faces whose IoU-matched face of the faster run has the same identity (missing =
    disagree)."""
    same = total = 0
    for a, b in zip(reference, faster):
        pairs = dict(match_boxes(np.array([f.box for f in a.faces]), np.array([f.box for f in b.faces]), 0.3))
        for i, face in enumerate(a.faces):
            total += 1
            same += i in pairs and b.faces[pairs[i]].identity == face.identity
    return same / total if total else float("nan")


def setting(text: str) -> Speed:
    """'K:N' or 'K:N:S' -> Speed(K, N, S), all at least 1 (S: 1 when left out)."""
    try:
        values = [int(v) for v in text.split(":")]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expected K:N or K:N:S (whole numbers), not {text!r}")
    try:
        return Speed(*values, *[1] * (3 - len(values)))
    except InputError as error:
        raise argparse.ArgumentTypeError(f"{error} in {text!r}") from error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="embedder weights")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--enrol-at", type=float, default=2.0, help="time (s) of the frame to enrol from")
    parser.add_argument("--people", type=int, default=3, help="largest faces of that frame to enrol")
    parser.add_argument("--check", nargs="+", type=setting, default=[Speed(3, 1, 1), Speed(1, 3, 1), Speed(3, 2, 1)],
                        metavar="K:N[:S]", help="faster settings to check: --detect-every K --embed-every N "
                        "--scan-every S")
    parser.add_argument("--threshold", type=float, help="default: the model's")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"video not found: {args.video}")
    components = load_components(args.model, "auto")
    threshold = components.embedder.info.threshold if args.threshold is None else args.threshold
    gallery, enrol_index, enrol_boxes = enrol_from_frame(args.video, args.enrol_at, args.people, components)
    recognizer = Recognizer(components.detector, components.embedder, gallery, threshold)

    results = recognise_all(args.video, recognizer)
    reference = track_all(results, threshold)
    tracked = name_tracked(reference, threshold)
    frame_at = next(k for k, r in enumerate(results) if r.index == enrol_index)
    enrolled_faces = match_boxes(enrol_boxes, np.array([f.box for f in results[frame_at].faces]), 0.5)
    enrol_tracks = {tracked[frame_at][j][0]: person for person, j in enrolled_faces}
    per_frame = name_per_frame(results, tracked, threshold)

    report = {
        "video": str(args.video), "frames": len(results), "threshold": threshold, "people": gallery.names,
        "enrolled_at_frame": enrol_index, "model": components.model_name,
        "per_frame": stability(per_frame, enrol_tracks),
        "tracked": stability(tracked, enrol_tracks),
    }
    for speed in args.check:
        faster = track_all(recognise_all(args.video, recognizer, speed), threshold)
        faster_named = name_tracked(faster, threshold)
        faster_tracks = {}
        for person, box in enumerate(enrol_boxes):  # this run's tracks through the enrolled faces
            pairs = match_boxes(box[None], np.array([f.box for f in faster[frame_at].faces]), 0.5)
            faster_tracks.update({faster_named[frame_at][j][0]: person for _, j in pairs})
        name = (f"detect_{speed.detect_every}_embed_{speed.embed_every}"
                + (f"_scan_{speed.scan_every}" if speed.scan_every > 1 else ""))
        report[name] = stability(faster_named, faster_tracks) | {
            "agreement_with_tracked": round(agreement(reference, faster), 4)}

    print(f"{args.video.name}: {len(results)} frames, {len(gallery.names)} people enrolled from frame {enrol_index}, "
          f"threshold {threshold:.3f}")
    ways = [way for way in report if way == "per_frame" or way == "tracked" or way.startswith("detect_")]
    keys = list(report["tracked"]) + ["agreement_with_tracked"]
    print(f"{'':>18} " + " ".join(f"{k:>22}" for k in keys))
    for way in ways:
        print(f"{way:>18} " + " ".join(f"{report[way].get(k, '')!s:>22}" for k in keys))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
