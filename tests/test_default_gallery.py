"""`sphereapp run` without --gallery before anyone was enrolled: every face unknown, not an error."""

import json
import logging

from sphereapp.cli import main
from sphereapp.commands import DEMO_VIDEO


def test_run_without_a_gallery_before_any_enrolment_marks_everyone_unknown(tmp_path, monkeypatch, caplog,
                                                                             untrained_model_file):
    monkeypatch.setenv("SPHEREAPP_HOME", str(tmp_path / "home"))
    log = tmp_path / "log.json"
    with caplog.at_level(logging.WARNING, logger="sphereapp"):
        code = main(["run", str(DEMO_VIDEO), "-o", str(tmp_path / "o.mp4"), "--json", str(log),
                     "--model", str(untrained_model_file), "--detect-every", "8"])
    assert code == 0
    assert any("the gallery is empty" in record.getMessage() for record in caplog.records)
    faces = [face for frame in json.loads(log.read_text())["frames"] for face in frame["faces"]]
    assert faces and all(face["identity"] is None for face in faces)
    assert not (tmp_path / "home" / "gallery.sqlite").exists()  # nothing written on the user's behalf
