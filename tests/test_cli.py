"""The `sphereapp` command line: exit codes and one-line errors on bad input, and a full run on the demo clip."""

import json
import logging
from collections import Counter
from pathlib import Path

import av
import pytest

from sphereapp.cli import main
from sphereapp.commands import DEMO_GALLERY, DEMO_VIDEO

from helpers import error_line, run_cli


def test_help_lists_commands_and_the_app(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "gallery" in out and "desktop app" in out


def test_without_a_command_the_app_opens(monkeypatch, tmp_path):
    opened = []
    monkeypatch.setattr("sphereapp.gui.app.main", lambda *args: opened.append(args) or 0)
    assert main([]) == 0
    assert main([str(DEMO_VIDEO), "--gallery", str(tmp_path / "g.sqlite")]) == 0
    assert main(["--gallery", "g.sqlite", "--model", "m.safetensors"]) == 0
    assert opened == [(None, None, None), (str(DEMO_VIDEO), str(tmp_path / "g.sqlite"), None),
                      (None, "g.sqlite", "m.safetensors")]


def test_a_typo_in_a_command_is_not_taken_for_a_video(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["rn", "clip.mp4"])
    assert exit_.value.code == 2
    assert "neither a video file nor a command" in capsys.readouterr().err


def test_missing_video_is_a_one_line_error(capsys, tmp_path, untrained_model_file):
    code, _, err = run_cli(capsys, "run", tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4", "--model", untrained_model_file)
    assert code == 2 and "not found" in error_line(err)


def test_not_a_video_is_a_one_line_error(capsys, tmp_path, untrained_model_file):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is text, not a video\n")
    code, _, err = run_cli(capsys, "run", fake, "--gallery", DEMO_GALLERY, "-o", tmp_path / "o.mp4",
                           "--model", untrained_model_file)
    assert code == 2 and "notes.mp4" in error_line(err)
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("option", ["--detect-every", "--embed-every", "--scan-every"])
def test_nonpositive_speed_option_is_a_one_line_error(capsys, tmp_path, untrained_model_file, option):
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", tmp_path / "o.mp4", option, "0",
                           "--model", untrained_model_file)
    assert code == 2 and f"{option} must be at least 1" in error_line(err)


def test_output_folder_missing(capsys, tmp_path, untrained_model_file):
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", tmp_path / "no" / "o.mp4", "--model", untrained_model_file)
    assert code == 2 and "does not exist" in error_line(err)


def test_no_model_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sphereapp.core.vision.catalog.default_model_path", lambda: None)
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", tmp_path / "o.mp4")
    assert code == 2 and "--model" in error_line(err)


def test_corrupt_model_is_refused(capsys, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 100)
    code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "-o", tmp_path / "o.mp4", "--model", bad)
    assert code == 2 and "bad.safetensors" in error_line(err)


def test_gallery_add_list_rename_remove(capsys, tmp_path, untrained_model_file):
    store = tmp_path / "g.sqlite"
    photo = DEMO_GALLERY / "Hiker_in_teal.jpg"
    code, out, _ = run_cli(capsys, "gallery", "add", "Ada Lovelace", photo, "--gallery", store,
                           "--model", untrained_model_file)
    assert code == 0 and "Ada Lovelace" in out
    code, _, err = run_cli(capsys, "gallery", "add", "Ada Lovelace", photo, "--gallery", store,
                           "--model", untrained_model_file)
    assert code == 2 and "already" in error_line(err)
    code, out, _ = run_cli(capsys, "gallery", "rename", "Ada Lovelace", "Ada", "--gallery", store)
    assert code == 0
    code, out, _ = run_cli(capsys, "gallery", "list", "--gallery", store)
    assert code == 0 and out.splitlines()[0].split("\t")[0] == "Ada"
    code, _, _ = run_cli(capsys, "gallery", "remove", "Ada", "--gallery", store)
    code, out, _ = run_cli(capsys, "gallery", "list", "--gallery", store)
    assert code == 0 and out == ""


def test_gallery_add_without_face(capsys, tmp_path, untrained_model_file):
    import numpy as np
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((120, 100, 3), 128, np.uint8)).save(blank)
    code, _, err = run_cli(capsys, "gallery", "add", "Nobody", blank, "--gallery", tmp_path / "g.sqlite",
                           "--model", untrained_model_file)
    assert code == 2 and "face" in error_line(err)


