"""The desktop app's persistent settings: recognition setup, display options, recent files, window layout.

Stored with QSettings in an INI file inside sphereapp's data folder (beside the default gallery), so
`$SPHEREAPP_HOME` moves both together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from sphereapp.core.locations import app_data_dir

SETTINGS_FILE = "settings.ini"
MAX_RECENT_FILES = 8


@dataclass(frozen=True)
class RecognitionSettings:
    """What loading the detector and embedder needs; `model` "" means the shipped default model."""

    device: str = "auto"
    model: str = ""
    min_face_size: int = 20


class AppSettings:
    """Typed access to the app's QSettings."""

    def __init__(self, path: str | Path | None = None):
        path = Path(path) if path is not None else app_data_dir() / SETTINGS_FILE
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)

    def recognition(self) -> RecognitionSettings:
        """The saved device, model file and smallest face size."""
        default = RecognitionSettings()
        return RecognitionSettings(
            device=str(self._settings.value("recognition/device", default.device)),
            model=str(self._settings.value("recognition/model", default.model)),
            min_face_size=int(self._settings.value("recognition/min_face_size", default.min_face_size, type=int)),
        )

    def set_recognition(self, recognition: RecognitionSettings) -> None:
        """Save the device, model file and smallest face size."""
        self._settings.setValue("recognition/device", recognition.device)
        self._settings.setValue("recognition/model", recognition.model)
        self._settings.setValue("recognition/min_face_size", recognition.min_face_size)
        self._settings.sync()

    @property
    def show_scores(self) -> bool:
        return bool(self._settings.value("display/show_scores", True, type=bool))

    @show_scores.setter
    def show_scores(self, value: bool) -> None:
        self._settings.setValue("display/show_scores", value)

    def recent_files(self) -> list[str]:
        """Recently opened videos, newest first, only those that still exist."""
        files = self._settings.value("recent/files", [], type=list) or []
        return [str(path) for path in files if Path(str(path)).is_file()]

    def add_recent_file(self, path: str | Path) -> None:
        """Put a video at the top of the recent files."""
        path = str(Path(path).resolve())
        files = [path] + [other for other in self.recent_files() if other != path]
        self._settings.setValue("recent/files", files[:MAX_RECENT_FILES])

    def window_geometry(self) -> QByteArray | None:
        value = self._settings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_window_geometry(self, geometry: QByteArray) -> None:
        self._settings.setValue("window/geometry", geometry)
        self._settings.sync()
