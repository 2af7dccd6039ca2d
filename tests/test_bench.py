"""`sphereapp bench` on a few frames of the demo clip: it measures all three paths and reports consistent ratios."""

import json

import pytest

from sphereapp import benchmark
from sphereapp.benchmark import BenchRow, format_table
from sphereapp.cli import main
from sphereapp.core.timing import Stage


def test_bench_measures_decode_naive_and_pipeline(untrained_model_file, tmp_path, capsys, one_torch_thread):
    pytest.importorskip("facenet_pytorch")  # the naive loop's detector; sphereapp itself does not need it
    out = tmp_path / "bench.json"
    code = main(["bench", "--frames", "3", "--heights", "96", "--repeat", "2", "--model", str(untrained_model_file),
                 "--device", "cpu", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    [row] = report["rows"]
    assert (row["height"], row["frames"], row["runs"]) == (96, 3, 2) and row["width"] % 2 == 0
    assert min(row["decode_fps"], row["naive_fps"], row["pipeline_fps"]) > 0
    assert row["speedup_vs_naive"] == pytest.approx(row["pipeline_fps"] / row["naive_fps"], rel=0.01)
    assert report["environment"]["device"] == "cpu"
    assert "x naive" in capsys.readouterr().out


def test_bench_without_facenet_pytorch_measures_decode_and_pipeline(untrained_model_file, tmp_path, capsys,
                                                                   monkeypatch, one_torch_thread):
    monkeypatch.setattr(benchmark, "facenet_installed", lambda: False)  # as when facenet-pytorch is not installed
    out = tmp_path / "bench.json"
    assert main(["bench", "--frames", "2", "--heights", "64", "--model", str(untrained_model_file), "--device", "cpu",
                 "--json", str(out)]) == 0
    [row] = json.loads(out.read_text())["rows"]
    assert row["naive_fps"] is None and row["speedup_vs_naive"] is None and row["naive_faces_per_frame"] is None
    assert min(row["decode_fps"], row["pipeline_fps"]) > 0
    assert "naive loop not measured" in capsys.readouterr().out


def test_bench_profile_shows_every_stage_within_each_threads_time(untrained_model_file, tmp_path, capsys,
                                                                   monkeypatch, one_torch_thread):
    monkeypatch.setattr(benchmark, "facenet_installed", lambda: False)  # the naive loop is not profiled
    out = tmp_path / "bench.json"
    assert main(["bench", "--frames", "6", "--heights", "64", "--repeat", "2", "--profile", "--model",
                 str(untrained_model_file), "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    [row] = report["rows"]
    profile = row["profile"]
    assert (profile["runs"], profile["frames"]) == (2, 12) and profile["wall_seconds"] > 0
    lines = {(line["thread"], line["stage"]): line for line in profile["stages"]}
    assert {(stage.thread, stage.label) for stage in Stage} < set(lines)
    assert all(line["seconds"] >= 0 and line["share"] >= 0 for line in profile["stages"])
    for thread in ("decoder", "main", "encoder"):
        own = [line for line in profile["stages"] if line["thread"] == thread]
        measured = sum(line["seconds"] for line in own if line["calls"] is not None)  # not its other / idle line
        assert measured <= profile["wall_seconds"] + 1e-3  # 1e-3: the JSON's rounding
        assert sum(line["share"] for line in own) == pytest.approx(1, abs=1e-3)
    for stage in (Stage.DECODE, Stage.WAIT_FOR_FRAMES, Stage.CUT_TEST, Stage.TRACK, Stage.DRAW, Stage.ENCODE):
        assert lines[stage.thread, stage.label]["calls"] == 12  # once a frame
    assert lines["main", "scan"]["calls"] > 0 and lines["main", "embed"]["calls"] > 0
    assert report["startup_seconds"] > 0
    for stage in Stage:
        assert stage.label in printed
    assert "idle" in printed and "other" in printed and "start-up" in printed


def test_bench_without_profile_writes_no_profile():
    row = BenchRow(480, 360, 10, 30.0, 2.0, None, 300.0, None, 6.0)
    assert "profile" not in row.to_dict()


def test_bench_rejects_bad_arguments(untrained_model_file, tmp_path, capsys):
    assert main(["bench", str(tmp_path / "missing.mp4"), "--model", str(untrained_model_file)]) == 2
    assert "video not found" in capsys.readouterr().err
    assert main(["bench", "--frames", "0", "--model", str(untrained_model_file)]) == 2
    assert "--frames" in capsys.readouterr().err
    assert main(["bench", "--repeat", "0", "--model", str(untrained_model_file)]) == 2
    assert "--repeat" in capsys.readouterr().err


def test_table_shows_the_ratios():
    row = BenchRow(480, 360, 10, 30.0, 2.0, 2.0, 300.0, 1.0, 6.0)
    assert (row.speedup, row.realtime) == (6.0, 0.2)
    assert "6.00" in format_table([row]) and "0.20" in format_table([row])
    unmeasured = BenchRow(480, 360, 10, 30.0, 2.0, None, 300.0, None, 6.0)
    assert unmeasured.speedup is None and "-" in format_table([unmeasured]).splitlines()[1]
