"""Edits the recognition settings: compute device, model weights file, smallest face to detect."""

from __future__ import annotations

import torch
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from sphereapp.gui.settings import RecognitionSettings

MODEL_FILTER = "SphereFace weights (*.safetensors *.pt *.pth);;All files (*)"
DEVICES = (("Automatic (CUDA when available)", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"))


def choose_model_file(parent: QWidget | None, start: str = "") -> str:
    """Ask for a weights file; "" when the user cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, "Choose a SphereFace model file", start, MODEL_FILTER)
    return path


class SettingsDialog(QDialog):
    """OK gives `settings()`; the window then reloads the models."""

    def __init__(self, current: RecognitionSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.device = QComboBox()
        for label, value in DEVICES:
            self.device.addItem(label, value)
        if not torch.cuda.is_available():
            self.device.model().item(2).setEnabled(False)
            self.device.setItemText(2, "CUDA GPU (none found)")
        self.device.setCurrentIndex(max(0, self.device.findData(current.device)))
        self.model = QLineEdit(current.model)
        self.model.setPlaceholderText("the shipped default model")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.min_face = QSpinBox()
        self.min_face.setRange(12, 1000)
        self.min_face.setSuffix(" px")
        self.min_face.setValue(current.min_face_size)
        self.min_face.setToolTip("Faces smaller than this (in video pixels) are not detected; larger is faster")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Device", self.device)
        form.addRow("Model file", model_row)
        form.addRow("Smallest face", self.min_face)
        form.addRow(buttons)
        self.setMinimumWidth(520)

    def settings(self) -> RecognitionSettings:
        return RecognitionSettings(self.device.currentData(), self.model.text().strip(), self.min_face.value())

    def _browse(self) -> None:
        path = choose_model_file(self, self.model.text())
        if path:
            self.model.setText(path)
