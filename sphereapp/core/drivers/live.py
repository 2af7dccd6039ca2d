"""The live driver: the frames a player shows, recognised one at a time as they are asked for, with no look-ahead.

The player's counterpart of `run_video` (file.py), a loop the player drives one frame at a time over the same
`Recognizer`. A frame the networks have not seen is compared once with the one they saw last for a scene cut
(recognition/cuts.py); it is scanned whole, or searched near the faces of that frame (recognition/search.py
`FollowingSearch`: every `scan_every`-th recognised frame is scanned); a face followed from that frame keeps its
embedding (recognition/reuse.py). Its faces are then named by track (recognition/tracking.py) at the threshold the
player shows, as `run_video` names them. A frame at most FOLLOW_GAP_S after the one before it (playback, stepping
forward, frames skipped when recognition is slower than the video) continues the embeddings and tracks; any other
jump (a seek, stepping back) starts them again. Recognised frames are kept, so showing one again runs no network.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from sphereapp.core.media.video import Frame
from sphereapp.core.recognition.cuts import SceneCuts
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FrameResult
from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.recognition.search import FollowingSearch
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.recognition.tracking import Tracker

# Every 4th frame recognised is scanned whole, the others searched only near the faces of the one before: about half
# the time a frame for slightly fewer faces (docs/MEASURED.md).
LIVE_SCAN_EVERY = 4
FOLLOW_GAP_S = 0.5  # a forward jump of at most this much video continues the tracks and embeddings
RESULT_CACHE_SIZE = 2048  # recognised frames kept, so stepping back does not run the networks again


@dataclass(frozen=True, eq=False)
class LiveFrame:
    """One shown frame's faces, named by track, and whether the networks ran for it."""

    result: FrameResult
    ran_networks: bool


class LiveRecognizer:
    """Recognises the frames of one video, with one gallery, as a player shows them; `show` them in any order."""

    def __init__(self, recognizer: Recognizer, fps: float, scan_every: int = LIVE_SCAN_EVERY,
                 embed_every: int = Speed().embed_every):
        self.recognizer = recognizer
        self.max_gap = max(1, round(FOLLOW_GAP_S * fps))  # in frames
        self.embed_every = embed_every
        self._results: OrderedDict[int, FrameResult] = OrderedDict()  # by frame index, as the networks gave them
        self._cuts = SceneCuts()  # of the frames the networks saw
        self._following = FollowingSearch(scan_every)
        self._reuse: EmbeddingReuse | None = None  # embeddings of the faces of the frame the networks saw last
        self._recognised: int | None = None  # that frame
        self._tracker = Tracker()
        self._tracked: FrameResult | None = None  # the frame the tracker named last

    def show(self, frame: Frame, threshold: float) -> LiveFrame:
        """The faces of `frame` named by track at `threshold`; the networks run only for a frame not seen yet."""
        result = self._results.get(frame.index)
        ran_networks = result is None
        if result is None:
            result = self._recognise(frame)
        return LiveFrame(self._track(result, threshold), ran_networks)

    def _follows(self, index: int, last: int | None) -> bool:
        """Whether frame `index` continues from frame `last`: at most `max_gap` frames after it."""
        return last is not None and 0 < index - last <= self.max_gap

    def _recognise(self, frame: Frame) -> FrameResult:
        """Run the networks on one frame, searching near the faces of the frame seen before it where that follows."""
        cut = self._cuts.cut_before(frame.image)
        before = self._following.before(frame.index, cut)  # searched near its faces, or None: scanned whole
        if not self._follows(frame.index, self._recognised):
            self._reuse = EmbeddingReuse(self.embed_every)
        self._recognised = frame.index
        result = self.recognizer.recognise([frame], self._reuse, None if before is None else [False], before, [cut])[0]
        self._following.remember(result)
        self._results[frame.index] = result
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)
        return result

    def _track(self, result: FrameResult, threshold: float) -> FrameResult:
        """The faces named by their tracks; the same frame again (another threshold) keeps its tracks."""
        last = self._tracked
        if last is not None and result.index == last.index:
            return last
        if last is None or not self._follows(result.index, last.index):
            self._tracker = Tracker()
        self._tracked = replace(result, faces=self._tracker.update(result.faces, threshold))
        return self._tracked
