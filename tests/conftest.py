"""Shared fixtures: where the real data lives (skipped cleanly when absent), offscreen Qt, models, clips, folders,
training data and app windows."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from helpers import REPO_ROOT, TINY_IMAGES_EACH, TINY_PEOPLE

if TYPE_CHECKING:
    from collections.abc import Callable

    from sphereapp.gui.main_window import MainWindow

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def shared_data_dir() -> Path:
    """../shared/data beside the checkout, or $SPHEREAPP_DATA."""
    return Path(os.environ.get("SPHEREAPP_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; skips the test when it is absent."""
    root = shared_data_dir()
    if not (root / "README.md").is_file():
        pytest.skip(f"shared data not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's default gallery/settings out of the user's real data dir."""
    monkeypatch.setenv("SPHEREAPP_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def untrained_model_file(tmp_path_factory) -> Path:
    """A SphereFace-4 with seeded random weights: exercises the pipeline's mechanics, never recognition quality."""
    import torch

    from sphereapp.core.vision.modelfile import ModelInfo, save_embedder
    from sphereapp.core.vision.models import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "untrained_sphereface4.safetensors"
    info = ModelInfo(architecture="sphereface4", embedding_size=512, threshold=0.5, training_data="none (test)")
    save_embedder(path, build_model("sphereface4"), info)
    return path


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a busy 2-core machine two threads mostly wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def clip_and_gallery(tmp_path) -> tuple[Path, Path]:
    """A short clip and an empty gallery in their own folder, away from the output folder."""
    from sphereapp.core.identities.store import GalleryStore

    from media_files import make_video

    inputs = tmp_path / "in"
    inputs.mkdir()
    GalleryStore(inputs / "empty.sqlite").close()
    return make_video(inputs / "clip.mp4"), inputs / "empty.sqlite"


@pytest.fixture
def out_dir(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """4 people x 6 aligned 112x96 PNGs of coloured noise, prepared through the aligned (no-detection) path."""
    from PIL import Image

    from training.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for person in range(TINY_PEOPLE):
        folder = root / "src" / f"person_{person}"
        folder.mkdir(parents=True)
        colour = rng.integers(0, 256, (1, 1, 3))
        for index in range(TINY_IMAGES_EACH):
            image = np.clip(colour + rng.normal(0, 40, (112, 96, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{index}.png")
    prepare(root / "src", root / "data", PrepareOptions(aligned_112x112=True))
    return root / "data"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The demo clip's first CLIP_FRAMES frames, without sound: little detection time for the app's tests."""
    from sphereapp.commands import DEMO_VIDEO
    from sphereapp.core.media.video import VideoReader, VideoWriter

    from gui_helpers import CLIP_FRAMES

    path = tmp_path_factory.mktemp("clip") / "hikers_12.mp4"
    with VideoReader(DEMO_VIDEO) as reader, VideoWriter(path, reader.info.width, reader.info.height,
                                                        reader.info.fps) as writer:
        for frame in itertools.islice(reader, CLIP_FRAMES):
            writer.write(frame.image)
    return path


@pytest.fixture
def gallery_path(tmp_path) -> Path:
    return tmp_path / "gallery.sqlite"


@pytest.fixture
def make_window(qtbot, gallery_path, one_torch_thread) -> Callable[[Path | None], MainWindow]:
    """Opens the app's main window on gallery_path with the given model file (or none)."""
    from sphereapp.gui.main_window import MainWindow
    from sphereapp.gui.settings import AppSettings

    def make(model: Path | None) -> MainWindow:
        window = MainWindow(AppSettings(), gallery_path, str(model) if model else None)
        qtbot.addWidget(window)
        window.show()
        return window

    return make


@pytest.fixture
def window(qtbot, make_window, untrained_model_file) -> MainWindow:
    """The app's main window with the untrained model, once it has loaded."""
    from gui_helpers import WAIT_MS

    window = make_window(untrained_model_file)
    qtbot.waitUntil(lambda: window.model_status is not None, timeout=WAIT_MS)
    return window