@pytest.mark.parametrize("every", ["1", "3"])
def test_run_on_demo_clip_writes_video_and_json(capsys, caplog, tmp_path, untrained_model_file, every):
    out, log = tmp_path / "annotated.mp4", tmp_path / "log.json"
    with caplog.at_level(logging.DEBUG, logger="sphereapp"):
        code, _, err = run_cli(capsys, "run", DEMO_VIDEO, "--gallery", DEMO_GALLERY, "-o", out, "--json", log,
                               "--model", untrained_model_file, "--threshold", "0.5", "--detect-every", every)
    assert code == 0, err
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert container.streams.audio, "audio track was dropped"
        frames = sum(1 for _ in container.decode(video))
        assert (video.codec_context.name, video.width, video.height) == ("h264", 640, 480)
    record = json.loads(log.read_text())
    assert frames == len(record["frames"]) == 105
    assert record["threshold"] == 0.5 and abs(record["fps"] - 29.97) < 0.01
    faces = [face for frame in record["frames"] for face in frame["faces"]]
    assert len(faces) > 105  # several hikers per frame
    for face in faces:
        x1, y1, x2, y2 = face["box"]
        assert x1 < x2 and y1 < y2 and len(face["landmarks"]) == 5
        assert face["identity"] is None or face["similarity"] >= 0.5  # at or above: named, unless taken (below)
        assert face["identity"] in (None, "Hiker in teal", "Hiker in red cap")
    for frame in record["frames"]:  # a person is named on one face of a frame at most
        names = [face["identity"] for face in frame["faces"] if face["identity"] is not None]
        assert len(names) == len(set(names))
    assert any(face["identity"] is None and face["similarity"] >= 0.5 for face in faces)  # the rule acted
    named = Counter(face["identity"] for face in faces if face["identity"] is not None)
    summary = "named: " + ", ".join(f"{name} on {n} faces" for name, n in named.most_common())
    messages = [record.getMessage() for record in caplog.records]
    assert named and summary in messages
    assert "first 8 frames annotated" in messages  # -v: the time to the first frames (batch size 8)
    assert not list(Path(tmp_path).glob(".*tmp*")), "temp files left behind"


def test_enrol_lfw_photos_and_run_on_a_video_of_them(capsys, tmp_path, shared_data, untrained_model_file):
    """Real photos end to end: enrol two LFW people, then find the enrolled photo again in an H.264 video.

    Weights are untrained, so only identity of the same photo through H.264 is asserted (cosine near 1), not
    recognition across photos.
    """
    import numpy as np

    from sphereapp.core.media.images import read_image_rgb
    from sphereapp.core.media.video import VideoWriter

    lfw = shared_data / "lfw"
    bush, blair = lfw / "George_W_Bush" / "George_W_Bush_0001.jpg", lfw / "Tony_Blair" / "Tony_Blair_0001.jpg"
    store = tmp_path / "g.sqlite"
    for name, photo in (("George W Bush", bush), ("Tony Blair", blair)):
        assert run_cli(capsys, "gallery", "add", name, photo, "--gallery", store, "--model", untrained_model_file)[0] == 0
    video = tmp_path / "lfw.mp4"
    frames = [read_image_rgb(bush)] * 3 + [np.zeros((160, 160, 3), np.uint8)] + [read_image_rgb(blair)] * 3
    with VideoWriter(video, 160, 160, 10) as writer:
        for image in frames:
            writer.write(image)
    log = tmp_path / "log.json"
    # each photo is named on its own: with tracking, the cut to Blair at Bush's place would continue Bush's track
    code, _, err = run_cli(capsys, "run", video, "--gallery", store, "-o", tmp_path / "out.mp4", "--json", log,
                           "--model", untrained_model_file, "--threshold", "0.98", "--no-tracking")
    assert code == 0, err
    record = json.loads(log.read_text())
    names = [[face["identity"] for face in frame["faces"]] for frame in record["frames"]]
    assert names == [["George W Bush"]] * 3 + [[]] + [["Tony Blair"]] * 3
    assert all(face["track"] is None for frame in record["frames"] for face in frame["faces"])
    code, _, err = run_cli(capsys, "run", video, "--gallery", store, "-o", tmp_path / "out.mp4", "--json", log,
                           "--model", untrained_model_file, "--threshold", "0.98")
    assert code == 0, err
    tracks = [[face["track"] for face in frame["faces"]] for frame in json.loads(log.read_text())["frames"]]
    assert tracks[:3] == [[0]] * 3, "one face standing still is one track"
