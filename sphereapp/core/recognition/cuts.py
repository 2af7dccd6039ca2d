"""Scene cuts: two consecutive frames whose tiny grey thumbnails differ on average by more than CUT_LEVEL of 255.

A 32x18 thumbnail is too coarse to see faces move or a camera pan a little, and changes as a whole at a cut.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL_SIZE = (32, 18)  # cv2 (width, height)
CUT_LEVEL = 30.0  # mean absolute grey difference (0..255) above which two frames are a cut apart


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The RGB image as a tiny float32 grey picture."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def is_cut(before: np.ndarray | None, after: np.ndarray, level: float = CUT_LEVEL) -> bool:
    """Whether thumbnails `before` (None: there is none) and `after` are a cut apart."""
    return before is not None and float(np.abs(after - before).mean()) > level
