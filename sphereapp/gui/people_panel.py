"""The "People in this video" panel: a row per person of the video's index (best face, name or "Unknown N", screen
time, a timeline strip), the indexing progress with Cancel, "Enrol as…" on unknown people, and "Save…" for the
index as a file. While indexing runs it shows the people found so far (a partial index) with "Enrol as…" and
"Save…" disabled: their grouping may still change. It keeps the last finished index of the video, to show again
when indexing it again is cancelled or fails.

Each snapshot replaces the rows, so nothing modal hangs off a row: a row's context menu belongs to the panel and
pops up without a loop of its own, and an "Enrol as…" it offered is disabled once the rows it was opened on are gone.

It shows what it is given and says what the user asked for through signals; the window does the work.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QContextMenuEvent, QMouseEvent, QPalette, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from sphereapp.core.identities.store import Identity
from sphereapp.core.index.people import Person
from sphereapp.core.index.report import VideoIndex
from sphereapp.core.media.annotate import Color, identity_color
from sphereapp.gui.export_dialog import progress_text
from sphereapp.gui.playback_bar import format_time
from sphereapp.gui.timeline_strip import TimelineStrip
from sphereapp.gui.video_view import to_qimage

THUMBNAIL_SIZE = QSize(40, 50)
INFO_WIDTH = 230  # px of name and screen time: the strips of all rows start at the same x
UNKNOWN_COLOR = (150, 150, 150)  # the strip of an unknown person (as their grey box in the video)
HINT = ("Index people finds everyone in this video: gallery people by name, the others grouped as Unknown 1, 2, \u2026 "
        "with their screen time. It reads the whole video in the background, listing people as it finds them; "
        "playback goes on meanwhile.")
STALE_ENROL_TIP = "The list changed while this menu was open: open the person's menu again"
SAVE_TIP = ("Save the index: a report page (.html), the index for 'sphereapp gallery add-from-index' (.json) or the "
            "appearances (.csv)")


def person_summary(person: Person) -> str:
    """'12.3 s on screen · 2 appearances'."""
    count = len(person.appearances)
    return f"{person.seconds:.1f} s on screen \u00b7 {count} appearance{'s' if count != 1 else ''}"


def index_summary(index: VideoIndex) -> str:
    """'5 people (2 known, 3 unknown) · model … · threshold 0.467', after 'Partial: first 0:12.0 of 0:40.0 · ' when
    partial."""
    known = sum(person.known for person in index.people)
    count = len(index.people)
    text = (f"{count} {'person' if count == 1 else 'people'} ({known} known, {count - known} unknown) \u00b7 "
            f"model {index.model} \u00b7 threshold {index.threshold:.3f}")
    return f"Partial: {indexed_part(index)} \u00b7 {text}" if index.partial else text


def indexed_part(index: VideoIndex) -> str:
    """'first 0:12.0 of 0:40.0' (of a partial index)."""
    return f"first {format_time(index.indexed_until)} of {format_time(index.duration)}"


def face_pixmap(person: Person) -> QPixmap:
    """The person's best face, fitted into THUMBNAIL_SIZE."""
    return QPixmap.fromImage(to_qimage(person.thumbnail)).scaled(
        THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class PersonRow(QFrame):
    """One person: face, name, screen time, strip, and "Enrol as…" when unknown (disabled unless `can_enrol`). A
    click on the row shows their first appearance, a click on the strip that moment; a right-click asks the panel
    for the person's menu (the row may be replaced while it is open)."""

    seekRequested = Signal(float)
    enrolRequested = Signal(str)  # the person's label
    menuRequested = Signal(QPoint)  # global position

    def __init__(self, person: Person, duration: float, color: Color, can_enrol: bool,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.person = person
        self.can_enrol = can_enrol
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{person.label}: first seen at {format_time(person.appearances[0].start)}, "
                        f"{person.faces} faces, mean score {person.mean_score:.2f}")
        self.face = QLabel()
        self.face.setFixedSize(THUMBNAIL_SIZE)
        self.face.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.face.setPixmap(face_pixmap(person))
        self.name = QLabel(person.label)
        font = self.name.font()
        font.setBold(True)
        self.name.setFont(font)
        if not person.known:
            self.name.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.details = QLabel(person_summary(person))
        info = QWidget()
        info.setFixedWidth(INFO_WIDTH)
        info_layout = QVBoxLayout(info)
        info_layout.setContentsMargins(0, 0, 0, 0)
        info_layout.addWidget(self.name)
        info_layout.addWidget(self.details)
        self.strip = TimelineStrip(person.appearances, duration, QColor(*color))
        self.strip.seekRequested.connect(self.seekRequested)
        self.enrol_button = QPushButton("Enrol as\u2026")
        self.enrol_button.setToolTip(f"Add {person.label}'s best face to the gallery under a name" if can_enrol
                                     else "Once indexing has finished: until then the grouping may still change")
        self.enrol_button.setEnabled(can_enrol)
        self.enrol_button.clicked.connect(lambda: self.enrolRequested.emit(person.label))
        size_policy = self.enrol_button.sizePolicy()
        size_policy.setRetainSizeWhenHidden(True)  # known rows keep the space: every strip ends at the same x
        self.enrol_button.setSizePolicy(size_policy)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.addWidget(self.face)
        layout.addWidget(info)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.enrol_button)
        # Once it has a parent: shown without one, it would be a window of its own for a moment, and a new window
        # closes any open menu (a row's, when a snapshot arrives).
        self.enrol_button.setVisible(not person.known)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.seekRequested.emit(self.person.appearances[0].start)
            event.accept()
        else:
            super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.menuRequested.emit(event.globalPos())
        event.accept()


