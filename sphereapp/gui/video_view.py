"""The video area: the annotated frame scaled to fit, a drop zone before any video, right-click on a face."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from sphereapp.gui.overlay import Overlay, face_at

DROP_HINT = ("Drop a video file here\nor choose File \u25b8 Open\u2026 (Ctrl+O)\n\n"
             "Drop photos of people on the gallery panel")


def to_qimage(image: np.ndarray) -> QImage:
    """An RGB uint8 (H, W, 3) array as a QImage that owns a copy of the pixels."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    """Shows the current overlay, aspect kept; emits `enrolRequested(face index)` from a face's context menu."""

    enrolRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.overlay: Overlay | None = None
        self._image: QImage | None = None
        self.placeholder = DROP_HINT
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 200)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def set_overlay(self, overlay: Overlay | None) -> None:
        self.overlay = overlay
        self._image = to_qimage(overlay.image) if overlay is not None else None
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn: as large as fits, centred."""
        if self._image is None:
            return QRectF()
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        width, height = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def to_image_point(self, point: QPointF) -> tuple[float, float] | None:
        """Widget coordinates -> frame pixel coordinates (None outside the frame)."""
        rect = self.image_rect()
        if self._image is None or not rect.contains(point):
            return None
        scale = self._image.width() / rect.width()
        return (point.x() - rect.x()) * scale, (point.y() - rect.y()) * scale

    def face_under(self, point: QPointF) -> int | None:
        """Index of the face drawn under a widget point."""
        image_point = self.to_image_point(point)
        if image_point is None or self.overlay is None:
            return None
        return face_at(self.overlay, *image_point)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._image is None:
            self._paint_drop_zone(painter)
            return
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(self.image_rect(), self._image)

    def _paint_drop_zone(self, painter: QPainter) -> None:
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(palette.color(QPalette.ColorRole.Mid), 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(16, 16, -16, -16), 12, 12)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        face = self.face_under(QPointF(event.pos()))
        if face is None:
            return
        label = self.overlay.labels[face]
        menu = QMenu(self)
        known = f" (now: {label.name})" if label.name else ""
        enrol = QAction(f"Enrol as\u2026{known}", menu)
        enrol.triggered.connect(lambda: self.enrolRequested.emit(face))
        menu.addAction(enrol)
        menu.exec(event.globalPos())
