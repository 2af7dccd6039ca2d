"""Files around a run: unusable model files, a locked / read-only / old / full gallery, an unwritable or full output
folder. Each gives one line on the command line and leaves nothing half-written."""

import errno
import json
import os
import sqlite3
import threading
from pathlib import Path

import av
import pytest
import torch
from safetensors.torch import load_file, save_file

from sphereapp import commands
from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.errors import InputError
from sphereapp.core.identities import store as store_module
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.media import video as video_module
from sphereapp.core.vision.modelfile import ModelInfo

from fakes import RunsAShellCommand, add_person
from helpers import PHOTOS, error_line, only_files, run_cli

PHOTO = PHOTOS / "Hiker_in_red_cap.jpg"


def assert_one_line_failure(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    line = error_line(err)
    for fragment in fragments:
        assert fragment in line, line


# ---------------------------------------------------------------------------------------------------------------
# Model files


def missing_model(tmp_path: Path, untrained: Path) -> Path:
    return tmp_path / "nowhere.safetensors"


def model_of_another_architecture(tmp_path: Path, untrained: Path) -> Path:
    """SphereFace-4 weights whose metadata says SphereFace-20."""
    path = tmp_path / "mislabelled.safetensors"
    info = ModelInfo(architecture="sphereface20", embedding_size=512, threshold=0.5, training_data="none")
    save_file(load_file(untrained), path, metadata=info.to_metadata())
    return path


def model_with_a_pickled_payload(tmp_path: Path, untrained: Path) -> Path:
    path = tmp_path / "evil.pt"
    torch.save({"fc5.weight": torch.zeros(2, 2), "payload": RunsAShellCommand(tmp_path / "pwned")}, path)
    return path


@pytest.mark.parametrize(
    ("make_model", "reason"),
    [
        (missing_model, "file not found"),
        (model_of_another_architecture, "do not fit sphereface20"),
        (model_with_a_pickled_payload, "never unpickled"),
    ],
)
def test_unusable_model_file_is_one_line(capsys, tmp_path, untrained_model_file, make_model, reason):
    model = make_model(tmp_path, untrained_model_file)
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", tmp_path / "out.mp4", "--model", model)
    assert_one_line_failure(code, err, reason, model.name)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out.mp4").exists()


# ---------------------------------------------------------------------------------------------------------------
# The gallery store


@pytest.fixture
def store(tmp_path) -> Path:
    """A gallery holding Ada."""
    path = tmp_path / "g.sqlite"
    with GalleryStore(path) as opened:
        add_person(opened, "Ada", 1)
    return path


def names_in(path: Path) -> list[str]:
    with GalleryStore(path, read_only=True) as opened:
        return [identity.name for identity in opened.identities()]


def test_gallery_locked_by_another_app_is_one_line(capsys, store):
    other_app = sqlite3.connect(store, isolation_level=None)
    other_app.execute("BEGIN IMMEDIATE")  # a second sphereapp in the middle of a write
    try:
        code, _, err = run_cli(capsys, "gallery", "rename", "Ada", "Eve", "--gallery", store)
    finally:
        other_app.execute("ROLLBACK")
        other_app.close()
    assert_one_line_failure(code, err, "is locked by another sphereapp", store.name)
    assert names_in(store) == ["Ada"]


def test_gallery_freed_while_waiting_is_written(capsys, store):
    other_app = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    other_app.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, other_app.execute, ("COMMIT",)).start()
    code, _, err = run_cli(capsys, "gallery", "rename", "Ada", "Eve", "--gallery", store)
    other_app.close()
    assert code == 0, err
    assert names_in(store) == ["Eve"]


def test_read_only_gallery_lists_but_refuses_changes(capsys, store, monkeypatch, untrained_model_file):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != store and real_access(path, mode))
    code, out, _ = run_cli(capsys, "gallery", "list", "--gallery", store)
    assert code == 0 and out.startswith("Ada\t")
    code, _, err = run_cli(capsys, "gallery", "add", "Bob", PHOTO, "--gallery", store, "--model", untrained_model_file)
    assert_one_line_failure(code, err, "is read-only", store.name)
    code, _, err = run_cli(capsys, "gallery", "remove", "Ada", "--gallery", store)
    assert_one_line_failure(code, err, "is read-only")
    assert names_in(store) == ["Ada"]


def test_empty_file_becomes_a_new_gallery(capsys, tmp_path):
    path = tmp_path / "g.sqlite"
    path.touch()
    code, out, err = run_cli(capsys, "gallery", "list", "--gallery", path)
    assert code == 0 and out == "", err
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION


