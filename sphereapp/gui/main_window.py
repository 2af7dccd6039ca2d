"""The main window: video with transport controls, recognition controls and gallery beside it, the people of the
video below it, menus, status bar.

It only wires widgets together; everything that touches models, videos or the gallery runs in the engine, or for
the people index in the indexing thread.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sphereapp import __version__
from sphereapp.core.errors import InputError
from sphereapp.core.identities.photos import IMAGE_SUFFIXES, enrols, photo_files
from sphereapp.core.index.naming import name_person
from sphereapp.core.index.people import Person
from sphereapp.core.index.report import VideoIndex, write_index
from sphereapp.core.media.video import VideoInfo
from sphereapp.gui.engine import Engine, FaceChoice, ModelStatus
from sphereapp.gui.export_dialog import ExportDialog
from sphereapp.gui.face_choice_dialog import FaceChoiceDialog
from sphereapp.gui.gallery_panel import GalleryPanel
from sphereapp.gui.people_indexer import EnrolRequest, PeopleIndexing
from sphereapp.gui.people_panel import PeoplePanel, indexed_part
from sphereapp.gui.playback_bar import PlaybackBar
from sphereapp.gui.player import Player
from sphereapp.gui.recognition_box import RecognitionBox
from sphereapp.gui.settings import AppSettings, RecognitionSettings
from sphereapp.gui.settings_dialog import SettingsDialog, choose_model_file
from sphereapp.gui.video_view import VideoView

VIDEO_FILTER = "Videos (*.mp4 *.mov *.m4v *.mkv *.webm *.avi *.mpg *.mpeg *.ts *.wmv *.flv);;All files (*)"
INDEX_FILTERS = {"Report (*.html)": ".html", "Index (*.json)": ".json", "Appearances (*.csv)": ".csv"}  # -> suffix
SIDE_PANEL_WIDTH = 300
PEOPLE_PANEL_HEIGHT = 300
BANNER_STYLE = "QFrame#modelBanner { background: #fff3cd; border: 1px solid #e0c36c; border-radius: 4px; }" \
               "QFrame#modelBanner QLabel { color: #4d3800; }"
SHORTCUTS_HELP = ("Space: play / pause\n\u2190 / \u2192: one frame back / forward\nCtrl+O: open a video\n"
                  "Ctrl+E: export the annotated video\nCtrl+I: index the people in the video\n"
                  "Double-click a gallery name: rename\nRight-click a face: enrol it\n"
                  "Click a person's strip in the people panel: go there")


def dropped_files(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    return [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]


class ModelBanner(QFrame):
    """Shown while no recognition model is loaded: says why, offers to choose a weights file."""

    def __init__(self, choose, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.text = QLabel()
        self.text.setWordWrap(True)
        button = QPushButton("Choose model file\u2026")
        button.clicked.connect(choose)
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(button)
        self.hide()

    def show_problem(self, message: str) -> None:
        self.text.setText(f"<b>Faces cannot be recognised yet.</b> {message}<br>"
                          "Choose a SphereFace weights file (.safetensors); it is remembered in the settings.")
        self.show()


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings, gallery_path: Path, model: str | None = None):
        super().__init__()
        self.settings = settings
        self.gallery_path = gallery_path
        self.model_status: ModelStatus | None = None
        self._recognition = settings.recognition()
        self._index_recognition: RecognitionSettings | None = None  # what made the people panel's index
        if model:  # from the command line: used for this session, not saved
            self._recognition = replace(self._recognition, model=str(model))
        self.setWindowTitle("sphereapp")
        self.setAcceptDrops(True)
        self.engine = Engine(self)
        self.indexing = PeopleIndexing(self)
        self.player = Player(self.engine, threshold=0.5, show_scores=settings.show_scores, parent=self)
        self._build_widgets()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._size_window()
        self.engine.open_gallery(gallery_path)
        self.engine.load_model(self._recognition)

    # -- construction --------------------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.banner = ModelBanner(self.choose_model)
        self.video_view = VideoView()
        self.playback_bar = PlaybackBar(self.player)
        video_column = QWidget()
        column = QVBoxLayout(video_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.banner)
        column.addWidget(self.video_view, 1)
        column.addWidget(self.playback_bar)
        self.recognition_box = RecognitionBox(self.settings.show_scores)
        self.gallery_panel = GalleryPanel()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 0, 0, 0)
        side_layout.addWidget(self.recognition_box)
        side_layout.addWidget(self.gallery_panel, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(video_column)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([1000, SIDE_PANEL_WIDTH])
        splitter.setCollapsible(0, False)
        container = QWidget()
        outer = QVBoxLayout(container)
        outer.setContentsMargins(8, 8, 8, 4)
        outer.addWidget(splitter)
        self.setCentralWidget(container)
        self.people_panel = PeoplePanel()
        self.people_dock = QDockWidget("People in this video", self)
        self.people_dock.setObjectName("peopleDock")
        self.people_dock.setWidget(self.people_panel)
        self.people_dock.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.people_dock)
        self.resizeDocks([self.people_dock], [PEOPLE_PANEL_HEIGHT], Qt.Orientation.Vertical)
        self.people_dock.hide()  # shown when asked for: indexing takes a while

    def _action(self, text: str, slot, shortcut=None, menu: QMenu | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action("&Open video\u2026", self.choose_video, QKeySequence.StandardKey.Open, file_menu)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.export_action = self._action("&Export annotated video\u2026", self.choose_export_target, "Ctrl+E",
                                          file_menu)
        self.export_action.setEnabled(False)
        file_menu.addSeparator()
        self._action("&Settings\u2026", self.edit_settings, QKeySequence.StandardKey.Preferences, file_menu)
        file_menu.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)
        play_menu = self.menuBar().addMenu("&Playback")
        self._action("Play / pause", self.player.toggle_playing, Qt.Key.Key_Space, play_menu)
        self._action("Next frame", lambda: self.player.step(1), Qt.Key.Key_Right, play_menu)
        self._action("Previous frame", lambda: self.player.step(-1), Qt.Key.Key_Left, play_menu)
        people_menu = self.menuBar().addMenu("P&eople")
        self.index_action = self._action("&Index people in this video", self.index_people, "Ctrl+I", people_menu)
        self.index_action.setEnabled(False)
        panel_action = self.people_dock.toggleViewAction()
        panel_action.setText("Show the people &panel")
        people_menu.addAction(panel_action)
        help_menu = self.menuBar().addMenu("&Help")
        self._action("Keyboard shortcuts", lambda: self._inform("Keyboard shortcuts", SHORTCUTS_HELP), None,
                     help_menu)
        self._action("About the model", self._about_model, None, help_menu)
        self._action("About sphereapp", self._about, None, help_menu)
        self._rebuild_recent_menu()

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("device: \u2026")
        self.model_label = QLabel("model: loading\u2026")
        self.rate_label = QLabel()
        for label in (self.rate_label, self.device_label, self.model_label):
            self.statusBar().addPermanentWidget(label)

    def _connect(self) -> None:
        worker = self.engine.worker
        worker.modelReady.connect(self._model_ready)
        worker.modelFailed.connect(self._model_failed)
        worker.galleryChanged.connect(self.gallery_panel.set_identities)
        worker.videoFailed.connect(lambda message: self._warn("Cannot open the video", message))
        worker.frameFailed.connect(lambda message: self.statusBar().showMessage(message, 8000))
        worker.problem.connect(self._problem)
        worker.enrolled.connect(self._enrolled)
        worker.faceChoiceNeeded.connect(self._ask_face_choice)
        self.player.videoLoaded.connect(self._video_loaded)
        self.player.overlayChanged.connect(self.video_view.set_overlay)
        self.player.rateChanged.connect(self._show_rate)
        self.recognition_box.thresholdChanged.connect(self.player.set_threshold)
        self.recognition_box.showScoresChanged.connect(self._set_show_scores)
        self.gallery_panel.photosDropped.connect(self.enrol_photos)
        self.gallery_panel.renameRequested.connect(self.engine.rename)
        self.gallery_panel.removeRequested.connect(self.engine.remove)
        self.video_view.enrolRequested.connect(self.ask_enrol_from_frame)
        worker.galleryChanged.connect(self.people_panel.set_gallery)
        self.player.overlayChanged.connect(lambda overlay: self.people_panel.set_position(overlay.frame.time))
        self.people_panel.indexRequested.connect(self.index_people)
        self.people_panel.cancelRequested.connect(self.indexing.cancel)
        self.people_panel.seekRequested.connect(self.player.seek_time)
        self.people_panel.enrolRequested.connect(self.ask_enrol_person)
        self.people_panel.saveRequested.connect(self.save_people_index)
        self.indexing.progress.connect(self.people_panel.show_progress)
        self.indexing.people.connect(self.people_panel.set_index)
        self.indexing.finished.connect(self._indexed)
        self.indexing.cancelled.connect(self._index_cancelled)
        self.indexing.failed.connect(self._index_failed)
        self.indexing.enrolled.connect(self._person_enrolled)
        self.indexing.enrolFailed.connect(lambda message: self._warn("Cannot enrol", message))

    def _size_window(self) -> None:
        self.setMinimumSize(880, 540)
        geometry = self.settings.window_geometry()
        if geometry is not None and self.restoreGeometry(geometry):
            return
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            available = screen.availableGeometry()
            self.resize(max(880, int(available.width() * 0.75)), max(540, int(available.height() * 0.8)))

    # -- video ---------------------------------------------------------------------------------------------------

    def open_video(self, path: str | Path) -> None:
        """Open a video (answers arrive as signals: the first frame, or a warning)."""
        self.player.open(str(path))

    def choose_video(self) -> None:
        start = str(Path(self.player.path).parent) if self.player.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start, VIDEO_FILTER)
        if path:
            self.open_video(path)

    def _video_loaded(self, path: str, info: VideoInfo) -> None:
        self.setWindowTitle(f"{Path(path).name} \u2014 sphereapp")
        self.settings.add_recent_file(path)
        self._rebuild_recent_menu()
        self.indexing.cancel()  # an index of the video before is no use now
        self.people_panel.set_busy(False)
        self.people_panel.set_index(None)
        self._update_video_actions()
        self.statusBar().showMessage(
            f"{info.width}\u00d7{info.height}, {info.fps:.2f} fps, {info.codec}"
            + ("" if info.frame_count is None else f", {info.frame_count} frames"), 6000)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            self.recent_menu.addAction(Path(path).name, lambda p=path: self.open_video(p)).setToolTip(path)
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Photos and folders enrol people; any other file is opened as a video."""
        files = dropped_files(event)
        photos = [str(path) for path in files if enrols(path)]
        others = [path for path in files if not enrols(path)]
        event.acceptProposedAction()
        if others:
            self.open_video(others[0])
        if photos:
            self.enrol_photos(photos)

    # -- model ---------------------------------------------------------------------------------------------------

    def choose_model(self) -> None:
        path = choose_model_file(self, self._recognition.model)
        if path:
            self.use_recognition(replace(self._recognition, model=path))

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self._recognition, self)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.use_recognition(dialog.settings())

    def use_recognition(self, recognition: RecognitionSettings) -> None:
        """Save the settings and load the models they name."""
        self._recognition = recognition
        self.settings.set_recognition(recognition)
        self.model_label.setText("model: loading\u2026")
        self.engine.load_model(recognition)

    def _model_ready(self, status: ModelStatus) -> None:
        self.model_status = status
        self.banner.hide()
        self.device_label.setText(status.device)
        self.model_label.setText(f"model: {status.model_name}")
        self.recognition_box.set_default(status.threshold, status.far_curve, status.calibration)
        self._update_video_actions()

    def _model_failed(self, message: str) -> None:
        if self.model_status is None:
            self.model_label.setText("model: none")
            self.device_label.setText("device: \u2013")
            self.banner.show_problem(message)
        else:
            self.model_label.setText(f"model: {self.model_status.model_name}")
            self._warn("Cannot load the model", f"{message}\nStill using {self.model_status.model_name}.")

    # -- gallery -------------------------------------------------------------------------------------------------

    def enrol_photos(self, paths: list[str]) -> None:
        """Enrol one person per photo; a folder stands for the photos directly inside it."""
        try:
            photos, unread = photo_files(Path(path) for path in paths)
        except InputError as error:
            self._warn("Cannot enrol", str(error))
            return
        if unread:
            listed = ", ".join(path.name for path in unread[:5])
            if len(unread) > 5:
                listed += f" and {len(unread) - 5} more"
            self._warn("Photos not enrolled", f"{listed}: only {', '.join(IMAGE_SUFFIXES)} photos are read. "
                       "Convert them (e.g. to .jpg) and drop them again.")
        if not photos:
            if not unread:
                self._problem("No photos to enrol there.")
            return
        self.gallery_panel.show_message(f"Enrolling {len(photos)} photo{'s' if len(photos) > 1 else ''}\u2026")
        self.engine.enrol_photos([str(path) for path in photos])

    def ask_enrol_from_frame(self, face: int) -> None:
        """Right-click ▸ Enrol as…: ask for a name, then enrol that face of the shown frame."""
        overlay = self.player.overlay
        name, ok = QInputDialog.getText(self, "Enrol this face", "Name of the person:")
        if ok and name.strip() and overlay is not None:
            self.engine.enrol_from_frame(overlay, face, name.strip())

    def _ask_face_choice(self, choice: FaceChoice) -> None:
        dialog = FaceChoiceDialog(choice, self)
        dialog.accepted.connect(lambda: self.engine.enrol_choice(choice, dialog.chosen_face(), dialog.chosen_name()))
        dialog.rejected.connect(lambda: self.gallery_panel.show_message(f"Skipped {choice.path.name}."))
        dialog.open()

    def _enrolled(self, name: str, warnings: list[str]) -> None:
        self.gallery_panel.show_enrolled(name, warnings)
        hints = f" \u2014 {len(warnings)} hint{'s' if len(warnings) > 1 else ''} in the gallery panel"
        self.statusBar().showMessage(f"Enrolled {name}{hints if warnings else ''}", 5000)

    def _problem(self, message: str) -> None:
        self.gallery_panel.show_message(message)
        self.statusBar().showMessage(message, 10_000)

    # -- people of the video -------------------------------------------------------------------------------------

    def index_people(self) -> None:
        """Index the open video's people in the background with the current gallery, model and threshold (a run in
        progress starts again)."""
        if not self.index_action.isEnabled():
            return
        self.people_dock.show()
        self.people_dock.raise_()
        self.people_panel.set_busy(True)
        self.indexing.start(Path(self.player.path), self.gallery_path, self._recognition, self.player.threshold)

    def _indexed(self, index: VideoIndex, recognition: RecognitionSettings) -> None:
        self._index_recognition = recognition
        self.people_panel.set_busy(False)
        self.people_panel.set_index(index)
        known = sum(person.known for person in index.people)
        self.statusBar().showMessage(f"Indexed {Path(index.video).name}: {len(index.people)} people ({known} known, "
                                     f"{len(index.people) - known} unknown)", 8000)

    def _index_cancelled(self) -> None:
        """The panel shows the video's finished index again when it had one (indexing again was cancelled), else
        it keeps what it shows: the people found before Cancel (a partial index), or nothing."""
        restored = self.people_panel.restore_finished()
        self.people_panel.set_busy(False)
        index = self.people_panel.index
        if restored:
            kept = ": the panel shows the finished index it had before again"
        elif index is not None and index.partial:
            kept = f": the panel keeps the people of the {indexed_part(index)}"
        else:
            kept = ""
        self.statusBar().showMessage(f"Indexing cancelled{kept}", 5000)

    def _index_failed(self, message: str) -> None:
        """As Cancel: the finished index the panel had comes back."""
        restored = self.people_panel.restore_finished()
        self.people_panel.set_busy(False)
        again = "\nThe panel shows the finished index it had before again." if restored else ""
        self._warn("Cannot index the video", message + again)

    def ask_enrol_person(self, label: str) -> None:
        """People panel ▸ Enrol as…: ask for a name (a dialog without a loop of its own: the row that asked may be
        replaced by a snapshot while it is open), then enrol that person's best face into the gallery."""
        index, person = self.people_panel.index, self.people_panel.person(label)
        if index is None or index.partial or person is None or person.known:
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle(f"Enrol {label}")
        dialog.setLabelText("Name of the person:")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda name: self._enrol_person(person, name))
        dialog.open()

    def _enrol_person(self, person: Person, name: str) -> None:
        """The name is given: enrol `person` if the panel still shows them in a finished index (indexing again may
        have replaced the rows while the name was asked: their labels may be other people now)."""
        index, label = self.people_panel.index, person.label
        if index is None or index.partial or self.people_panel.person(label) is not person:
            self._warn("Cannot enrol", f"Nothing was enrolled: the people list changed while the name was asked, "
                       f"and '{label}' may be someone else now. Choose Enrol as\u2026 again once indexing has "
                       "finished.")
            return
        try:
            name_person(index, label, name)  # the index must take the name: checked before anything is stored
        except InputError as error:
            self._warn("Cannot enrol", str(error))
            return
        self.indexing.enrol(index, person, name.strip(), self.gallery_path, self._index_recognition)

    def _person_enrolled(self, request: EnrolRequest, name: str, hints: list[str]) -> None:
        """The gallery file has the person now: the index row takes the name (while the panel shows them) and the
        engine reads the gallery again (the video is labelled with it from the shown frame on)."""
        shown, label = self.people_panel.index, request.person.label
        if shown is not None and not shown.partial and self.people_panel.person(label) is request.person:
            try:
                self.people_panel.set_index(name_person(shown, label, name))
            except InputError:  # another row took that name meanwhile: the gallery has it, the row stays as it was
                pass
        self.engine.open_gallery(self.gallery_path)
        self._enrolled(name, hints)

    def save_people_index(self) -> None:
        """People panel ▸ Save…: write the shown (final) index to a file; its suffix picks the format (none: the
        chosen filter's, .html by default)."""
        index = self.people_panel.index
        if index is None or index.partial:
            return
        video = Path(index.video)
        suggestion = str(video.with_name(f"{video.stem}_people.html"))
        path, chosen = QFileDialog.getSaveFileName(self, "Save the people index", suggestion,
                                                   ";;".join(INDEX_FILTERS))
        if not path:
            return
        try:
            written = write_index(path, index, INDEX_FILTERS.get(chosen, ".html"))
        except InputError as error:
            self._warn("Cannot save the people index", str(error))
            return
        self.statusBar().showMessage(f"Saved people index to {written.name}", 8000)

    # -- display and export --------------------------------------------------------------------------------------

    def _set_show_scores(self, show: bool) -> None:
        self.settings.show_scores = show
        self.player.set_show_scores(show)

    def _show_rate(self, fps: float, lagging: bool) -> None:
        text = f"processing {fps:.1f} fps"
        if lagging:
            text += f" \u2014 slower than the video ({self.player.fps * self.player.speed:.0f} fps): skipping frames"
        self.rate_label.setText(text)
        self.rate_label.setStyleSheet("color: #d9534f; font-weight: bold;" if lagging else "")

    def _update_video_actions(self) -> None:
        """Export and indexing need a video and a model."""
        ready = self.player.path is not None and self.model_status is not None
        self.export_action.setEnabled(ready)
        self.index_action.setEnabled(ready)
        self.people_panel.set_can_index(ready)

    def choose_export_target(self) -> None:
        if not self.export_action.isEnabled():
            return
        video = Path(self.player.path)
        suggestion = str(video.with_name(f"{video.stem}-annotated.mp4"))
        output, _ = QFileDialog.getSaveFileName(self, "Export annotated video", suggestion, "MP4 video (*.mp4)")
        if not output:
            return
        if Path(output).resolve() == video.resolve():
            self._warn("Export annotated video", "Choose another file: the export cannot replace the video it reads.")
            return
        self.export_to(Path(output))

    def export_to(self, output: Path) -> ExportDialog:
        """Export the open video with the current gallery, threshold and score display; returns the open dialog."""
        self.player.pause()
        dialog = ExportDialog(self.engine, Path(self.player.path), output, self.player.threshold,
                              self.player.show_scores, self)
        dialog.finished.connect(lambda _: self._export_ended(dialog, output))
        dialog.open()
        dialog.start()
        return dialog

    def _export_ended(self, dialog: ExportDialog, output: Path) -> None:
        if dialog.summary is not None:
            summary = dialog.summary
            self.statusBar().showMessage(
                f"Exported {summary.frames} frames to {output} ({summary.fps:.1f} fps); "
                f"{summary.recognised} of {summary.faces} faces recognised", 15_000)
        elif dialog.error is not None:
            self._warn("Export failed", f"{dialog.error}\nNothing was written to {output}.")
        else:
            self.statusBar().showMessage("Export cancelled; nothing was written", 8000)

    # -- messages and shutdown -----------------------------------------------------------------------------------

    def _warn(self, title: str, text: str) -> None:
        QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self).open()

    def _inform(self, title: str, text: str) -> None:
        QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self).open()

    def _about(self) -> None:
        self._inform("About sphereapp", f"sphereapp {__version__}\nOpen-set face recognition in video with "
                     f"SphereFace.\nGallery: {self.gallery_path}")

    def _about_model(self) -> None:
        if self.model_status is None:
            self._inform("About the model", "No model is loaded.")
        else:
            self._inform("About the model", self.model_status.details)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.pause()
        self.settings.set_window_geometry(self.saveGeometry())
        self.indexing.shutdown()
        self.engine.shutdown()
        super().closeEvent(event)

