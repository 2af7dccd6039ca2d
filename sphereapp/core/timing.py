"""Where a video run spends its time: seconds and calls per pipeline stage, for `sphereapp bench --profile`.

The pipeline (drivers/file.py and the recognition and vision code it calls) takes a `StageTimes` as a parameter
whose default, `NO_TIMES`, measures nothing: its `stage` hands out one shared do-nothing context and its `iterate`
returns the items' own iterator. Decoding and drawing + encoding run on threads of their own (core/background.py),
so a `StageTimes` may be added to from several threads at once; each `Stage` names the thread it runs on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

T = TypeVar("T")
MAIN, DECODER, ENCODER = "main", "decoder", "encoder"  # the threads of a run
_END = object()


class Stage(Enum):
    """A stage of the video pipeline, in pipeline order: its label and the thread it runs on."""

    DECODE = "decode", DECODER
    WAIT_FOR_FRAMES = "wait for frames", MAIN  # the decoder is behind
    CUT_TEST = "cut test", MAIN
    SCAN = "scan", MAIN  # MTCNN over whole frames
    SEARCH = "search", MAIN  # R-Net and O-Net near expected faces
    ALIGN = "align", MAIN
    EMBED = "embed", MAIN
    MATCH = "match", MAIN
    INTERPOLATE = "interpolate", MAIN
    TRACK = "track", MAIN
    WAIT_FOR_ENCODER = "wait for encoder", MAIN  # the encoder's queue is full
    DRAW = "draw", ENCODER
    ENCODE = "encode", ENCODER

    def __init__(self, label: str, thread: str):
        self.label, self.thread = label, thread


@dataclass(frozen=True)
class StageTotal:
    """The time spent in one stage and how many times it ran."""

    seconds: float = 0.0
    calls: int = 0


class StageTimes:
    """Seconds and calls per `Stage`, added from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[Stage, StageTotal] = {}

    def add(self, stage: Stage, seconds: float, calls: int = 1) -> None:
        """Count `calls` runs of `stage` taking `seconds` in all."""
        with self._lock:
            total = self._totals.get(stage, StageTotal())
            self._totals[stage] = StageTotal(total.seconds + seconds, total.calls + calls)

    @contextmanager
    def stage(self, stage: Stage) -> Iterator[None]:
        """A context that adds the time spent inside it as one run of `stage`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def iterate(self, items: Iterable[T], stage: Stage) -> Iterator[T]:
        """The items of `items`, the time taken to produce each (and to find there are no more) added to `stage`."""
        iterator = iter(items)
        while True:
            started = time.perf_counter()
            item = next(iterator, _END)
            self.add(stage, time.perf_counter() - started, calls=int(item is not _END))
            if item is _END:
                return
            yield item

    def totals(self) -> dict[Stage, StageTotal]:
        """Every stage's total so far, in pipeline order; stages that never ran have zero seconds and calls."""
        with self._lock:
            return {stage: self._totals.get(stage, StageTotal()) for stage in Stage}


class _NoTimes(StageTimes):
    """Measures nothing, at no cost."""

    _NOTHING = nullcontext()

    def add(self, stage: Stage, seconds: float, calls: int = 1) -> None:
        pass

    def stage(self, stage: Stage) -> AbstractContextManager[None]:
        return self._NOTHING

    def iterate(self, items: Iterable[T], stage: Stage) -> Iterator[T]:
        return iter(items)


NO_TIMES: StageTimes = _NoTimes()
