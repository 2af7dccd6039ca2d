"""Screenshot the desktop app on the demo clip with the demo gallery enrolled (for docs/screenshot.png; with --people
the clip is indexed first and the people panel shown filled, for docs/screenshot_people.png).

Run it under a real X server, e.g. `xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot_gui.py
--model WEIGHTS.safetensors`. Settings and gallery live in a temporary folder: the user's own are untouched.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def wait_until(app, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until `condition()` holds; exit with a message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"screenshot_gui: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def enrol_demo_gallery(gallery: Path, model: str) -> list[str]:
    """Enrol every demo photo (largest face, named after the file) into a fresh gallery file."""
    from sphereapp.commands import DEMO_GALLERY
    from sphereapp.core.identities.enrol import Enroller
    from sphereapp.core.identities.store import GalleryStore
    from sphereapp.core.vision.components import load_components
    from sphereapp.gui.engine import photo_name

    components = load_components(model, "auto")
    enroller = Enroller(components.detector, components.embedder)
    with GalleryStore(gallery) as store:
        return [enroller.enrol(store, photo_name(photo), photo).name for photo in sorted(DEMO_GALLERY.glob("*.jpg"))]


def dark_palette():
    """A dark desktop theme's colours (Xvfb has no theme of its own to switch)."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    roles = QPalette.ColorRole
    for role, rgb in ((roles.Window, (45, 45, 48)), (roles.WindowText, (230, 230, 230)), (roles.Base, (30, 30, 32)),
                      (roles.AlternateBase, (45, 45, 48)), (roles.Text, (230, 230, 230)), (roles.Button, (55, 55, 58)),
                      (roles.ButtonText, (230, 230, 230)), (roles.Highlight, (42, 130, 218)),
                      (roles.HighlightedText, (255, 255, 255)), (roles.PlaceholderText, (150, 150, 150)),
                      (roles.Mid, (90, 90, 95)), (roles.ToolTipBase, (60, 60, 60)),
                      (roles.ToolTipText, (230, 230, 230))):
        palette.setColor(role, QColor(*rgb))
    return palette


def save_small_png(image, path: Path, colors: int) -> int:
    """Save a QImage as an adaptive-palette PNG (screenshots compress ~4x better); returns the file size."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    picture = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    picture.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="embedder weights (.safetensors)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    parser.add_argument("--frame", type=int, default=40, help="demo clip frame to show")
    parser.add_argument("--size", default="1200x700", help="window size WxH (logical pixels)")
    parser.add_argument("--dark", action="store_true", help="a dark palette, as under a dark desktop theme")
    parser.add_argument("--colors", type=int, default=256, help="PNG palette size")
    parser.add_argument("--people", action="store_true", help="index the clip and show the people panel filled")
    args = parser.parse_args()
    os.environ["SPHEREAPP_HOME"] = tempfile.mkdtemp(prefix="sphereapp-screenshot-")

    from PySide6.QtGui import QGuiApplication

    from sphereapp.commands import DEMO_VIDEO
    from sphereapp.core.identities.store import default_gallery_path
    from sphereapp.gui.app import application, create_window

    names = enrol_demo_gallery(default_gallery_path(), args.model)
    app = application()
    if args.dark:
        app.setPalette(dark_palette())
    window = create_window(DEMO_VIDEO, None, args.model)
    width, height = (int(value) for value in args.size.split("x"))
    window.resize(width, height)
    wait_until(app, lambda: window.model_status is not None and window.player.overlay is not None, 120, "the model")
    window.player.seek(args.frame)
    wait_until(app, lambda: window.player.overlay.index == args.frame and window.player.overlay.recognizer
               is not None and window.player.overlay.recognizer.gallery.names == names, 120, f"frame {args.frame}")
    wait_until(app, lambda: window.gallery_panel.names() == names, 30, "the gallery panel")
    if args.people:
        window.index_people()
        wait_until(app, lambda: window.people_panel.index is not None and not window.people_panel.index.partial, 1200,
                   "the people index")
    end = time.monotonic() + 0.5
    wait_until(app, lambda: time.monotonic() > end, 5, "repaint")
    if QGuiApplication.platformName() == "offscreen":
        image = window.grab().toImage()
    else:  # what the X server shows: decorations aside, the real window
        image = window.screen().grabWindow(window.winId()).toImage()
    size = save_small_png(image, args.output, args.colors)
    platform = QGuiApplication.platformName()
    print(f"{args.output}: {image.width()}x{image.height()}, {size // 1024} KB, platform {platform}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
