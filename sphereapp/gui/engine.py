"""The recognition worker: one thread that owns the models, the gallery store and the open video.

Every call into `sphereapp.core` that can take time (loading models, decoding, detecting, embedding,
enrolling, exporting) runs here, so the window never waits; one thread also means the detector and the
SQLite store are only ever used from one thread. The window talks to it through `Engine`: requests are
queued signals, answers come back as signals. Recognition itself is core's: a shown frame goes through
`core.drivers.live.LiveRecognizer`, an export through `core.drivers.file.run_video`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from sphereapp.core.drivers.file import run_video
from sphereapp.core.drivers.live import LiveRecognizer
from sphereapp.core.errors import InputError, SphereappError
from sphereapp.core.identities.enrol import Enroller, Enrolment, add_enrolment
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.store import GalleryStore, Identity, clean_name
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.vision.calibration import FarCurve
from sphereapp.core.vision.catalog import default_model_path
from sphereapp.core.vision.components import Components, load_components
from sphereapp.core.vision.detect import Detections, primary_face
from sphereapp.core.vision.device import describe_device
from sphereapp.gui.frame_source import FrameSource
from sphereapp.gui.overlay import Overlay, render
from sphereapp.gui.settings import RecognitionSettings

log = logging.getLogger(__name__)

EXPORT_BATCH_SIZE = 4  # frames per export batch: small enough that Cancel answers quickly on a CPU


@dataclass(frozen=True)
class ModelStatus:
    """What the status bar shows about the loaded recognition model."""

    device: str
    model_name: str
    threshold: float  # the model's recommended cosine threshold
    far_curve: FarCurve = ()  # what thresholds mean for strangers (core/vision/calibration.py); () when not calibrated
    calibration: str = ""  # where far_curve was measured
    details: str = ""  # the model file's own description (ModelInfo.describe)


@dataclass(frozen=True, eq=False)
class FaceChoice:
    """A photo with several faces, waiting for the user to pick the person to enrol."""

    path: Path
    image: np.ndarray
    detections: Detections
    name: str
    suggested: int  # the face enrolment would pick by itself (largest, most central)


@dataclass(frozen=True)
class ExportRequest:
    video: Path
    output: Path
    threshold: float
    show_scores: bool
    stop: threading.Event


def photo_name(path: str | Path) -> str:
    """The name a photo enrols under: its file name without extension, '_' read as a space."""
    return Path(path).stem.replace("_", " ").strip()


def reports_problems(slot: Callable) -> Callable:
    """Run a worker slot; a SphereappError becomes a `problem` signal, anything else is logged and reported."""

    @functools.wraps(slot)
    def wrapper(self: RecognitionWorker, *args):
        try:
            return slot(self, *args)
        except SphereappError as error:
            self.problem.emit(str(error))
        except Exception as error:  # a bug: keep the app alive, say what happened
            log.exception("unexpected error in %s", slot.__name__)
            self.problem.emit(f"unexpected error: {error}")

    return wrapper


class RecognitionWorker(QObject):
    """Lives in the engine thread; its slots are only ever called through queued signals."""

    modelReady = Signal(object)  # ModelStatus
    modelFailed = Signal(str)
    galleryChanged = Signal(object)  # list[Identity]
    videoOpened = Signal(str, object)  # path, VideoInfo
    videoFailed = Signal(str)
    frameReady = Signal(object, float, bool)  # Overlay, seconds spent, whether the networks ran
    frameFailed = Signal(str)
    endReached = Signal(int)  # index of the video's last frame, once decoding finds it
    faceChoiceNeeded = Signal(object)  # FaceChoice
    enrolled = Signal(str, object)  # name, list[str] of one-line hints (core/identities/quality.py)
    problem = Signal(str)  # a one-line message for the user
    exportProgress = Signal(int, object)  # frames done, total (None when unknown)
    exportFinished = Signal(object)  # RunSummary
    exportCancelled = Signal()
    exportFailed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.components: Components | None = None
        self.store: GalleryStore | None = None
        self.gallery: Gallery | None = None
        self.recognizer: Recognizer | None = None
        self.source: FrameSource | None = None
        self.live: LiveRecognizer | None = None  # the open video's frames, recognised with the current gallery
        self._last_request: tuple[int, float, bool] | None = None

    # -- models and gallery -------------------------------------------------------------------------------------

    @Slot(object)
    @reports_problems
    def load_model(self, settings: RecognitionSettings) -> None:
        """Load detector + embedder; the previous ones stay in use when this fails."""
        if not settings.model and default_model_path() is None:
            self.modelFailed.emit("No SphereFace model is installed yet.")
            return
        try:
            components = load_components(settings.model or None, settings.device, settings.min_face_size)
        except SphereappError as error:
            self.modelFailed.emit(str(error))
            return
        self.components = components
        info = components.embedder.info
        self.modelReady.emit(ModelStatus(describe_device(components.device), components.model_name, info.threshold,
                                         info.far_curve, info.calibration,
                                         f"{components.model_path}\n{info.describe()}"))
        self._gallery_updated()

    @Slot(str)
    @reports_problems
    def open_gallery(self, path: str) -> None:
        """Use the gallery store at `path` (created when missing)."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise InputError(f"gallery '{path}' is a folder: the app keeps its gallery in a file (.sqlite); "
                             "drop the folder's photos on the gallery panel to enrol them")
        store = GalleryStore(path)
        if self.store is not None:
            self.store.close()
        self.store = store
        self._gallery_updated()

    @Slot(object)
    @reports_problems
    def enrol_photos(self, paths: list[str]) -> None:
        """Enrol each photo's face under the photo's name; photos with several faces ask the user first."""
        enroller = self._enroller()
        for path in map(Path, paths):
            try:
                image, detections = enroller.find_faces(path)
                name = clean_name(photo_name(path))
                if len(detections.boxes) > 1:
                    suggested = primary_face(detections.boxes, image.shape[:2])
                    self.faceChoiceNeeded.emit(FaceChoice(path, image, detections, name, suggested))
                    continue
                self._add(name, enroller.enrol_face(image, detections.boxes[0], detections.landmarks[0]), path)
            except SphereappError as error:
                self.problem.emit(str(error))
        self._gallery_updated()

    @Slot(object, int, str)
    @reports_problems
    def enrol_choice(self, choice: FaceChoice, face: int, name: str) -> None:
        """Enrol the face the user picked in a photo with several faces."""
        detections = choice.detections
        enrolment = self._enroller().enrol_face(choice.image, detections.boxes[face], detections.landmarks[face])
        self._add(name, enrolment, choice.path)
        self._gallery_updated()

    @Slot(object, int, str)
    @reports_problems
    def enrol_from_frame(self, overlay: Overlay, face: int, name: str) -> None:
        """Enrol face number `face` of a displayed frame."""
        found = overlay.result.faces[face]
        enrolment = self._enroller().enrol_face(overlay.frame.image, found.box, found.landmarks)
        self._add(name, enrolment, Path(f"{self.source.path if self.source else 'video'}#frame{overlay.index}"))
        self._gallery_updated()

    @Slot(str, str)
    @reports_problems
    def rename(self, old: str, new: str) -> None:
        try:
            self._require_store().rename(old, new)
        finally:
            self._gallery_updated()  # also puts the old name back in the list when renaming failed

    @Slot(str)
    @reports_problems
    def remove(self, name: str) -> None:
        try:
            self._require_store().remove(name)
        finally:
            self._gallery_updated()

    def _enroller(self) -> Enroller:
        if self.components is None:
            raise InputError("no recognition model is loaded: choose a model file first (Settings)")
        return Enroller(self.components.detector, self.components.embedder)

    def _require_store(self) -> GalleryStore:
        if self.store is None:
            raise InputError("no gallery is open")
        return self.store

    def _add(self, name: str, enrolment: Enrolment, source: Path) -> Identity:
        identity, warnings = add_enrolment(self._require_store(), name, enrolment, self.components.embedder,
                                           str(source))
        self.enrolled.emit(identity.name, warnings)
        return identity

    def _gallery_updated(self) -> None:
        """Rebuild the matching snapshot from the store, tell the window, and recognise the shown frame again.

        Without a store (it could not be opened) the gallery is empty: every face is unknown.
        """
        if self.components is not None:
            detector, embedder = self.components.detector, self.components.embedder
            self.gallery = (Gallery.from_store(self.store, embedder) if self.store is not None
                            else Gallery([], [], np.zeros((0, embedder.info.embedding_size), np.float32)))
            self.recognizer = Recognizer(detector, embedder, self.gallery, embedder.info.threshold)
        self._restart_live()  # other scores, maybe another model: nothing carries over
        self.galleryChanged.emit(self.store.identities() if self.store is not None else [])
        if self._last_request is not None and self.source is not None:
            self.show_frame(*self._last_request)

    # -- video ---------------------------------------------------------------------------------------------------

    @Slot(str)
    def open_video(self, path: str) -> None:
        try:
            source = FrameSource(path)
        except SphereappError as error:
            self.videoFailed.emit(str(error))
            return
        if self.source is not None:
            self.source.close()
        self.source, self._last_request = source, None
        self._restart_live()
        self.videoOpened.emit(path, source.info)

    def _restart_live(self) -> None:
        """Recognise the open video's frames afresh (another video, gallery or model); none without a model."""
        self.live = (None if self.recognizer is None or self.source is None
                     else LiveRecognizer(self.recognizer, self.source.info.fps))

    @Slot(int, float, bool)
    def show_frame(self, index: int, threshold: float, show_scores: bool) -> None:
        """Decode frame `index`, recognise it (or take the cached result) and draw it."""
        started = time.perf_counter()
        try:
            if self.source is None:
                raise InputError("no video is open")
            frame = self.source.frame(index)
            live = None if self.live is None else self.live.show(frame, threshold)
            overlay = render(frame, None if live is None else live.result, self.recognizer, threshold, show_scores)
        except SphereappError as error:
            self.frameFailed.emit(str(error))
            return
        except Exception as error:
            log.exception("cannot show frame %d", index)
            self.frameFailed.emit(f"unexpected error: {error}")
            return
        self._last_request = (frame.index, threshold, show_scores)
        if self.source.last_index is not None and index >= self.source.last_index:
            self.endReached.emit(self.source.last_index)
        self.frameReady.emit(overlay, time.perf_counter() - started, live is not None and live.ran_networks)

    # -- export --------------------------------------------------------------------------------------------------

    @Slot(object)
    def export(self, request: ExportRequest) -> None:
        """Annotate the whole video into `request.output` with the current gallery (same pipeline as the CLI)."""
        if self.components is None or self.gallery is None:
            self.exportFailed.emit("no recognition model is loaded: choose a model file first (Settings)")
            return
        recognizer = Recognizer(self.components.detector, self.components.embedder, self.gallery, request.threshold)
        try:
            summary = run_video(
                request.video, request.output, recognizer, batch_size=EXPORT_BATCH_SIZE, speed=Speed(),
                model_name=self.components.model_name, show_scores=request.show_scores,
                progress=lambda done, total: self.exportProgress.emit(done, total),
                should_stop=request.stop.is_set,
            )
        except KeyboardInterrupt:
            self.exportCancelled.emit()
        except SphereappError as error:
            self.exportFailed.emit(str(error))
        except Exception as error:
            log.exception("export failed")
            self.exportFailed.emit(f"unexpected error: {error}")
        else:
            self.exportFinished.emit(summary)

    # -- shutdown ------------------------------------------------------------------------------------------------

    @Slot()
    def close(self) -> None:
        """Release the video and the gallery file (in this thread, where they were opened), then stop the thread."""
        if self.source is not None:
            self.source.close()
        if self.store is not None:
            self.store.close()
        QThread.currentThread().quit()


