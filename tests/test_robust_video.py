"""Awkward and broken videos: a one-line reason on the command line, or correct processing through the pipeline."""

import errno
import json
import logging
import re
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from sphereapp import commands
from sphereapp.commands import DEMO_GALLERY
from sphereapp.core.media import video as video_module
from sphereapp.core.media.video import VideoReader, VideoWriter

from fakes import annotate
from helpers import error_line, run_cli
from media_files import (
    FPS, HEIGHT, N_FRAMES, WIDTH, corner_marker, gradient, make_audio_only_file, make_empty_file,
    make_mjpeg_with_corrupt_packets, make_text_file, make_video, stream_seconds,
)


def frame_times(path: Path) -> list[float]:
    with VideoReader(path) as reader:
        return [frame.time for frame in reader]


def cut(path: Path, at_packet: int) -> Path:
    """A copy of the file ending halfway through its `at_packet`-th video packet, as a download that stopped."""
    with av.open(str(path)) as container:
        packet = list(container.demux(container.streams.video[0]))[at_packet]
    target = path.with_name(f"cut_{path.name}")
    target.write_bytes(path.read_bytes()[: packet.pos + packet.size // 2])
    return target


def make_random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "noise.mov"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    return path


def make_cut_mp4(tmp_path: Path) -> Path:
    """An MP4 whose index (moov atom, written last) was never written: the recording stopped mid-stream."""
    return cut(make_video(tmp_path / "recording.mp4"), N_FRAMES // 2)


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (make_empty_file, "empty"),
        (make_text_file, "not a video file"),
        (make_random_bytes, "not a video file"),
        (make_audio_only_file, "audio-only"),
        (make_cut_mp4, "damaged or incomplete"),
        (lambda tmp: tmp, "not a file"),
    ],
)
def test_unusable_video_is_one_line_before_any_model_loads(capsys, tmp_path, monkeypatch, make_path, reason):
    video = make_path(tmp_path)
    monkeypatch.setattr(commands, "load_components", lambda *args: pytest.fail("loaded the models first"))
    out = tmp_path / "out.mp4"
    files_before = sorted(tmp_path.iterdir())
    code, _, err = run_cli(capsys, "run", video, "-o", out)
    assert code == 2
    line = error_line(err)
    assert reason in line and video.name in line
    assert sorted(tmp_path.iterdir()) == files_before


def test_video_cut_off_mid_stream_gives_the_frames_before_the_cut(tmp_path):
    with VideoWriter(tmp_path / "whole.mp4", WIDTH, HEIGHT, FPS) as writer:  # index first: the rest stays readable
        for index in range(N_FRAMES):
            writer.write(gradient(HEIGHT, WIDTH, index))
    for source in (cut(tmp_path / "whole.mp4", 12), cut(make_video(tmp_path / "clip.ts", audio_codec=None), 12)):
        summary = annotate(source, tmp_path / "out.mp4")
        assert 10 <= summary.frames < N_FRAMES
        assert len(frame_times(tmp_path / "out.mp4")) == summary.frames


@pytest.mark.parametrize("name", ["clip.avi", "clip.txt", "clip"])
def test_wrong_or_missing_extension_is_read_by_content(tmp_path, name):
    source = tmp_path / name
    source.write_bytes(make_video(tmp_path / "real.mp4").read_bytes())
    assert annotate(source, tmp_path / "out.mp4").frames == N_FRAMES


def test_corrupt_packets_are_skipped_counted_and_reported(capsys, caplog, tmp_path, untrained_model_file):
    caplog.set_level(logging.INFO, logger="sphereapp")
    video = make_mjpeg_with_corrupt_packets(tmp_path / "damaged.avi", corrupt=(3, 9))
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "run", video, "--gallery", DEMO_GALLERY, "-o", out, "--model", untrained_model_file)
    assert code == 0, err
    assert "skipped 2 corrupt packets" in caplog.text
    assert len(frame_times(out)) == N_FRAMES - 2


def test_variable_frame_rate_keeps_frame_times_and_audio_sync(tmp_path):
    pts = [0, 1, 2, 5, 6, 13, 14, 15, 24, 25]  # in 1/FPS: pauses of 3, 7 and 9 frames
    source = make_video(tmp_path / "phone.mkv", pts=pts)
    out, log = tmp_path / "out.mp4", tmp_path / "log.json"
    annotate(source, out, log)
    expected = [p / FPS for p in pts]
    assert frame_times(source) == pytest.approx(expected, abs=1e-3)
    assert frame_times(out) == pytest.approx(expected, abs=1e-3)
    assert [frame["time"] for frame in json.loads(log.read_text())["frames"]] == pytest.approx(expected, abs=1e-3)
    assert stream_seconds(out, "audio") == pytest.approx((pts[-1] + 1) / FPS, abs=0.05)


