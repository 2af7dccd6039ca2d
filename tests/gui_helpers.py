"""Driving the desktop app in tests: how long to wait for it, opening a clip, the names it draws."""

from pathlib import Path

from sphereapp.gui.main_window import MainWindow

CLIP_FRAMES = 12  # in the short_clip fixture
WAIT_MS = 30_000


def open_clip(qtbot, window: MainWindow, clip: Path, recognised: bool = True) -> None:
    """Open a video and wait for its first frame, recognised or not."""
    window.open_video(clip)
    qtbot.waitUntil(lambda: window.player.overlay is not None
                    and (window.player.overlay.result is not None) == recognised, timeout=WAIT_MS)


def names_drawn(window: MainWindow) -> list:
    """The names on the shown frame's faces, None for an unknown face."""
    return [label.name for label in window.player.overlay.labels]
