"""Shipped files and installed models: the default model, $SPHEREAPP_MODEL, --model NAME and `sphereapp models`."""

from pathlib import Path

import pytest

from sphereapp.cli import main
from sphereapp.core.errors import ModelFileError
from sphereapp.core.locations import shipped_path, user_models_dir
from sphereapp.core.vision import catalog
from sphereapp.core.vision.catalog import default_model_path, installed_models, resolve_model

REPO = Path(__file__).resolve().parents[1]


def test_shipped_files_are_package_data_of_sphereapp():
    assert shipped_path("demo", "hikers_4s.mp4") == REPO / "sphereapp" / "assets" / "demo" / "hikers_4s.mp4"
    assert shipped_path("demo", "hikers_4s.mp4").is_file()


def test_default_model_is_the_shipped_one_unless_the_environment_says_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("SPHEREAPP_MODEL", raising=False)
    assert default_model_path() == shipped_path("sphereface20.safetensors")
    monkeypatch.setenv("SPHEREAPP_MODEL", str(tmp_path / "mine.safetensors"))
    assert default_model_path() == tmp_path / "mine.safetensors"
    monkeypatch.delenv("SPHEREAPP_MODEL")
    monkeypatch.setattr(catalog, "shipped_path", lambda name: tmp_path / name)
    assert default_model_path() is None
    with pytest.raises(ModelFileError, match="--model"):
        resolve_model(None)


def test_model_names_are_found_in_the_users_models_folder(untrained_model_file, tmp_path, monkeypatch):
    folder = user_models_dir()  # under the test's $SPHEREAPP_HOME
    folder.mkdir()
    (folder / "small.safetensors").write_bytes(untrained_model_file.read_bytes())
    assert resolve_model("small") == folder / "small.safetensors"
    assert resolve_model("small.safetensors") == folder / "small.safetensors"
    assert resolve_model(untrained_model_file) == untrained_model_file
    monkeypatch.chdir(tmp_path)
    assert resolve_model("nothere/x.safetensors") == Path("nothere/x.safetensors")  # a path: the loader reports it
    with pytest.raises(ModelFileError, match="sphereapp models"):
        resolve_model("nothere")


def test_installed_models_say_what_their_files_hold(untrained_model_file, monkeypatch):
    monkeypatch.delenv("SPHEREAPP_MODEL", raising=False)
    folder = user_models_dir()
    folder.mkdir()
    (folder / "small.safetensors").write_bytes(untrained_model_file.read_bytes())
    (folder / "broken.safetensors").write_bytes(b"not a model")
    (folder / "notes.txt").write_text("not listed")
    models = installed_models()
    assert [m.name for m in models] == ["sphereface20", "broken", "small"] and models[0].is_default
    assert models[2].info.architecture == "sphereface4" and models[1].info is None and "broken" in models[1].problem


def test_models_command_lists_the_default_and_the_users_models(untrained_model_file, capsys, monkeypatch):
    monkeypatch.delenv("SPHEREAPP_MODEL", raising=False)
    user_models_dir().mkdir()
    (user_models_dir() / "small.safetensors").write_bytes(untrained_model_file.read_bytes())
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "sphereface20  (default)" in out and "sphereface4, 512-d" in out and "licence:" in out
    assert str(user_models_dir()) in out
