"""Random access to a video's frames for the player: forward decoding, keyframe seeks, recent frames cached.

Qt-free. `core.video.VideoReader` decodes forward only; this keeps one reader open at the play position,
decodes forward for short jumps, reopens at a keyframe (`VideoReader(path, start=...)`) for long or backward
ones, and keeps recently shown frames so stepping back is instant.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from sphereapp.core.errors import InputError
from sphereapp.core.media.video import Frame, VideoInfo, VideoReader

FORWARD_DECODE_LIMIT = 48  # frames: decoding this many is cheaper than a keyframe seek
CACHE_BYTES = 256 * 2**20


class FrameSource:
    """Frames of one video by index. Past the end, the last frame is given (and `last_index` becomes known)."""

    def __init__(self, path: str | Path, cache_bytes: int = CACHE_BYTES):
        self.path = Path(path)
        self._cache: OrderedDict[int, Frame] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._reader: VideoReader | None = None
        self._frames: Iterator[Frame] = iter(())
        self._next = 0  # index of the frame the open reader yields next
        self._opened_at = 0
        self._open(0)
        self.info: VideoInfo = self._reader.info
        self.last_index: int | None = None  # known once decoding reaches the end

    def frame(self, index: int) -> Frame:
        """The frame `index` (clamped to the video), from the cache or decoded."""
        index = max(0, index if self.last_index is None else min(index, self.last_index))
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if index < self._next or index - self._next > FORWARD_DECODE_LIMIT:
            self._open(index)
        found = self._decode_to(index)
        while found is None:  # opened past the end: back off towards the start until a frame appears
            if self._opened_at == 0:
                raise InputError(f"cannot read video '{self.path}': no decodable video frame")
            self._open(max(0, self._opened_at - FORWARD_DECODE_LIMIT))
            found = self._decode_to(index)
        return found

    def close(self) -> None:
        """Release the file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _open(self, start: int) -> None:
        self.close()
        self._reader = VideoReader(self.path, start=start)
        self._frames = iter(self._reader)
        self._next = self._opened_at = start

    def _decode_to(self, index: int) -> Frame | None:
        """Decode forward to frame `index`; the last frame when the video ends first, None when none came."""
        last = None
        for frame in self._frames:
            self._next = frame.index + 1
            self._remember(frame)
            last = frame
            if frame.index >= index:
                return frame
        if last is not None:
            self.last_index = last.index
        return last

    def _remember(self, frame: Frame) -> None:
        self._cache[frame.index] = frame
        size = frame.image.nbytes
        while len(self._cache) > 1 and len(self._cache) * size > self._cache_bytes:
            self._cache.popitem(last=False)
