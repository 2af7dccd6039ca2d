"""Scene cuts: two consecutive frames whose tiny grey thumbnails differ on average by more than CUT_LEVEL of 255.

A 32x18 thumbnail is too coarse to see faces move or a camera pan a little, and changes as a whole at a cut. Each
frame is looked at once (`SceneCuts`); what follows a cut (keyframes, search, embedding reuse) is told so.
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


class SceneCuts:
    """The cuts of a run of frames, each frame compared with the one given before it."""

    def __init__(self, level: float = CUT_LEVEL):
        self.level = level
        self._last: np.ndarray | None = None  # thumbnail of the frame given last

    def cut_before(self, image: np.ndarray) -> bool:
        """Whether `image` is a cut apart from the image given before it (the first never is)."""
        small = thumbnail(image)
        cut = self._last is not None and float(np.abs(small - self._last).mean()) > self.level
        self._last = small
        return cut
