"""Recognition controls: the open-set threshold (the model's recommended one, what it means for strangers), scores."""

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

from sphereapp.core.vision.calibration import FarCurve, describe_threshold

STEPS = 1000  # slider positions for cosine thresholds 0.000 .. 1.000


class RecognitionBox(QGroupBox):
    """Threshold slider and 'show scores' toggle; moving the slider re-labels the shown frame at once."""

    thresholdChanged = Signal(float)
    showScoresChanged = Signal(bool)

    def __init__(self, show_scores: bool, parent: QWidget | None = None):
        super().__init__("Recognition", parent)
        self.default = 0.5
        self.far_curve: FarCurve = ()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(STEPS // 10)
        self.slider.setAccessibleName("Threshold")
        self.slider.valueChanged.connect(self._slider_moved)
        self.value_label = QLabel()
        self.meaning = QLabel()
        self.meaning.setAccessibleName("Strangers accepted")
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
        layout.addWidget(self.meaning, 2, 0, 1, 2)
        layout.addWidget(self.reset_button, 3, 0)
        layout.addWidget(self.scores, 3, 1, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(explanation, 4, 0, 1, 2)
        self.set_default(self.default)

    def threshold(self) -> float:
        return self.slider.value() / STEPS

    def set_threshold(self, threshold: float) -> None:
        self.slider.setValue(round(min(max(threshold, 0.0), 1.0) * STEPS))

    def set_default(self, threshold: float, far_curve: FarCurve = (), calibration: str = "") -> None:
        """The loaded model's recommended threshold (the slider moves there) and its open-set calibration."""
        self.default, self.far_curve = threshold, far_curve
        self.meaning.setToolTip(
            f"Share of people not in the gallery named as someone at this threshold, measured on {calibration}; "
            "a smaller gallery accepts fewer." if far_curve else
            "This model file carries no open-set calibration (sphereapp-train eval openset --into adds one).")
        self.reset_button.setText(f"Model default ({threshold:.2f})")
        self.set_threshold(threshold)
        self._show_value()

    def _slider_moved(self) -> None:
        self._show_value()
        self.thresholdChanged.emit(self.threshold())

    def _show_value(self) -> None:
        self.value_label.setText(f"{self.threshold():.3f}")
        self.meaning.setText(describe_threshold(self.far_curve, self.threshold()))
