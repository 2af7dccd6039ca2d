"""Starting the desktop app: the QApplication, its look, and the main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from sphereapp.core.errors import InputError
from sphereapp.core.identities.store import default_gallery_path
from sphereapp.gui.main_window import MainWindow
from sphereapp.gui.settings import AppSettings


def require_display() -> None:
    """On Linux without X11/Wayland, Qt would abort the process: say so in one line instead."""
    graphical = any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
    if sys.platform.startswith("linux") and not graphical:
        raise InputError("no display for the desktop app (DISPLAY is not set); on a server use 'sphereapp run'")


def application() -> QApplication:
    """The running QApplication, created (Fusion style, follows the system's light/dark scheme) if needed."""
    app = QApplication.instance()
    if app is None:
        require_display()
        app = QApplication(sys.argv[:1])
        app.setApplicationName("sphereapp")
        app.setApplicationDisplayName("sphereapp")
        app.setOrganizationName("sphereapp")
        app.setStyle("Fusion")
    return app


def create_window(video: str | Path | None = None, gallery: str | Path | None = None,
                  model: str | Path | None = None) -> MainWindow:
    """A shown main window on the given gallery (default: the user's), opening `video` when given."""
    window = MainWindow(AppSettings(), Path(gallery).expanduser() if gallery else default_gallery_path(),
                        str(model) if model else None)
    window.show()
    if video:
        window.open_video(video)
    return window


def main(video: str | Path | None = None, gallery: str | Path | None = None, model: str | Path | None = None) -> int:
    """Run the app until its window closes; returns the exit code."""
    app = application()
    _window = create_window(video, gallery, model)  # referenced until the event loop ends
    return app.exec()