class PeoplePanel(QWidget):
    """The index of the open video as rows, with the controls to make it."""

    indexRequested = Signal()
    cancelRequested = Signal()
    seekRequested = Signal(float)  # seconds into the video
    enrolRequested = Signal(str)  # label of an unknown person
    saveRequested = Signal()  # the shown (final) index, to a file

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.index: VideoIndex | None = None
        self.last_finished: VideoIndex | None = None  # of the shown video: what Cancel of indexing again shows
        self.rows: list[PersonRow] = []
        self.menu = QMenu(self)  # a row's menu: the panel's, so that it outlives the rows a snapshot replaces
        self._menu_enrol: QAction | None = None  # its "Enrol as…"
        self._colors: dict[str, Color] = {}  # gallery name -> colour
        self._position: float | None = None
        self._started = 0.0
        self._busy = False
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; the panel shows the finished index it had again, or else "
                                      "keeps the people found so far (marked partial)")
        self.cancel_button.clicked.connect(self._cancel)
        self.index_button = QPushButton("Index people")
        self.index_button.setToolTip("Find everyone in this video (Ctrl+I)")
        self.index_button.clicked.connect(self.indexRequested)
        self.save_button = QPushButton("Save\u2026")
        self.save_button.clicked.connect(self.saveRequested)
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        for widget in (self.progress, self.cancel_button, self.index_button, self.save_button):
            header.addWidget(widget)
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._rows_widget = QWidget()
        self._rows_layout = QVBoxLayout(self._rows_widget)
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(4)
        self._rows_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self._rows_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(header)
        layout.addWidget(self.hint)
        layout.addWidget(self.scroll, 1)
        self.set_busy(False)
        self.set_index(None)

    # -- what the window shows -----------------------------------------------------------------------------------

    def set_index(self, index: VideoIndex | None) -> None:
        """Show the people of an index (None: no index yet, e.g. of a video just opened); a partial one while
        indexing runs leaves the progress in the summary. A finished one is kept for `restore_finished`."""
        self.index = index
        if index is None or (self.last_finished is not None and self.last_finished.video != index.video):
            self.last_finished = None  # another video's: never shown again
        if index is not None and not index.partial:
            self.last_finished = index
        if self._menu_enrol is not None:  # an open menu's "Enrol as…" was about rows that are gone now
            self._menu_enrol.setEnabled(False)
            self._menu_enrol.setToolTip(STALE_ENROL_TIP)
        for row in self.rows:
            self._rows_layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for person in index.people if index is not None else ():
            row = PersonRow(person, index.duration, self._color(person), can_enrol=not index.partial)
            row.strip.set_position(self._position)
            row.seekRequested.connect(self.seekRequested)
            row.enrolRequested.connect(self.enrolRequested)
            row.menuRequested.connect(partial(self._open_menu, index, person, row.can_enrol))
            self._rows_layout.insertWidget(len(self.rows), row)
            self.rows.append(row)
        self.hint.setVisible(index is None)
        self.scroll.setVisible(index is not None)
        self.index_button.setText("Index people" if index is None else "Index again")
        final = index is not None and not index.partial
        self.save_button.setEnabled(final)
        self.save_button.setToolTip(SAVE_TIP if final or index is None else
                                    "Once indexing has finished: until then the index covers part of the video")
        if not self._busy:
            self._show_summary()

    def restore_finished(self) -> bool:
        """Show the last finished index of this video again in place of a partial one (indexing it again was
        cancelled or failed); whether it did."""
        finished = self.last_finished
        if self.index is None or not self.index.partial or finished is None or finished.video != self.index.video:
            return False
        self.set_index(finished)
        return True

    def person(self, label: str) -> Person | None:
        """The shown person labelled `label`."""
        return next((row.person for row in self.rows if row.person.label == label), None)

    def set_busy(self, busy: bool) -> None:
        """Indexing runs: progress and Cancel instead of the Index button."""
        self._busy = busy
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(True)
        self.index_button.setVisible(not busy)
        if busy:
            self._started = time.perf_counter()
            self.progress.setRange(0, 0)  # busy until the first frames are done
            self.progress.setFormat("")
            self.summary.setText("Loading the models\u2026")
        else:
            self._show_summary()

    def show_progress(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.summary.setText(f"Indexing \u00b7 {progress_text(done, total, time.perf_counter() - self._started)}")

    def set_can_index(self, can: bool) -> None:
        """Whether a video and a model are there to index with."""
        self.index_button.setEnabled(can)

    def set_position(self, seconds: float) -> None:
        """The moment the player shows, drawn on every strip."""
        self._position = seconds
        for row in self.rows:
            row.strip.set_position(seconds)

    def set_gallery(self, identities: Sequence[Identity]) -> None:
        """The gallery's colours, for the strips of known people."""
        self._colors = {identity.name: identity.color for identity in identities}
        for row in self.rows:
            row.strip.set_color(QColor(*self._color(row.person)))

    def _show_summary(self) -> None:
        index = self.index
        if index is None:
            self.summary.setText("No index of this video yet.")
        else:
            nobody = f"Nobody found in the {indexed_part(index)}." if index.partial else "Nobody found in this video."
            self.summary.setText(index_summary(index) if index.people else nobody)
        self.summary.setToolTip(index.video if index is not None else "")

    def _color(self, person: Person) -> Color:
        if not person.known:
            return UNKNOWN_COLOR
        return self._colors.get(person.label) or identity_color(person.label)

    def _open_menu(self, index: VideoIndex, person: Person, can_enrol: bool, position: QPoint) -> None:
        """A row's menu, shown without a loop of its own: the row's handler returns at once, and a snapshot that
        replaces the rows meanwhile leaves the menu open."""
        self._menu_enrol = None
        self.menu.clear()
        start = person.appearances[0].start
        self.menu.addAction("Go to first appearance", lambda: self.seekRequested.emit(start))
        if not person.known:
            self._menu_enrol = self.menu.addAction("Enrol as\u2026", lambda: self._enrol_from_menu(index, person))
            self._menu_enrol.setEnabled(can_enrol)
        self.menu.popup(position)

    def _enrol_from_menu(self, index: VideoIndex, person: Person) -> None:
        """Only while the rows the menu was opened on are still shown (a re-index may have replaced them)."""
        if self.index is index and not index.partial:
            self.enrolRequested.emit(person.label)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.summary.setText("Cancelling\u2026")
        self.cancelRequested.emit()
