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
    """Return a copy of the RGB uint8 `image` with every face's box and tag drawn; `image` is left unchanged."""
    canvas = np.ascontiguousarray(image).copy()
    style = _style_for(*canvas.shape[:2])
    for label in labels:
        _draw_face(canvas, label, style, show_scores)
    return canvas


def _style_for(height: int, width: int) -> _Style:
    """Line width and font size proportional to the frame's short side: 2 px / 13 px at 360p, 9 / 77 at 4K."""
    short_side = min(height, width)
    font_size = max(12, round(short_side / 28))
    return _Style(thickness=max(2, round(short_side / 240)), font_size=font_size, padding=max(2, font_size // 4))


def _draw_face(canvas: np.ndarray, label: FaceLabel, style: _Style, show_scores: bool) -> None:
    """Draw one face's box and tag on `canvas` in place."""
    height, width = canvas.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in np.asarray(label.box, np.float64).round())
    x1, x2 = min(max(x1, 0), width - 1), min(max(x2, 0), width - 1)
    y1, y2 = min(max(y1, 0), height - 1), min(max(y2, 0), height - 1)
    if label.name is None:
        color, text = UNKNOWN_COLOR, "unknown"
        _dashed_rectangle(canvas, (x1, y1), (x2, y2), color, style.thickness)
    else:
        color, text = label.color or identity_color(label.name), label.name
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, style.thickness, cv2.LINE_AA)
    if show_scores:
        text = f"{text} {label.score:.2f}"
    _draw_tag(canvas, text, color, (x1 - style.thickness // 2, y1 - style.thickness // 2), style)


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


def _draw_tag(canvas: np.ndarray, text: str, color: Color, box_corner: tuple[int, int], style: _Style) -> None:
    """Filled tag with `text` sitting on the box's top-left corner; moved inside the box/image near the edges."""
    font = _font(style.font_size)
    ascent, descent = font.getmetrics()
    text_width = int(np.ceil(font.getlength(text)))
    tag_w, tag_h = text_width + 2 * style.padding, ascent + descent + 2 * style.padding
    tag = Image.new("RGB", (tag_w, tag_h), color)
    ImageDraw.Draw(tag).text((style.padding, style.padding), text, font=font, fill=_text_color(color))

    height, width = canvas.shape[:2]
    x, y = box_corner
    y = y - tag_h if y >= tag_h else y  # above the box, or just inside its top edge when there is no room
    x, y = max(0, min(x, width - tag_w)), max(0, min(y, height - tag_h))
    visible_w, visible_h = min(tag_w, width - x), min(tag_h, height - y)
    canvas[y:y + visible_h, x:x + visible_w] = np.asarray(tag)[:visible_h, :visible_w]


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
