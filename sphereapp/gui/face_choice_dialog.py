"""Asks which face of a photo with several faces to enrol, and under which name."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sphereapp.gui.engine import FaceChoice
from sphereapp.gui.video_view import to_qimage

PREVIEW_SIZE = QSize(560, 360)
CHOSEN_COLOR = QColor(255, 200, 0)
OTHER_COLOR = QColor(255, 255, 255)


def face_thumbnail(image: QImage, box) -> QIcon:
    """The face's box cut out of the photo."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return QIcon(QPixmap.fromImage(image.copy(x1, y1, max(1, x2 - x1), max(1, y2 - y1))))


class FaceChoiceDialog(QDialog):
    """Shows the photo with numbered boxes; the user picks one (list below) and confirms the name."""

    def __init__(self, choice: FaceChoice, parent: QWidget | None = None):
        super().__init__(parent)
        self.choice = choice
        self.setWindowTitle("Several faces found")
        self._photo = to_qimage(choice.image)
        boxes = choice.detections.boxes
        intro = QLabel(f"{len(boxes)} faces were found in \u201c{choice.path.name}\u201d. Pick the person to enrol:")
        intro.setWordWrap(True)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.faces = QListWidget()
        self.faces.setViewMode(QListView.ViewMode.IconMode)
        self.faces.setIconSize(QSize(64, 64))
        self.faces.setFlow(QListView.Flow.LeftToRight)
        self.faces.setWrapping(False)
        self.faces.setFixedHeight(110)
        for number, box in enumerate(boxes, start=1):
            self.faces.addItem(QListWidgetItem(face_thumbnail(self._photo, box), str(number)))
        self.faces.currentRowChanged.connect(self._draw_preview)
        self.name = QLineEdit(choice.name)
        form = QFormLayout()
        form.addRow("Name", self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Enrol")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(
            lambda text: buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip()))
        )
        layout = QVBoxLayout(self)
        for widget in (intro, self.preview, self.faces):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.faces.setCurrentRow(choice.suggested)

    def chosen_face(self) -> int:
        return self.faces.currentRow()

    def chosen_name(self) -> str:
        return self.name.text().strip()

    def _draw_preview(self, chosen: int) -> None:
        """The photo scaled into the preview with every box numbered, the chosen one highlighted."""
        pixmap = QPixmap.fromImage(self._photo).scaled(
            PREVIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        scale = pixmap.width() / self._photo.width()
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        tag_height = painter.fontMetrics().height() + 2
        for number, box in enumerate(self.choice.detections.boxes, start=1):
            x1, y1, x2, y2 = (float(v) * scale for v in box)
            color = CHOSEN_COLOR if number - 1 == chosen else OTHER_COLOR
            painter.setPen(QPen(color, 3 if number - 1 == chosen else 1.5))
            painter.drawRect(QRectF(x1, y1, x2 - x1, y2 - y1))
            tag = QRectF(x1, max(0.0, y1 - tag_height), painter.fontMetrics().horizontalAdvance(str(number)) + 8,
                         tag_height)
            painter.fillRect(tag, color)
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, str(number))
        painter.end()
        self.preview.setPixmap(pixmap)
