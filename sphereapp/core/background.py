"""Overlap decoding and encoding with recognition: a bounded producer thread and a bounded consumer thread.

FFmpeg (PyAV) releases the GIL while it decodes and encodes, so these threads run beside the detector and the
embedder. Queues are bounded (memory stays flat on any video length); an exception in a thread is raised again
in the caller; leaving early stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """The items of `items`, produced up to `depth` ahead on a background thread."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(buffer, item, stop):
                    return
            _put(buffer, _DONE, stop)
        except BaseException as error:  # handed to the consumer, raised there
            _put(buffer, _Failure(error), stop)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundSink(Generic[T]):
    """Calls `consume(item)` for each `put` item on a background thread, in order, at most `depth` behind.

    Use it as a context manager: leaving waits for the queued items; a failure to consume is raised on the next
    `put` or on leaving (unless the block already raised).
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 8):
        self._consume = consume
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Queue one item (blocks while the queue is full); raises the thread's error if consuming failed."""
        self._raise_error()
        self._queue.put(item)

    def __enter__(self) -> BackgroundSink[T]:
        return self

    def __exit__(self, error_type, *_) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if error_type is None:
            self._raise_error()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    self._consume(item)
                except BaseException as error:  # raised in the caller on its next put/close
                    self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _put(buffer: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put unless the consumer has left; False when it has."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
