"""Shared fixtures: where the real data lives (skipped cleanly when absent), offscreen Qt."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]


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
