"""A person's timeline strip: their appearances drawn along the video, the playback position on it; a click asks
to show that moment."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from sphereapp.core.index.people import Appearance
from sphereapp.gui.playback_bar import format_time

MIN_SPAN_PX = 2.0  # the narrowest an appearance is drawn
HIT_PX = 8.0  # an appearance drawn narrower than this still takes clicks this wide, centred on it
STRIP_HEIGHT = 22


def span_rects(appearances: Sequence[Appearance], duration: float, width: float) -> list[tuple[float, float]]:
    """(x, width) in pixels of each appearance on a strip `width` pixels wide for a video of `duration` seconds."""
    if duration <= 0:
        return []
    spans = []
    for appearance in appearances:
        x = width * min(max(appearance.start / duration, 0.0), 1.0)
        end = width * min(max(appearance.end / duration, 0.0), 1.0)
        spans.append((min(x, width - MIN_SPAN_PX), max(end - x, MIN_SPAN_PX)))
    return spans


def appearance_at(appearances: Sequence[Appearance], duration: float, width: float, x: float) -> int | None:
    """The appearance drawn under pixel `x` (thin ones take clicks HIT_PX wide); None between appearances."""
    for i, (left, span) in enumerate(span_rects(appearances, duration, width)):
        grow = max(0.0, HIT_PX - span) / 2
        if left - grow <= x <= left + span + grow:
            return i
    return None


def seek_time(appearances: Sequence[Appearance], duration: float, width: float, x: float) -> float | None:
    """The moment a click at pixel `x` shows: the clicked time when it falls within the appearance under it, else
    the start of that appearance or, between appearances, of the nearest one; None when there is none."""
    if not appearances or duration <= 0 or width <= 0:
        return None
    hit = appearance_at(appearances, duration, width, x)
    if hit is not None:
        seconds, appearance = x / width * duration, appearances[hit]
        return seconds if appearance.start <= seconds < appearance.end else appearance.start
    spans = span_rects(appearances, duration, width)
    nearest = min(range(len(spans)), key=lambda i: max(spans[i][0] - x, x - spans[i][0] - spans[i][1]))
    return appearances[nearest].start


class TimelineStrip(QWidget):
    """One person's appearances over the video; `seekRequested(seconds)` when clicked."""

    seekRequested = Signal(float)

    def __init__(self, appearances: Sequence[Appearance], duration: float, color: QColor,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.appearances = tuple(appearances)
        self.duration = duration
        self.color = color
        self.position: float | None = None  # the shown moment (s), drawn as a line
        self.setFixedHeight(STRIP_HEIGHT)
        self.setMinimumWidth(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName("Appearances")

    def sizeHint(self) -> QSize:
        return QSize(400, STRIP_HEIGHT)

    def set_color(self, color: QColor) -> None:
        self.color = color
        self.update()

    def set_position(self, seconds: float | None) -> None:
        self.position = seconds
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.AlternateBase).darker(112))
        painter.drawRoundedRect(QRectF(self.rect()), 3, 3)
        painter.setBrush(self.color)
        for x, width in span_rects(self.appearances, self.duration, self.width()):
            painter.drawRect(QRectF(x, 0, width, self.height()))
        if self.position is not None and self.duration > 0:
            x = self.width() * min(max(self.position / self.duration, 0.0), 1.0)
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Text), 1.5))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        seconds = seek_time(self.appearances, self.duration, self.width(), event.position().x())
        if seconds is not None:
            self.seekRequested.emit(seconds)
        event.accept()

    def event(self, event: QEvent) -> bool:
        """Hovering an appearance shows its start and end."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            hit = appearance_at(self.appearances, self.duration, self.width(), event.pos().x())
            if hit is None:
                QToolTip.hideText()
            else:
                appearance = self.appearances[hit]
                QToolTip.showText(event.globalPos(),
                                  f"{format_time(appearance.start)} \u2013 {format_time(appearance.end)}", self)
            return True
        return super().event(event)