def add_nickname_column(conn: sqlite3.Connection) -> None:
    """A made-up version 2 of the format, to exercise upgrading a gallery written by this (older) version."""
    conn.execute("ALTER TABLE identities ADD COLUMN nickname TEXT")
    conn.execute("UPDATE identities SET nickname = 'the ' || name")


def test_older_gallery_is_upgraded_in_place_keeping_everyone(store, monkeypatch):
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, add_nickname_column))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 2)
    with pytest.raises(InputError, match=r"read-only but must be upgraded .* \(from 1 to 2\)"):
        names_in(store)
    with GalleryStore(store) as opened:
        add_person(opened, "Bob", 2)
    raw = sqlite3.connect(store)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    assert raw.execute("SELECT name, nickname FROM identities ORDER BY id").fetchall() == [
        ("Ada", "the Ada"), ("Bob", None)]
    raw.close()


def test_upgrade_failing_midway_leaves_the_old_gallery(store, monkeypatch):
    def fail_after_changing(conn: sqlite3.Connection) -> None:
        add_nickname_column(conn)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, fail_after_changing))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 2)
    with pytest.raises(sqlite3.OperationalError):
        GalleryStore(store)
    monkeypatch.undo()
    raw = sqlite3.connect(store)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "nickname" not in [row[1] for row in raw.execute("PRAGMA table_info(identities)")]
    raw.close()
    assert names_in(store) == ["Ada"]


def test_full_disk_while_enrolling_is_one_line_and_keeps_the_gallery(capsys, store, monkeypatch, untrained_model_file):
    real_connect = sqlite3.connect

    def connect_to_a_full_disk(*args, **kwargs) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLITE_FULL, as on a full disk
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect_to_a_full_disk)
    code, _, err = run_cli(capsys, "gallery", "add", "Bob", PHOTO, "--gallery", store, "--model", untrained_model_file)
    assert_one_line_failure(code, err, "the disk is full", store.name)
    monkeypatch.undo()
    assert names_in(store) == ["Ada"]


# ---------------------------------------------------------------------------------------------------------------
# The output folder


def test_unwritable_output_folder_is_one_line_before_any_work(capsys, monkeypatch, out_dir):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != out_dir and real_access(path, mode))
    monkeypatch.setattr(commands, "load_components", lambda *args: pytest.fail("loaded the models first"))
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", out_dir / "o.mp4")
    assert_one_line_failure(code, err, "is not writable", "o.mp4")


class FillsUp:
    """An output container on a disk that fills up at its `muxes`-th mux, or while it closes (`muxes` None)."""

    def __init__(self, container: av.container.OutputContainer, muxes: int | None):
        self._container, self._muxes_left = container, muxes

    def __getattr__(self, name: str):
        return getattr(self._container, name)

    def mux(self, packets) -> None:
        if self._muxes_left is not None:
            self._muxes_left -= 1
            if self._muxes_left < 0:
                raise av.error.OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._container.mux(packets)

    def close(self) -> None:
        self._container.close()
        if self._muxes_left is None:
            raise av.error.OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("muxes", [5, None], ids=["while-encoding", "while-finishing"])
def test_disk_full_during_export_leaves_nothing(capsys, monkeypatch, clip_and_gallery, out_dir, untrained_model_file,
                                                muxes):
    real_open = video_module._open_output
    monkeypatch.setattr(video_module, "_open_output", lambda *args: FillsUp(real_open(*args), muxes))
    clip, gallery = clip_and_gallery
    code, _, err = run_cli(capsys, "run", clip, "--gallery", gallery, "-o", out_dir / "o.mp4",
                           "--json", out_dir / "o.json", "--model", untrained_model_file)
    assert_one_line_failure(code, err, "No space left on device", "o.mp4")
    only_files(out_dir)


def test_disk_full_while_writing_the_log_leaves_nothing(capsys, monkeypatch, clip_and_gallery, out_dir,
                                                        untrained_model_file):
    def dump_to_a_full_disk(data, handle, **options) -> None:
        handle.write("{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(json, "dump", dump_to_a_full_disk)
    (out_dir / "o.mp4").write_bytes(b"an earlier result")
    clip, gallery = clip_and_gallery
    code, _, err = run_cli(capsys, "run", clip, "--gallery", gallery, "-o", out_dir / "o.mp4",
                           "--json", out_dir / "o.json", "--model", untrained_model_file)
    assert_one_line_failure(code, err, "No space left on device", "o.json")
    only_files(out_dir)
