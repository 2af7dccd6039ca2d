"""identity_color and draw_faces: stable colours, boxes and tags that stay readable and in bounds."""

import colorsys
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sphereapp.core.media import annotate
from sphereapp.core.media.annotate import UNKNOWN_COLOR, FaceLabel, draw_faces, identity_color

NAMES = [f"person {i:02d}" for i in range(18)] + ["Zoë Ødegård", "李小龙"]


def black(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


def mask_of(image: np.ndarray, color) -> np.ndarray:
    return (image == np.array(color, np.uint8)).all(axis=2)


def extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 (inclusive) of the True pixels."""
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max(), ys.max()


def run_length(line: np.ndarray) -> int:
    """Length of the first run of non-black pixels along a 1-D line of RGB pixels."""
    lit = line.any(axis=-1)
    start = int(np.argmax(lit))
    assert lit[start]
    stop = np.argmin(lit[start:])
    return int(stop) if stop else len(lit) - start


# --- identity_color --------------------------------------------------------------------------------

def test_colors_are_stable_across_processes_with_different_hash_seeds():
    script = "from sphereapp.core.media.annotate import identity_color as c; import sys; " \
             "print([c(n) for n in sys.argv[1:]])"
    expected = str([identity_color(name) for name in NAMES])
    repo_root = str(Path(__file__).resolve().parents[1])
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": repo_root}
        out = subprocess.run([sys.executable, "-c", script, *NAMES], env=env, capture_output=True, text=True,
                             check=True, cwd=repo_root)
        assert out.stdout.strip() == expected


def test_colors_are_distinct_for_twenty_names():
    assert len({identity_color(name) for name in NAMES}) == len(NAMES)


def test_colors_are_saturated_bright_and_never_grey():
    for name in NAMES + [f"extra {i}" for i in range(300)]:
        color = np.array(identity_color(name))
        assert ((0 <= color) & (color <= 255)).all()
        assert color.max() - color.min() >= 100, name  # far from the grey axis
        assert color @ [0.299, 0.587, 0.114] >= 0.5 * 255 - 1, name  # readable on dark video
        assert tuple(color) != UNKNOWN_COLOR


# --- draw_faces ------------------------------------------------------------------------------------

def test_box_and_tag_are_drawn_on_a_copy_and_nothing_far_away_changes():
    image = black(360, 640)
    color = (255, 220, 0)
    out = draw_faces(image, [FaceLabel(np.array([200, 150, 300, 250]), "Alice", 0.73, color)])
    assert not image.any()  # the input is untouched
    assert tuple(out[200, 200]) == color and tuple(out[150, 250]) == color  # left and top edges
    assert tuple(out[250, 300]) == color  # bottom-right corner
    assert not out[170:230, 220:280].any()  # the face itself is not covered
    assert not out[260:].any() and not out[:, 420:].any()  # nothing far from the box
    tag_x1, tag_y1, tag_x2, tag_y2 = extent(mask_of(out[:146], color))
    assert tag_y2 >= 140 and tag_x1 <= 200 and tag_x2 > 240  # a filled tag sits on the box's top edge
    assert mask_of(out[tag_y1:tag_y2, tag_x1:tag_x2], (0, 0, 0)).any()  # black text on the light tag


def test_unknown_face_is_a_grey_dashed_box():
    out = draw_faces(black(360, 640), [FaceLabel(np.array([200, 150, 400, 300]), None, 0.21, (255, 0, 0))])
    assert not mask_of(out, (255, 0, 0)).any()
    left_edge = out[160:290, 200]
    grey = mask_of(left_edge[None], UNKNOWN_COLOR)[0]
    assert grey.sum() > 20 and (~left_edge.any(axis=1)).sum() > 20  # dashes and gaps
    assert mask_of(out[:150], UNKNOWN_COLOR).sum() > 500  # the "unknown 0.21" tag


def test_scores_widen_the_tag_only_when_shown():
    label = FaceLabel(np.array([200, 150, 300, 250]), "Alice", 0.73, (0, 255, 0))
    with_score = extent(mask_of(draw_faces(black(360, 640), [label])[:146], (0, 255, 0)))
    without = extent(mask_of(draw_faces(black(360, 640), [label], show_scores=False)[:146], (0, 255, 0)))
    assert with_score[2] - with_score[0] > without[2] - without[0]


@pytest.mark.parametrize("box", [[280, 0, 360, 90], [600, 0, 640, 60], [0, 300, 80, 360], [-30, -20, 50, 40]])
def test_tag_stays_whole_inside_the_image_at_edges(box):
    grey_frame = np.full((360, 640, 3), 100, np.uint8)

    def text_pixels(label_box) -> int:  # black glyph pixels of the tag's text; fewer when the tag is cut off
        out = draw_faces(grey_frame, [FaceLabel(np.array(label_box), "Bob", 0.5, (0, 200, 255))])
        return int((out.max(axis=2) < 40).sum())

    whole = text_pixels([280, 150, 360, 240])
    assert whole > 50
    assert text_pixels(box) == whole


@pytest.mark.parametrize("height, width", [(360, 640), (2160, 3840)])
def test_line_width_and_text_size_scale_with_the_frame(height, width):
    box = np.array([0.4 * width, 0.4 * height, 0.6 * width, 0.7 * height])
    out = draw_faces(black(height, width), [FaceLabel(box, "Carol", 0.9, (255, 255, 0))])
    x1, y1 = int(box[0]), int(box[1])
    thickness = run_length(out[int(0.55 * height), x1 - 20:])
    tag_height = run_length(out[y1::-1, x1 + 1])  # upwards from the top edge through the tag
    short_side = min(height, width)
    assert short_side / 300 <= thickness <= short_side / 100 + 2
    assert short_side / 40 <= tag_height <= short_side / 10


def test_unicode_names_and_empty_label_lists_work():
    image = black(200, 300)
    assert np.array_equal(draw_faces(image, []), image)
    out = draw_faces(image, [FaceLabel(np.array([100, 80, 160, 150]), "Zoë Ødegård 李小龙", 0.5)])
    assert mask_of(out, identity_color("Zoë Ødegård 李小龙")).sum() > 200


@pytest.fixture
def no_truetype_font(monkeypatch):
    annotate._font.cache_clear()
    monkeypatch.setattr(annotate, "_font_path", lambda: None)
    yield
    annotate._font.cache_clear()


def test_pillow_default_font_is_the_fallback(no_truetype_font):
    out = draw_faces(black(360, 640), [FaceLabel(np.array([200, 150, 300, 250]), "Dave", 0.4, (255, 0, 255))])
    x1, y1, x2, y2 = extent(mask_of(out[:146], (255, 0, 255)))
    assert y2 - y1 >= 10
    assert mask_of(out[y1:y2, x1:x2], (255, 255, 255)).any()  # white text on the dark magenta tag


def hue(color):
    return colorsys.rgb_to_hsv(*(np.array(color) / 255))[0]


def min_hue_gap(colors):
    hues = np.array([hue(color) for color in colors])
    gaps = np.abs(hues[:, None] - hues[None, :])
    return (np.minimum(gaps, 1 - gaps) + np.eye(len(hues))).min()


@pytest.mark.parametrize("count, at_least", [(2, 0.45), (3, 0.2), (6, 0.1), (10, 0.055), (16, 0.05)])
def test_colours_given_the_taken_ones_stay_apart_in_hue(count, at_least):
    taken = []
    for name in NAMES[:count]:
        taken.append(identity_color(name, taken))
    assert min_hue_gap(taken) >= at_least
    assert min_hue_gap([identity_color(name) for name in NAMES[:count]]) < 0.01  # what hashing alone gives
    assert taken[0] == identity_color(NAMES[0])  # the first pick is the name's own colour


def tag_boxes(out: np.ndarray, colors) -> list[tuple[int, int, int, int]]:
    """Extent of each colour's pixels above and below the faces' boxes (rows 147-254 left out)."""
    return [extent(mask_of(out, color) & ~band_mask(out.shape, 147, 255)) for color in colors]


def band_mask(shape, top: int, bottom: int) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    mask[top:bottom] = True
    return mask


def test_tags_of_faces_side_by_side_do_not_cover_each_other():
    colors = [(255, 0, 0), (0, 255, 0)]
    labels = [FaceLabel(np.array([200, 150, 260, 250]), "Alice Longname", 0.73, colors[0]),
              FaceLabel(np.array([266, 150, 326, 250]), "Bob Longname", 0.64, colors[1])]
    out = draw_faces(black(400, 640), labels)
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = tag_boxes(out, colors)
    assert ay2 < 150 and by1 > 250  # the first tag above its box, the second below its own
    assert min(ax2, bx2) <= max(ax1, bx1) or min(ay2, by2) <= max(ay1, by1)  # disjoint


def test_a_named_tag_is_placed_first_and_drawn_over_an_unknown_one():
    named = FaceLabel(np.array([266, 150, 326, 250]), "Bob Longname", 0.64, (0, 255, 0))
    unknown = FaceLabel(np.array([200, 150, 260, 250]), None, 0.21)
    out = draw_faces(black(400, 640), [unknown, named])
    assert extent(mask_of(out[:150], (0, 255, 0)))[3] <= 150  # Bob keeps the place above his box
    assert mask_of(out[251:], UNKNOWN_COLOR).sum() > 200  # the unknown face's tag moved below its box


def test_no_score_is_written_when_there_is_none():
    def tag_width(score: float, show_scores: bool = True) -> int:
        out = draw_faces(black(360, 640), [FaceLabel(np.array([200, 150, 300, 250]), None, score)], show_scores)
        x1, _, x2, _ = extent(mask_of(out[:146], UNKNOWN_COLOR))
        return x2 - x1

    assert tag_width(float("nan")) == tag_width(0.21, show_scores=False) < tag_width(0.21)  # "unknown", not "unknown nan"