def test_damaged_timestamps_do_not_stretch_the_output(tmp_path):
    """A time far ahead, or going back, is a damaged timestamp: that frame comes one period after the previous."""
    out = tmp_path / "out.mp4"
    with VideoWriter(out, WIDTH, HEIGHT, FPS) as writer:
        for index, time in enumerate([0.0, 0.04, 86400.0, 0.12, 0.16, 0.08, 0.24]):
            writer.write(gradient(HEIGHT, WIDTH, index), time)
    assert frame_times(out) == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24], abs=1e-3)


def test_stream_changing_size_midway_is_scaled_to_its_first_size(tmp_path):
    """Two MPEG-TS clips of different sizes back to back, as a broadcast recording can be."""
    first = make_video(tmp_path / "a.ts", audio_codec=None)
    second = make_video(tmp_path / "b.ts", WIDTH * 2, HEIGHT * 2, audio_codec=None)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with VideoReader(joined) as reader:
        shapes = {frame.image.shape for frame in reader}
    assert shapes == {(HEIGHT, WIDTH, 3)}
    assert annotate(joined, tmp_path / "out.mp4").frames == 2 * N_FRAMES


class RefusesSound:
    """An output container whose muxer refuses the sound: at its header, or every audio packet."""

    def __init__(self, container: av.container.OutputContainer, refused: str):
        self._container, self._refused = container, refused

    def __getattr__(self, name: str):
        return getattr(self._container, name)

    def start_encoding(self) -> None:
        if self._refused == "header":
            raise av.error.InvalidDataError(errno.EINVAL, "Invalid data found when processing input")
        self._container.start_encoding()

    def mux(self, packets) -> None:
        packets = packets if isinstance(packets, list) else [packets]
        if self._refused == "packets" and any(packet.stream.type == "audio" for packet in packets):
            raise av.error.ArgumentError(errno.EINVAL, "Invalid argument")
        self._container.mux(packets)


@pytest.mark.parametrize(("refused", "warning"), [("header", "leaving out the sound"),
                                                  ("packets", r"left out \d+ damaged audio packets")])
def test_damaged_sound_is_left_out_and_the_video_kept(tmp_path, monkeypatch, caplog, refused, warning):
    real_open = video_module._open_output
    monkeypatch.setattr(video_module, "_open_output", lambda *args: RefusesSound(real_open(*args), refused))
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="sphereapp.core.media.video"):
        annotate(make_video(tmp_path / "clip.mp4"), out)
    assert re.search(warning, caplog.text)
    assert len(frame_times(out)) == N_FRAMES


def test_rotated_phone_video_comes_out_upright(tmp_path):
    source = make_video(tmp_path / "portrait.mp4", n_frames=3, rotation=90, image_for=corner_marker)
    out = tmp_path / "out.mp4"
    annotate(source, out)
    with VideoReader(out) as reader:
        assert (reader.info.width, reader.info.height, reader.info.rotation) == (HEIGHT, WIDTH, 0)
        image = next(iter(reader)).image
    assert image[-12:-4, 4:8].mean() > 200  # the stored top-left corner is shown bottom-left, as in the source
    assert image[-12:-4, -8:-4].mean() < 50


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "name"),
    [("prores_ks", "yuv422p10le", "camera.mov"), ("libx265", "yuv420p10le", "hdr_phone.mp4")],
)
def test_10_bit_and_4_2_2_video_is_decoded_to_8_bit_rgb(tmp_path, codec, pix_fmt, name):
    source = make_video(tmp_path / name, n_frames=4, audio_codec=None, codec=codec, pix_fmt=pix_fmt)
    with VideoReader(source) as reader:
        frames = list(reader)
    assert len(frames) == 4
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (HEIGHT, WIDTH, 3)
        assert np.abs(frame.image.astype(int) - gradient(HEIGHT, WIDTH, frame.index)).mean() < 4
    assert annotate(source, tmp_path / "out.mp4").frames == 4


def test_odd_frame_size_is_read_exactly_and_padded_on_output(tmp_path):
    source = make_video(tmp_path / "odd.mp4", 1921, 1081, n_frames=2, audio_codec=None, pix_fmt="yuv444p")
    with VideoReader(source) as reader:
        assert (reader.info.width, reader.info.height) == (1921, 1081)
        assert next(iter(reader)).image.shape == (1081, 1921, 3)
    out = tmp_path / "out.mp4"
    assert annotate(source, out).frames == 2
    with VideoReader(out) as reader:
        assert (reader.info.width, reader.info.height) == (1922, 1082)


def test_memory_stays_bounded_however_long_the_video(tmp_path):
    """Hours of video are fine if decoding and the pipeline hold a few frames at a time, never the whole video."""
    n_frames, width, height = 120, 160, 120
    source = make_video(tmp_path / "long.mp4", width, height, n_frames,
                        image_for=lambda h, w, i: gradient(h, w, i % 25))
    frame_bytes = width * height * 3
    tracemalloc.start()
    try:
        with VideoReader(source) as reader:
            assert sum(1 for _ in reader) == n_frames
        reading_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        annotate(source, tmp_path / "out.mp4")
        pipeline_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reading_peak < 5 * frame_bytes
    assert pipeline_peak < 40 * frame_bytes  # a batch of frames, their drawings and crops; the video is 120
