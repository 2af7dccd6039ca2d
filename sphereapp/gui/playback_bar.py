"""Transport controls under the video: step back, play/pause, step forward, scrub slider with time, speed."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QWidget,
)

from sphereapp.gui.overlay import Overlay
from sphereapp.gui.player import SPEEDS, Player


def format_time(seconds: float) -> str:
    """m:ss.s (h:mm:ss.s from an hour on)."""
    minutes, secs = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


def transport_icon(kind: str, color: QColor, size: int = 32) -> QIcon:
    """'play', 'pause', 'back' or 'forward' (a bar and a triangle) drawn in `color`, readable on any theme."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    unit = size / 32

    def polygon(*points: tuple[float, float]) -> QPolygonF:
        return QPolygonF([QPointF(x * unit, y * unit) for x, y in points])

    if kind == "pause":
        painter.drawRect(QRectF(9 * unit, 7 * unit, 5 * unit, 18 * unit))
        painter.drawRect(QRectF(18 * unit, 7 * unit, 5 * unit, 18 * unit))
    elif kind == "play":
        painter.drawPolygon(polygon((10, 6), (26, 16), (10, 26)))
    else:
        bar_x, tip, base = (7, 12, 25) if kind == "back" else (21, 20, 7)
        painter.drawRect(QRectF(bar_x * unit, 8 * unit, 4 * unit, 16 * unit))
        painter.drawPolygon(polygon((base, 8), (tip, 16), (base, 24)))
    painter.end()
    return QIcon(pixmap)


class PlaybackBar(QWidget):
    """Drives a Player and follows its state."""

    def __init__(self, player: Player, parent: QWidget | None = None):
        super().__init__(parent)
        self.player = player
        self.back = self._button("One frame back (\u2190)", lambda: player.step(-1))
        self.play = self._button("Play / pause (Space)", player.toggle_playing)
        self.forward = self._button("One frame forward (\u2192)", lambda: player.step(1))
        self._paint_icons()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys step frames, window-wide
        self.slider.setAccessibleName("Position")
        self.slider.valueChanged.connect(player.seek)
        self.time_label = QLabel()
        self.time_label.setTextFormat(Qt.TextFormat.PlainText)
        self.speed = QComboBox()
        self.speed.setToolTip("Playback speed")
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}\u00d7", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(lambda i: player.set_speed(self.speed.itemData(i)))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.back, self.play, self.forward):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(self.speed)
        player.lengthChanged.connect(self._length_changed)
        player.overlayChanged.connect(self._show_position)
        player.playingChanged.connect(self._playing_changed)
        self.setEnabled(False)
        player.videoLoaded.connect(lambda *_: self.setEnabled(True))

    def _button(self, tip: str, action) -> QToolButton:
        button = QToolButton()
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(action)
        return button

    def _length_changed(self, frames: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(frames - 1, 0))
        self.slider.blockSignals(False)

    def _show_position(self, overlay: Overlay) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(overlay.index)
        self.slider.blockSignals(False)
        player = self.player
        duration = player.frame_count / player.fps
        self.time_label.setText(
            f"{format_time(overlay.index / player.fps)} / {format_time(duration)}"
            f"   frame {overlay.index + 1}/{player.frame_count}"
        )

    def _playing_changed(self, playing: bool) -> None:
        self._paint_icons()

    def _paint_icons(self) -> None:
        color = self.palette().color(QPalette.ColorRole.ButtonText)
        self.back.setIcon(transport_icon("back", color))
        self.play.setIcon(transport_icon("pause" if self.player.playing else "play", color))
        self.forward.setIcon(transport_icon("forward", color))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the desktop switched between light and dark
            self._paint_icons()
        super().changeEvent(event)
