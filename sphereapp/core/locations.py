"""Where sphereapp's files are: those shipped inside the package, and the user's own data folder.

Shipped files (the default model, its card, the demo clip and photos) are package data under `sphereapp/assets`,
found through importlib.resources, so they are found alike in a source checkout and in an installed wheel.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path

from sphereapp.core.errors import InputError

HOME_ENV = "SPHEREAPP_HOME"
ASSETS_FOLDER = "assets"
MODELS_FOLDER = "models"
DEFAULT_MODEL_FILE = "sphereface20.safetensors"


def shipped_path(*parts: str) -> Path:
    """A file or folder shipped in the package, e.g. shipped_path("demo", "hikers_4s.mp4")."""
    return Path(str(files("sphereapp").joinpath(ASSETS_FOLDER, *parts)))


def app_data_dir() -> Path:
    """sphereapp's per-user data folder (created): $SPHEREAPP_HOME, else the platform's user data folder."""
    if home := os.environ.get(HOME_ENV):
        folder = Path(home).expanduser()
    elif sys.platform == "win32":
        folder = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "sphereapp"
    elif sys.platform == "darwin":
        folder = Path.home() / "Library" / "Application Support" / "sphereapp"
    else:
        folder = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "sphereapp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the sphereapp data folder '{folder}': {exc.strerror}") from exc
    return folder


def user_models_dir() -> Path:
    """Where a user's own models go (`--model NAME` finds them there); not created."""
    return app_data_dir() / MODELS_FOLDER
