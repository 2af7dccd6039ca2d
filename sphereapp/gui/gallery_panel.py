"""The gallery panel: enrolled people with their face crop and colour; drop photos to enrol, rename, remove."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from sphereapp.core.identities.photos import IMAGE_SUFFIXES, enrols
from sphereapp.core.identities.store import Identity
from sphereapp.gui.video_view import to_qimage

SWATCH_WIDTH = 6  # px of identity colour framing each face thumbnail
BADGE_SIZE = 20  # px of the warning sign on the thumbnail of a person enrolled with hints
WARNING_SIGN = "\u26a0"
THUMBNAIL_SIZE = QSize(48, 56)  # half the 96x112 crop: sharp on 2x screens
HINT = ("Drop photos or a folder of photos here to enrol people (name = file name).\n"
        "Double-click a name to rename; right-click to remove.")


def dropped_paths(mime: QMimeData) -> list[str]:
    """Dragged local folders and photo files (of any photo type: the window says which it cannot read)."""
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [str(path) for path in paths if enrols(path)]


def thumbnail(identity: Identity, badge: QIcon | None = None) -> QIcon:
    """The aligned face crop framed in the identity's colour, with `badge` in its bottom-right corner."""
    crop = QPixmap.fromImage(to_qimage(identity.crop))
    framed = QPixmap(crop.width() + 2 * SWATCH_WIDTH, crop.height() + 2 * SWATCH_WIDTH)
    framed.fill(QColor(*identity.color))
    painter = QPainter(framed)
    painter.drawPixmap(SWATCH_WIDTH, SWATCH_WIDTH, crop)
    if badge is not None:
        painter.drawPixmap(framed.width() - BADGE_SIZE, framed.height() - BADGE_SIZE, badge.pixmap(BADGE_SIZE))
    painter.end()
    return QIcon(framed)


class GalleryPanel(QWidget):
    """Lists the gallery; the window carries out what its signals ask (through the engine)."""

    photosDropped = Signal(list)  # paths of photos and folders of photos to enrol
    renameRequested = Signal(str, str)  # old, new
    removeRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.hints: dict[str, list[str]] = {}  # name -> hints from enrolling that person in this session
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.list = QListWidget()
        self.list.setIconSize(THUMBNAIL_SIZE)
        triggers = QAbstractItemView.EditTrigger
        self.list.setEditTriggers(triggers.DoubleClicked | triggers.EditKeyPressed)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemChanged.connect(self._item_edited)
        self.list.setAcceptDrops(False)
        self.list.viewport().setAcceptDrops(False)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        add = QPushButton("Add photos\u2026")
        add.clicked.connect(self._choose_photos)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        remove_key = QShortcut(QKeySequence.StandardKey.Delete, self.list)
        remove_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove_key.activated.connect(self._remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.list, hint):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.set_identities([])

    def names(self) -> list[str]:
        return [self.list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.list.count())]

    def set_identities(self, identities: Sequence[Identity]) -> None:
        """Show the gallery as stored."""
        self.list.blockSignals(True)
        self.list.clear()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for identity in identities:
            hints = self.hints.get(identity.name, [])
            item = QListWidgetItem(thumbnail(identity, warning if hints else None), identity.name)
            item.setData(Qt.ItemDataRole.UserRole, identity.name)
            tip = f"{identity.name}\nfrom {identity.source}" if identity.source else identity.name
            item.setToolTip("\n".join([tip, *(f"{WARNING_SIGN} {hint}" for hint in hints)]))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        self.list.blockSignals(False)
        count = len(identities)
        self.title.setText(f"Gallery \u2014 {count} {'person' if count == 1 else 'people'}")
        self.remove_button.setEnabled(count > 0)

    def show_message(self, text: str) -> None:
        """A note about the last enrolment (no face found, enrolled, ...)."""
        self.message.setText(text)

    def show_enrolled(self, name: str, hints: Sequence[str]) -> None:
        """Say who was enrolled, with one line per quality hint; the person's entry keeps a warning sign."""
        self.show_message("\n".join([f"Enrolled {name}.", *(f"{WARNING_SIGN} {hint}" for hint in hints)]))
        self.hints[name] = list(hints)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.photosDropped.emit(paths)

    def _choose_photos(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in IMAGE_SUFFIXES)
        paths, _ = QFileDialog.getOpenFileNames(self, "Enrol people from photos", "", f"Photos ({patterns})")
        if paths:
            self.photosDropped.emit(paths)

    def _item_edited(self, item: QListWidgetItem) -> None:
        old, new = item.data(Qt.ItemDataRole.UserRole), item.text().strip()
        if new != old:
            if old in self.hints:
                self.hints[new] = self.hints.pop(old)
            self.renameRequested.emit(old, new)

    def _context_menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction("Remove", lambda: self._confirm_remove(item.data(Qt.ItemDataRole.UserRole)))
        menu.exec(self.list.viewport().mapToGlobal(position))

    def _remove_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._confirm_remove(item.data(Qt.ItemDataRole.UserRole))

    def _confirm_remove(self, name: str) -> None:
        answer = QMessageBox.question(self, "Remove from gallery", f"Remove {name} from the gallery?")
        if answer == QMessageBox.StandardButton.Yes:
            self.removeRequested.emit(name)
