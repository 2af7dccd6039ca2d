"""Indexing the people of a video in the background, and enrolling one of them from the index.

The work runs in a thread of its own with its own detector and embedder, loaded from the window's recognition
settings and kept for enrolling from the index: the engine's are only ever used from the engine's thread, and the
player keeps playing while a video is indexed, and the people found so far come every couple of seconds of video
(partial indexes: the panel shows them as rows until the final one). Both threads share the gallery file; after an
enrolment here the window has the engine read it again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from sphereapp.core.drivers.index import index_video
from sphereapp.core.errors import SphereappError
from sphereapp.core.identities.enrol import Enroller, add_enrolment
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.index.people import Person
from sphereapp.core.index.report import VideoIndex
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.vision.components import Components, load_components
from sphereapp.gui.settings import RecognitionSettings

log = logging.getLogger(__name__)

INDEX_BATCH_SIZE = 4  # keyframes a batch: small enough that Cancel answers quickly on a CPU


@dataclass(frozen=True, eq=False)
class IndexRequest:
    """Index `video` against the gallery file at `threshold`, with the models `recognition` names."""

    video: Path
    gallery: Path
    recognition: RecognitionSettings
    threshold: float
    stop: threading.Event


@dataclass(frozen=True, eq=False)
class EnrolRequest:
    """Enrol the best face of `person` of `index` into the gallery file under `name`."""

    index: VideoIndex
    person: Person
    name: str
    gallery: Path
    recognition: RecognitionSettings


class IndexWorker(QObject):
    """Lives in the indexing thread; its slots are only ever called through queued signals."""

    progress = Signal(object, int, object)  # IndexRequest, frames done, total (None when unknown)
    people = Signal(object, object)  # IndexRequest, partial VideoIndex: the people found so far
    finished = Signal(object, object)  # IndexRequest, VideoIndex
    cancelled = Signal(object)  # IndexRequest
    failed = Signal(object, str)  # IndexRequest, one-line message
    enrolled = Signal(object, str, object)  # EnrolRequest, the stored name, list[str] of hints
    enrolFailed = Signal(object, str)  # EnrolRequest, one-line message

    def __init__(self) -> None:
        super().__init__()
        self._loaded: tuple[RecognitionSettings, Components] | None = None

    def _components(self, settings: RecognitionSettings) -> Components:
        """The detector and embedder `settings` name, loaded once while they stay the same."""
        if self._loaded is None or self._loaded[0] != settings:
            self._loaded = None  # the old models are freed before the new ones load
            self._loaded = settings, load_components(settings.model or None, settings.device, settings.min_face_size)
        return self._loaded[1]

    @Slot(object)
    def index(self, request: IndexRequest) -> None:
        """The people of the video, as `sphereapp index` finds them; Cancel (`request.stop`) ends it with nothing."""
        try:
            if request.stop.is_set():
                raise KeyboardInterrupt("cancelled")
            components = self._components(request.recognition)
            with GalleryStore(request.gallery) as store:
                gallery = Gallery.from_store(store, components.embedder)
            recognizer = Recognizer(components.detector, components.embedder, gallery, request.threshold)
            result = index_video(request.video, recognizer, model_name=components.model_name, speed=Speed(),
                                 batch_size=INDEX_BATCH_SIZE,
                                 progress=lambda done, total: self.progress.emit(request, done, total),
                                 should_stop=request.stop.is_set,
                                 on_people=lambda people: self.people.emit(request, people))
        except KeyboardInterrupt:
            self.cancelled.emit(request)
        except SphereappError as error:
            self.failed.emit(request, str(error))
        except Exception as error:  # a bug: keep the app alive, say what happened
            log.exception("indexing failed")
            self.failed.emit(request, f"unexpected error: {error}")
        else:
            self.finished.emit(request, result)

    @Slot(object)
    def enrol(self, request: EnrolRequest) -> None:
        """Enrol the person's best face (their thumbnail) as `sphereapp gallery add-from-index` does."""
        label = request.person.label
        try:
            components = self._components(request.recognition)
            enroller = Enroller(components.detector, components.embedder)
            enrolment = enroller.enrol_picture(request.person.thumbnail, f"the best face of '{label}'")
            with GalleryStore(request.gallery) as store:
                identity, hints = add_enrolment(store, request.name, enrolment, components.embedder,
                                                f"{request.index.video} ({label})")
        except SphereappError as error:
            self.enrolFailed.emit(request, str(error))
        except Exception as error:
            log.exception("enrolling %s failed", label)
            self.enrolFailed.emit(request, f"unexpected error: {error}")
        else:
            self.enrolled.emit(request, identity.name, hints)

    @Slot()
    def close(self) -> None:
        """Free the models, then stop the thread."""
        self._loaded = None
        QThread.currentThread().quit()


