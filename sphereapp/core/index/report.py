"""The people index written out: JSON (for programs and `gallery add-from-index`), one self-contained HTML page with
a timeline strip per person, and a CSV of appearances. Each file is written whole or not at all."""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.files import replacing
from sphereapp.core.index.people import Person

CSV_HEADER = ("label", "name", "known", "start", "end")
JPEG_QUALITY = 90


@dataclass(frozen=True)
class VideoIndex:
    """The people of one video and what produced them."""

    video: str
    duration: float
    model: str
    threshold: float
    people: tuple[Person, ...]
    indexed_until: float | None = None  # while indexing runs: the seconds of video indexed so far; None: all of it

    @property
    def partial(self) -> bool:
        """Whether this is a snapshot of an index still being made (or stopped before the end)."""
        return self.indexed_until is not None


def thumbnail_data_uri(image: np.ndarray) -> str:
    """An RGB image as a JPEG data URI."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InputError("cannot encode a thumbnail as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def decode_data_uri(uri: str) -> np.ndarray:
    """The RGB image of a JPEG/PNG data URI; InputError when it is not one."""
    head, _, data = uri.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        raise InputError("the index's thumbnail is not an embedded image (data URI)")
    image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError("the index's thumbnail cannot be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def index_to_dict(index: VideoIndex) -> dict:
    """The JSON form: video, duration, model, threshold and each person with their appearances and thumbnail."""
    return {
        "video": index.video, "duration": round(index.duration, 3), "model": index.model,
        "threshold": round(index.threshold, 4),
        "people": [{"label": p.label, "name": p.name, "known": p.known, "seconds": round(p.seconds, 3),
                    "faces": p.faces, "mean_score": round(p.mean_score, 4),
                    "appearances": [{"start": a.start, "end": a.end} for a in p.appearances],
                    "thumbnail": thumbnail_data_uri(p.thumbnail)} for p in index.people],
    }


def write_json(path: str | Path, index: VideoIndex) -> None:
    with replacing(path) as temporary:
        temporary.write_text(json.dumps(index_to_dict(index), indent=2) + "\n", encoding="utf-8")


def read_index(path: str | Path) -> dict:
    """A people index JSON written by `sphereapp index`; InputError with one line otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"index file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"cannot read index file '{path}': {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InputError(f"'{path}' is not a sphereapp people index (no 'people' list)")
    return data


def write_csv(path: str | Path, index: VideoIndex) -> None:
    """One row per appearance: label, name (empty for unknown), known, start, end (seconds)."""
    with replacing(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for person in index.people:
            writer.writerows((person.label, person.name or "", int(person.known), a.start, a.end)
                             for a in person.appearances)


def write_html(path: str | Path, index: VideoIndex) -> None:
    """One self-contained page: a row per person with the best face, screen time and a timeline strip."""
    with replacing(path) as temporary:
        temporary.write_text(render_html(index), encoding="utf-8")


INDEX_WRITERS = {".html": write_html, ".htm": write_html, ".json": write_json, ".csv": write_csv}  # by file suffix


def index_file(path: str | Path, default_suffix: str = ".html") -> Path:
    """Where `write_index` writes: `path`, with `default_suffix` added when it has no suffix; InputError when its
    suffix names no index format."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + default_suffix)
    if path.suffix.lower() not in INDEX_WRITERS:
        raise InputError(f"cannot save the people index as '{path.name}': name it .html (report), .json (index) "
                         f"or .csv (appearances)")
    return path


def write_index(path: str | Path, index: VideoIndex, default_suffix: str = ".html") -> Path:
    """Write `index` in the format its file's suffix names (see `index_file`), whole or not at all; returns the file
    written. InputError with one line when it cannot be written, or when the index is partial (its files say
    nothing of the part of the video left out)."""
    if index.partial:
        raise InputError("the people index is partial: save it once indexing has finished")
    path = index_file(path, default_suffix)
    try:
        INDEX_WRITERS[path.suffix.lower()](path, index)
    except OSError as error:
        raise InputError(f"cannot write '{path}': {error.strerror or error}") from error
    return path


def render_html(index: VideoIndex) -> str:
    rows = "\n".join(_person_row(person, index.duration) for person in index.people)
    known = sum(person.known for person in index.people)
    title = html.escape(Path(index.video).name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>People in {title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} .meta {{ color: #666; margin-bottom: 16px; }}
.person {{ display: flex; align-items: center; gap: 16px; padding: 8px; border-bottom: 1px solid #ddd; }}
.person img {{ width: 68px; height: 84px; object-fit: cover; border-radius: 4px; }} .who {{ width: 190px; }}
.who b {{ display: block; font-size: 15px; }} .unknown b {{ color: #777; }}
.strip {{ position: relative; flex: 1; height: 22px; background: #e4e4e4; border-radius: 3px; }}
.strip span {{ position: absolute; top: 0; bottom: 0; min-width: 2px; background: #1f77b4; }}
.unknown .strip span {{ background: #999; }}
</style></head><body>
<h1>People in {title}</h1>
<div class="meta">{len(index.people)} people ({known} known, {len(index.people) - known} unknown) in
{_clock(index.duration)} &middot; model {html.escape(index.model)} &middot; threshold {index.threshold:.3f}</div>
{rows}
</body></html>
"""


def _person_row(person: Person, duration: float) -> str:
    spans = "".join(
        f'<span style="left:{100 * a.start / duration:.3f}%;width:{100 * (a.end - a.start) / duration:.3f}%" '
        f'title="{_clock(a.start)} - {_clock(a.end)}"></span>' for a in person.appearances) if duration > 0 else ""
    kind = "known" if person.known else "unknown"
    return (f'<div class="person {kind}"><img src="{thumbnail_data_uri(person.thumbnail)}" alt="">'
            f'<div class="who"><b>{html.escape(person.label)}</b>{person.seconds:.1f} s on screen, '
            f'{len(person.appearances)} appearance{"s" if len(person.appearances) != 1 else ""}, '
            f'mean score {person.mean_score:.2f}</div><div class="strip">{spans}</div></div>')


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def find_person(data: dict, label: str) -> dict:
    """The entry of `label` in a people index (InputError listing the labels when absent)."""
    for person in data["people"]:
        if person.get("label") == label:
            return person
    labels: Sequence[str] = [str(p.get("label")) for p in data["people"]]
    raise InputError(f"no '{label}' in the index; its people are: {', '.join(labels) or 'none'}")
