"""Playback state: which frame is shown, play/pause, speed, stepping, and keeping up with the video's clock.

Frames come from the engine thread one request at a time: while one is being prepared, newer wishes replace
older ones, so scrubbing never builds a queue. While playing, the player asks for the frame the wall clock
has reached; when recognition is slower than the video, frames in between are skipped (and the processing
rate says so) instead of playback slowing down.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from sphereapp.core.media.video import VideoInfo
from sphereapp.gui.engine import Engine
from sphereapp.gui.overlay import Overlay, relabel

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0)
RATE_SMOOTHING = 0.3  # weight of the newest frame in the processing-rate average


class Player(QObject):
    """Playback of one video through the engine; the shown frame is `overlay`."""

    overlayChanged = Signal(object)  # Overlay
    videoLoaded = Signal(str, object)  # path, VideoInfo
    lengthChanged = Signal(int)  # number of frames (an estimate until the end has been decoded)
    playingChanged = Signal(bool)
    rateChanged = Signal(float, bool)  # processing fps, whether it is slower than playback

    def __init__(self, engine: Engine, threshold: float, show_scores: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.path: str | None = None
        self.info: VideoInfo | None = None
        self.frame_count = 0
        self.overlay: Overlay | None = None
        self.threshold = threshold
        self.show_scores = show_scores
        self.speed = 1.0
        self.playing = False
        self.processing_fps = 0.0
        self._busy = False  # a frame request is with the engine
        self._wanted: int | None = None  # the newest frame asked for while busy
        self._clock_start = (0.0, 0)  # (wall time, frame index) when playback (re)started
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        worker = engine.worker
        worker.videoOpened.connect(self._opened)
        worker.frameReady.connect(self._frame_ready)
        worker.frameFailed.connect(self._frame_failed)
        worker.endReached.connect(self._end_reached)

    @property
    def index(self) -> int:
        """The shown frame (0 before any)."""
        return self.overlay.index if self.overlay is not None else 0

    @property
    def fps(self) -> float:
        return self.info.fps if self.info is not None and self.info.fps > 0 else 25.0

    def open(self, path: str) -> None:
        """Ask the engine to open a video; `videoLoaded` follows (or the engine's `videoFailed`)."""
        self.pause()
        self.engine.open_video(path)

    def seek(self, index: int) -> None:
        """Show frame `index` (clamped to the video)."""
        if self.info is None:
            return
        index = min(max(index, 0), max(self.frame_count - 1, 0))
        if self.playing:
            self._clock_start = (time.perf_counter(), index)
        self._request(index)

    def seek_time(self, seconds: float) -> None:
        """Show the frame at `seconds` into the video."""
        self.seek(round(seconds * self.fps))

    def step(self, frames: int) -> None:
        """Pause and move by `frames` (negative: back)."""
        self.pause()
        self.seek((self._wanted if self._wanted is not None else self.index) + frames)

    def play(self) -> None:
        if self.info is None or self.playing:
            return
        start = self._wanted if self._wanted is not None else self.index
        if start >= self.frame_count - 1:  # at the end: play again from the start
            start = 0
            self._request(start)
        self.playing = True
        self._clock_start = (time.perf_counter(), start)
        self._timer.start(max(5, round(1000 / (self.fps * self.speed))))
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self._timer.stop()
        self.playingChanged.emit(False)
        self.rateChanged.emit(self.processing_fps, False)

    def toggle_playing(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        if self.playing:
            self._clock_start = (time.perf_counter(), self.index)
            self._timer.setInterval(max(5, round(1000 / (self.fps * speed))))

    def set_threshold(self, threshold: float) -> None:
        """Re-label the shown frame at once from its stored scores; later frames use it too."""
        self.threshold = threshold
        self._relabel()

    def set_show_scores(self, show: bool) -> None:
        self.show_scores = show
        self._relabel()

    def refresh(self) -> None:
        """Prepare the shown frame again (e.g. after the model changed)."""
        if self.info is not None:
            self._request(self.index)

    def _relabel(self) -> None:
        if self.overlay is not None:
            self.overlay = relabel(self.overlay, self.threshold, self.show_scores)
            self.overlayChanged.emit(self.overlay)

    def _request(self, index: int) -> None:
        if self._busy:
            self._wanted = index
            return
        self._busy, self._wanted = True, None
        self.engine.show_frame(index, self.threshold, self.show_scores)

    def _clock_index(self) -> int:
        """The frame the playback clock has reached."""
        started, first = self._clock_start
        return first + int((time.perf_counter() - started) * self.fps * self.speed)

    def _tick(self) -> None:
        if self._busy:
            return
        target = min(self._clock_index(), self.frame_count - 1)
        if target > self.index:
            self._request(target)
        elif self.index >= self.frame_count - 1:
            self.pause()

    def _opened(self, path: str, info: VideoInfo) -> None:
        self.path, self.info, self.overlay = path, info, None
        self.frame_count = max(1, info.frame_count or 1)
        self._busy, self._wanted = False, None
        self.videoLoaded.emit(path, info)
        self.lengthChanged.emit(self.frame_count)
        self._request(0)

    def _frame_ready(self, overlay: Overlay, seconds: float, ran_networks: bool) -> None:
        self._busy = False
        if (overlay.threshold, overlay.show_scores) != (self.threshold, self.show_scores):
            overlay = relabel(overlay, self.threshold, self.show_scores)  # the slider moved meanwhile
        self.overlay = overlay
        if overlay.index >= self.frame_count:  # the container under-estimated the length
            self.frame_count = overlay.index + 1
            self.lengthChanged.emit(self.frame_count)
        if ran_networks and seconds > 0:
            rate = 1.0 / seconds
            self.processing_fps = rate if self.processing_fps == 0 else (
                RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * self.processing_fps
            )
            self.rateChanged.emit(self.processing_fps, self.playing and self.processing_fps < self.fps * self.speed)
        self.overlayChanged.emit(overlay)
        if self._wanted is not None:
            wanted, self._wanted = self._wanted, None
            if wanted != overlay.index:
                self._request(wanted)
        elif self.playing:
            self._tick()

    def _frame_failed(self, message: str) -> None:
        self._busy = False
        self.pause()
        if self._wanted is not None:
            wanted, self._wanted = self._wanted, None
            self._request(wanted)

    def _end_reached(self, last_index: int) -> None:
        if self.frame_count != last_index + 1:
            self.frame_count = last_index + 1
            self.lengthChanged.emit(self.frame_count)