class PeopleIndexing(QObject):
    """The window's handle on the indexing thread. Only the newest index run reports: an older one (cancelled, or
    replaced by a run for another video) is dropped."""

    progress = Signal(int, object)  # frames done, total (None when unknown)
    people = Signal(object)  # partial VideoIndex: the people found so far, while the run goes on
    finished = Signal(object, object)  # VideoIndex, the RecognitionSettings that made it
    cancelled = Signal()
    failed = Signal(str)
    enrolled = Signal(object, str, object)  # EnrolRequest, the stored name, list[str] of hints
    enrolFailed = Signal(str)

    _index = Signal(object)
    _enrol = Signal(object)
    _close = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("sphereapp-indexing")
        self.worker = IndexWorker()
        self.worker.moveToThread(self._thread)
        self._index.connect(self.worker.index)
        self._enrol.connect(self.worker.enrol)
        self._close.connect(self.worker.close)
        self.worker.progress.connect(self._progress)
        self.worker.people.connect(self._people)
        self.worker.finished.connect(self._finished)
        self.worker.cancelled.connect(self._cancelled)
        self.worker.failed.connect(self._failed)
        self.worker.enrolled.connect(self.enrolled)
        self.worker.enrolFailed.connect(self._enrol_failed)
        self.request: IndexRequest | None = None  # the run in progress
        self._thread.start()

    def start(self, video: Path, gallery: Path, recognition: RecognitionSettings, threshold: float) -> None:
        """Index `video` (a run in progress is cancelled first); `progress` and `people` come while it runs, then
        `finished`, `cancelled` or `failed`."""
        self.cancel()
        self.request = IndexRequest(Path(video), Path(gallery), recognition, threshold, threading.Event())
        self._index.emit(self.request)

    def cancel(self) -> None:
        """Stop the run in progress; `cancelled` follows once it has stopped."""
        if self.request is not None:
            self.request.stop.set()

    def enrol(self, index: VideoIndex, person: Person, name: str, gallery: Path,
              recognition: RecognitionSettings) -> None:
        """Enrol `person`'s best face under `name`; `enrolled` or `enrolFailed` follows."""
        self._enrol.emit(EnrolRequest(index, person, name, Path(gallery), recognition))

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel any run, free the models in the thread and wait for it to end."""
        if not self._thread.isRunning():
            return
        self.cancel()
        self._close.emit()
        if not self._thread.wait(timeout_ms):
            log.warning("the indexing thread did not stop within %d ms", timeout_ms)

    def _progress(self, request: IndexRequest, done: int, total: int | None) -> None:
        if self._running(request):
            self.progress.emit(done, total)

    def _people(self, request: IndexRequest, people: VideoIndex) -> None:
        if self._running(request):
            self.people.emit(people)

    def _finished(self, request: IndexRequest, result: VideoIndex) -> None:
        """A run that ended after Cancel was pressed counts as cancelled: the panel keeps what it showed."""
        if not self._ended(request):
            return
        if request.stop.is_set():
            self.cancelled.emit()
        else:
            self.finished.emit(result, request.recognition)

    def _cancelled(self, request: IndexRequest) -> None:
        if self._ended(request):
            self.cancelled.emit()

    def _failed(self, request: IndexRequest, message: str) -> None:
        if self._ended(request):
            self.failed.emit(message)

    def _enrol_failed(self, _request: EnrolRequest, message: str) -> None:
        self.enrolFailed.emit(message)

    def _running(self, request: IndexRequest) -> bool:
        """Whether `request` is the run in progress and Cancel has not been pressed."""
        return request is self.request and not request.stop.is_set()

    def _ended(self, request: IndexRequest) -> bool:
        """Whether `request` is the run in progress (which has now ended); an older run's answers are dropped."""
        if request is not self.request:
            return False
        self.request = None
        return True
