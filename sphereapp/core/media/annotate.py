"""Drawing recognised faces on RGB frames: coloured boxes with name/score tags, grey dashed boxes for unknowns."""

from __future__ import annotations

import colorsys
import hashlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Color = tuple[int, int, int]

UNKNOWN_COLOR: Color = (160, 160, 160)  # grey is reserved for unknown faces; identity colours are never grey
GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
HUE_CANDIDATES = 32
MIN_LUMA = 0.5  # identity colours are lifted towards white up to this Rec. 601 luma, to read on dark video
FONT_FILE = "DejaVuSans.ttf"


@dataclass
class FaceLabel:
    """One face to draw: box (x1, y1, x2, y2) in pixels, name (None = unknown), similarity score, RGB colour."""

    box: np.ndarray
    name: str | None
    score: float
    color: Color | None = None  # None: identity_color(name); ignored for unknown faces


@dataclass(frozen=True)
class _Style:
    """Line and text sizes for one frame size."""

    thickness: int
    font_size: int
    padding: int


def identity_color(name: str, taken: Sequence[Color] = ()) -> Color:
    """Stable RGB colour for a name, saturated, bright, never grey, and far in hue from the `taken` colours.

    The hue starts from sha256(name); with colours already taken it is the one of HUE_CANDIDATES golden-ratio steps
    from there that is farthest from every taken hue (so 2 people get clearly different colours, 10 stay apart).
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    first_hue = int.from_bytes(digest[:4], "big") * GOLDEN_RATIO_CONJUGATE
    candidates = (first_hue + np.arange(HUE_CANDIDATES) * GOLDEN_RATIO_CONJUGATE) % 1.0
    hue = candidates[0]
    if taken:
        taken_hues = np.array([colorsys.rgb_to_hsv(*(np.array(color) / 255))[0] for color in taken])
        gap = np.abs(candidates[:, None] - taken_hues[None, :])
        hue = candidates[int(np.argmax(np.minimum(gap, 1.0 - gap).min(axis=1)))]
    saturation = 0.8 + 0.2 * digest[4] / 255
    rgb = np.array(colorsys.hsv_to_rgb(hue, saturation, 1.0))
    luma = _luma(rgb)
    if luma < MIN_LUMA:  # blue and purple hues: mix in white until they are bright enough (the hue is kept)
        rgb = rgb + (1.0 - rgb) * (MIN_LUMA - luma) / (1.0 - luma)
    return tuple(int(round(channel * 255)) for channel in rgb)


def draw_faces(image: np.ndarray, labels: Sequence[FaceLabel], show_scores: bool = True) -> np.ndarray:
    """Return a copy of the RGB uint8 `image` with every face's box and tag drawn; `image` is left unchanged.

    Named faces' tags are placed first and drawn last (on top); each tag goes above its box, below it or just
    inside its top edge, wherever it covers the fewest tags already placed (then the fewest faces).
    """
    canvas = np.ascontiguousarray(image).copy()
    style = _style_for(*canvas.shape[:2])
    order = sorted(range(len(labels)), key=lambda i: labels[i].name is None)  # named first, stable
    boxes = [_pixel_box(label.box, canvas.shape) for label in labels]
    placed: list[tuple[int, int, int, int]] = []
    tags = []
    for i in order:
        tag = _render_tag(_tag_text(labels[i], show_scores), _label_color(labels[i]), style)
        corner = _place_tag(tag.shape[1], tag.shape[0], boxes[i], boxes, placed, canvas.shape, style)
        placed.append((*corner, corner[0] + tag.shape[1], corner[1] + tag.shape[0]))
        tags.append((tag, corner))
    for i in order[::-1]:  # unknown faces first, named ones on top
        _draw_box(canvas, labels[i], boxes[i], style)
    for tag, (x, y) in tags[::-1]:
        visible = canvas[y:y + tag.shape[0], x:x + tag.shape[1]]  # a tag wider than the image is cut at its edge
        visible[:] = tag[:visible.shape[0], :visible.shape[1]]
    return canvas


def _style_for(height: int, width: int) -> _Style:
    """Line width and font size proportional to the frame's short side: 2 px / 13 px at 360p, 9 / 77 at 4K."""
    short_side = min(height, width)
    font_size = max(12, round(short_side / 28))
    return _Style(thickness=max(2, round(short_side / 240)), font_size=font_size, padding=max(2, font_size // 4))


def _pixel_box(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A face box rounded to pixels and clipped to the image."""
    height, width = shape[:2]
    x1, y1, x2, y2 = (int(v) for v in np.asarray(box, np.float64).round())
    return (min(max(x1, 0), width - 1), min(max(y1, 0), height - 1),
            min(max(x2, 0), width - 1), min(max(y2, 0), height - 1))


def _label_color(label: FaceLabel) -> Color:
    return UNKNOWN_COLOR if label.name is None else label.color or identity_color(label.name)


def _tag_text(label: FaceLabel, show_scores: bool) -> str:
    """'name 0.73' or 'unknown 0.21'; no score when there is none (an empty gallery) or scores are hidden."""
    text = "unknown" if label.name is None else label.name
    return f"{text} {label.score:.2f}" if show_scores and not np.isnan(label.score) else text


def _draw_box(canvas: np.ndarray, label: FaceLabel, box: tuple[int, int, int, int], style: _Style) -> None:
    """A face's outline in place: solid in its colour when named, dashed grey when unknown."""
    x1, y1, x2, y2 = box
    if label.name is None:
        _dashed_rectangle(canvas, (x1, y1), (x2, y2), UNKNOWN_COLOR, style.thickness)
    else:
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _label_color(label), style.thickness, cv2.LINE_AA)


def _dashed_rectangle(canvas: np.ndarray, top_left: tuple[int, int], bottom_right: tuple[int, int],
                      color: Color, thickness: int) -> None:
    """Rectangle outline made of dashes that start at each corner, so the corners always show."""
    (x1, y1), (x2, y2) = top_left, bottom_right
    dash, period = 4 * thickness, 7 * thickness
    for start, end in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        start, end = np.array(start, np.float64), np.array(end, np.float64)
        length = float(np.linalg.norm(end - start))
        direction = (end - start) / length if length else np.zeros(2)
        for offset in np.arange(0.0, max(length, 1.0), period):
            a = start + direction * offset
            b = start + direction * min(offset + dash, length)
            cv2.line(canvas, tuple(int(v) for v in a.round()), tuple(int(v) for v in b.round()), color, thickness,
                     cv2.LINE_AA)


def _render_tag(text: str, color: Color, style: _Style) -> np.ndarray:
    """(h, w, 3) uint8 filled tag with `text` in black or white, whichever reads on `color`."""
    font = _font(style.font_size)
    ascent, descent = font.getmetrics()
    text_width = int(np.ceil(font.getlength(text)))
    tag = Image.new("RGB", (text_width + 2 * style.padding, ascent + descent + 2 * style.padding), color)
    ImageDraw.Draw(tag).text((style.padding, style.padding), text, font=font, fill=_text_color(color))
    return np.asarray(tag)


def _place_tag(tag_w: int, tag_h: int, box: tuple[int, int, int, int], faces: Sequence[tuple[int, int, int, int]],
               placed: Sequence[tuple[int, int, int, int]], shape: tuple[int, ...], style: _Style) -> tuple[int, int]:
    """Top-left corner of a tag for `box`: on the box's top-left corner above it, below its bottom edge, or just
    inside its top edge, kept in the image; the first that overlaps the fewest placed tags, then other faces."""
    height, width = shape[:2]
    x1, y1, _, y2 = box
    edge = style.thickness // 2
    candidates = [(x1 - edge, y1 - edge - tag_h), (x1 - edge, y2 + edge + 1), (x1 - edge, y1 - edge)]
    if y1 - edge < tag_h:  # no room above the box: just inside its top edge first
        candidates = candidates[2:] + candidates[:2]
    best, best_cost = None, None
    for x, y in candidates:
        x, y = max(0, min(x, width - tag_w)), max(0, min(y, height - tag_h))
        rect = (x, y, x + tag_w, y + tag_h)
        cost = (sum(_overlap(rect, other) for other in placed),
                sum(_overlap(rect, face) for face in faces if face != box))
        if best_cost is None or cost < best_cost:
            best, best_cost = (x, y), cost
    return best


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Area shared by two (x1, y1, x2, y2) rectangles."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _luma(rgb: np.ndarray) -> float:
    """Rec. 601 luma of an RGB colour with channels in 0..1."""
    return float(rgb @ np.array([0.299, 0.587, 0.114]))


def _text_color(color: Color) -> Color:
    """Black text on light tags, white on dark ones."""
    return (0, 0, 0) if _luma(np.array(color) / 255) >= 0.5 else (255, 255, 255)


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` px when found, else Pillow's built-in font; cached per size."""
    path = _font_path()
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size=size)


@lru_cache(maxsize=1)
def _font_path() -> Path | None:
    """DejaVuSans.ttf from matplotlib's bundled fonts or the system's font folders, if any has it."""
    spec = importlib.util.find_spec("matplotlib")  # locates matplotlib without importing it
    for location in (spec and spec.submodule_search_locations) or []:
        bundled = Path(location) / "mpl-data" / "fonts" / "ttf" / FONT_FILE
        if bundled.is_file():
            return bundled
    home = Path.home()
    font_dirs = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), home / ".local/share/fonts",
                 home / ".fonts", Path("/Library/Fonts"), home / "Library/Fonts",
                 Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"]
    for folder in font_dirs:
        if folder.is_dir():
            found = next(folder.rglob(FONT_FILE), None)
            if found:
                return found
    return None
