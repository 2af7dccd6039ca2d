"""Recognition controls: the open-set threshold (with the model's recommended value) and score display."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

STEPS = 1000  # slider positions for cosine thresholds 0.000 .. 1.000


class RecognitionBox(QGroupBox):
    """Threshold slider and 'show scores' toggle; moving the slider re-labels the shown frame at once."""

    thresholdChanged = Signal(float)
    showScoresChanged = Signal(bool)

    def __init__(self, show_scores: bool, parent: QWidget | None = None):
        super().__init__("Recognition", parent)
        self.default = 0.5
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(STEPS // 10)
        self.slider.setAccessibleName("Threshold")
        self.slider.valueChanged.connect(self._slider_moved)
        self.value_label = QLabel()
        self.reset_button = QPushButton()
        self.reset_button.setToolTip("Go back to the threshold the model recommends")
        self.reset_button.clicked.connect(lambda: self.set_threshold(self.default))
        self.scores = QCheckBox("Show scores")
        self.scores.setChecked(show_scores)
        self.scores.toggled.connect(self.showScoresChanged)
        explanation = QLabel("A face whose best cosine score is below the threshold is drawn as unknown "
                             "(grey dashed box).")
        explanation.setWordWrap(True)
        explanation.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QGridLayout(self)
        layout.addWidget(QLabel("Threshold"), 0, 0)
        layout.addWidget(self.value_label, 0, 1, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.slider, 1, 0, 1, 2)
        layout.addWidget(self.reset_button, 2, 0)
        layout.addWidget(self.scores, 2, 1, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(explanation, 3, 0, 1, 2)
        self.set_default(self.default)

    def threshold(self) -> float:
        return self.slider.value() / STEPS

    def set_threshold(self, threshold: float) -> None:
        self.slider.setValue(round(min(max(threshold, 0.0), 1.0) * STEPS))

    def set_default(self, threshold: float) -> None:
        """The loaded model's recommended threshold; the slider moves there."""
        self.default = threshold
        self.reset_button.setText(f"Model default ({threshold:.2f})")
        self.set_threshold(threshold)
        self._show_value()

    def _slider_moved(self) -> None:
        self._show_value()
        self.thresholdChanged.emit(self.threshold())

    def _show_value(self) -> None:
        self.value_label.setText(f"{self.threshold():.3f}")
