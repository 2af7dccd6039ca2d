"""Export progress: percent, processing fps and time left, with Cancel; the engine does the work."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from sphereapp.core.drivers.file import RunSummary
from sphereapp.gui.engine import Engine
from sphereapp.gui.playback_bar import format_time


def progress_text(done: int, total: int | None, seconds: float) -> str:
    """'42% · 12.3 fps · 0:07.0 left' (percent and time left only when the frame count is known)."""
    fps = done / seconds if seconds > 0 else 0.0
    parts = [f"{done} frames" if not total else f"{min(100, round(100 * done / total))}%"]
    parts.append(f"{fps:.1f} fps")
    if total and fps > 0:
        parts.append(f"{format_time(max(total - done, 0) / fps)} left")
    return " \u00b7 ".join(parts)


class ExportDialog(QDialog):
    """Runs one export; afterwards `summary` is set on success, `error` on failure (both None: cancelled)."""

    def __init__(self, engine: Engine, video: Path, output: Path, threshold: float, show_scores: bool,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.summary: RunSummary | None = None
        self.error: str | None = None
        self.running = False
        self._request = (video, output, threshold, show_scores)
        self._started = 0.0
        self.setWindowTitle("Export annotated video")
        self.setModal(True)
        heading = QLabel(f"Annotating \u201c{video.name}\u201d into \u201c{output}\u201d")
        heading.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first batch is done
        self.status = QLabel("Starting\u2026")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (heading, self.bar, self.status, self.buttons):
            layout.addWidget(widget)
        self.setMinimumWidth(460)
        worker = engine.worker
        self._connections = [
            (worker.exportProgress, self._progress), (worker.exportFinished, self._finished),
            (worker.exportCancelled, self._cancelled), (worker.exportFailed, self._failed),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)

    def start(self) -> None:
        """Begin the export (the dialog stays open until it ends)."""
        self.running = True
        self._started = time.perf_counter()
        self.engine.export(*self._request)

    def reject(self) -> None:
        """Cancel asks the engine to stop; the dialog closes once it has (and removed its partial file)."""
        if self.running:
            self.engine.cancel_export()
            self.status.setText("Cancelling\u2026")
            self.buttons.setEnabled(False)
            return
        super().reject()

    def _progress(self, done: int, total: int | None) -> None:
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        self.status.setText(progress_text(done, total, time.perf_counter() - self._started))

    def _finished(self, summary: RunSummary) -> None:
        self.summary = summary
        self._end()
        self.accept()

    def _cancelled(self) -> None:
        self._end()
        self.reject()

    def _failed(self, message: str) -> None:
        self.error = message
        self._end()
        self.reject()

    def _end(self) -> None:
        self.running = False
        for signal, slot in self._connections:
            signal.disconnect(slot)
