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
