"""Nothing is ever lost or half-written: the gallery survives kill -9 at any moment, a cancelled or interrupted
export leaves no partial output."""

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sphereapp.core.drivers.file import run_video
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import EVERY_FRAME

from fakes import colour_recognizer
from helpers import REPO_ROOT, only_files, run_cli
from media_files import N_FRAMES

# Enrols people until it is killed, printing each name once its transaction has committed. It imports the store
# only (no torch), so that each of the many children starts quickly.
ENROLLING_CHILD = """
import sys
import numpy as np
from sphereapp.core.identities.store import GalleryStore
assert "torch" not in sys.modules, "importing the gallery store should not import torch"
path, prefix = sys.argv[1:]
print("started", flush=True)
with GalleryStore(path) as store:
    for i in range(10**6):
        crop = np.full((112, 96, 3), i % 251, np.uint8)
        store.add(f"{prefix} {i}", crop, np.array([i, 1, 0, 0], np.float32), "model", source=str(i))
        print(f"{prefix} {i}", flush=True)
"""


def enrol_and_kill(path: Path, kills: int, seed: int) -> list[str]:
    """Start an enrolling child `kills` times, SIGKILL each after a random moment; the names they committed."""
    rng = random.Random(seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    committed: list[str] = []
    for child_number in range(kills):
        child = subprocess.Popen([sys.executable, "-c", ENROLLING_CHILD, str(path), f"child{child_number}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        started = child.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.04))  # opening (the first one creates the file), or in the middle of an add
        child.kill()
        out, err = child.communicate()
        assert started == "started\n", err
        committed += out.splitlines()
    return committed


@pytest.mark.parametrize("kills", [20, pytest.param(100, marks=pytest.mark.slow)])
def test_gallery_survives_kill_9_at_any_moment_of_enrolment(tmp_path, kills):
    path = tmp_path / "gallery.sqlite"
    committed = enrol_and_kill(path, kills, seed=kills)
    assert len(committed) >= kills // 2, "too few kills landed while enrolling"
    with GalleryStore(path) as store:
        identities = store.identities()
    stored = {identity.name: identity for identity in identities}
    assert len(stored) == len(identities)
    assert set(committed) <= set(stored), "a committed identity was lost"
    for identity in identities:  # committed or not, every stored row is whole
        i = int(identity.source)
        assert identity.name.endswith(f" {i}")
        assert (identity.crop == i % 251).all()
        np.testing.assert_array_equal(identity.embedding, [i, 1, 0, 0])
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()


# ---------------------------------------------------------------------------------------------------------------
# Cancelling and interrupting an export


@pytest.fixture
def clip(clip_and_gallery) -> Path:
    return clip_and_gallery[0]


def export(clip: Path, out_dir: Path, **options) -> None:
    run_video(clip, out_dir / "o.mp4", colour_recognizer(), json_path=out_dir / "o.json", batch_size=4,
              speed=EVERY_FRAME, **options)


@pytest.mark.parametrize("frames_before_cancel", [0, 1, 9, N_FRAMES - 1])
def test_cancel_at_any_frame_leaves_earlier_results_untouched(clip, out_dir, frames_before_cancel):
    (out_dir / "o.mp4").write_bytes(b"an earlier result")
    asked = iter(range(N_FRAMES))
    with pytest.raises(KeyboardInterrupt):
        export(clip, out_dir, should_stop=lambda: next(asked) >= frames_before_cancel)
    only_files(out_dir, "o.mp4")
    assert (out_dir / "o.mp4").read_bytes() == b"an earlier result"


def test_interrupt_after_the_last_frame_leaves_nothing(clip, out_dir):
    def interrupt_at_the_end(done: int, total: int | None) -> None:
        if done == total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(clip, out_dir, progress=interrupt_at_the_end)
    only_files(out_dir)


def test_interrupt_while_writing_the_log_leaves_no_video_either(clip, out_dir, monkeypatch):
    def interrupted_dump(data, handle, **options) -> None:
        handle.write('{"video": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", interrupted_dump)
    with pytest.raises(KeyboardInterrupt):
        export(clip, out_dir)
    only_files(out_dir)


def test_ctrl_c_on_the_command_line_says_nothing_was_written(capsys, clip_and_gallery, out_dir, monkeypatch,
                                                             untrained_model_file):
    real_recognise, calls = Recognizer.recognise, []

    def recognise_then_ctrl_c(self, frames, *args):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_recognise(self, frames, *args)

    monkeypatch.setattr(Recognizer, "recognise", recognise_then_ctrl_c)
    clip, gallery = clip_and_gallery
    code, _, err = run_cli(capsys, "run", clip, "--gallery", gallery, "-o", out_dir / "o.mp4",
                           "--json", out_dir / "o.json", "--model", untrained_model_file, "--batch-size", "4")
    assert code == 130 and "nothing was written" in err
    only_files(out_dir)