class Engine(QObject):
    """The window's handle on the worker thread: methods queue requests, `worker`'s signals bring answers."""

    _load_model = Signal(object)
    _open_gallery = Signal(str)
    _open_video = Signal(str)
    _show_frame = Signal(int, float, bool)
    _enrol_photos = Signal(object)
    _enrol_choice = Signal(object, int, str)
    _enrol_from_frame = Signal(object, int, str)
    _rename = Signal(str, str)
    _remove = Signal(str)
    _export = Signal(object)
    _close = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("sphereapp-recognition")
        self.worker = RecognitionWorker()
        self.worker.moveToThread(self._thread)
        for request, slot in (
            (self._load_model, self.worker.load_model), (self._open_gallery, self.worker.open_gallery),
            (self._open_video, self.worker.open_video), (self._show_frame, self.worker.show_frame),
            (self._enrol_photos, self.worker.enrol_photos), (self._enrol_choice, self.worker.enrol_choice),
            (self._enrol_from_frame, self.worker.enrol_from_frame), (self._rename, self.worker.rename),
            (self._remove, self.worker.remove), (self._export, self.worker.export), (self._close, self.worker.close),
        ):
            request.connect(slot)
        self._export_stop = threading.Event()
        self._thread.start()

    def load_model(self, settings: RecognitionSettings) -> None:
        self._load_model.emit(settings)

    def open_gallery(self, path: str | Path) -> None:
        self._open_gallery.emit(str(path))

    def open_video(self, path: str | Path) -> None:
        self._open_video.emit(str(path))

    def show_frame(self, index: int, threshold: float, show_scores: bool) -> None:
        self._show_frame.emit(index, threshold, show_scores)

    def enrol_photos(self, paths: list[str]) -> None:
        self._enrol_photos.emit(list(paths))

    def enrol_choice(self, choice: FaceChoice, face: int, name: str) -> None:
        self._enrol_choice.emit(choice, face, name)

    def enrol_from_frame(self, overlay: Overlay, face: int, name: str) -> None:
        self._enrol_from_frame.emit(overlay, face, name)

    def rename(self, old: str, new: str) -> None:
        self._rename.emit(old, new)

    def remove(self, name: str) -> None:
        self._remove.emit(name)

    def export(self, video: Path, output: Path, threshold: float, show_scores: bool) -> None:
        """Start an export; `cancel_export()` stops it (the worker then reports `exportCancelled`)."""
        self._export_stop = threading.Event()
        self._export.emit(ExportRequest(Path(video), Path(output), threshold, show_scores, self._export_stop))

    def cancel_export(self) -> None:
        self._export_stop.set()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel any export, close the files in the worker thread and wait for the thread to end."""
        if not self._thread.isRunning():
            return
        self.cancel_export()
        self._close.emit()
        if not self._thread.wait(timeout_ms):
            log.warning("the recognition thread did not stop within %d ms", timeout_ms)
