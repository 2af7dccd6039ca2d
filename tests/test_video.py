"""core/media/video.py: decoding, rotation, corrupt packets, atomic H.264 writing with audio, one-line errors."""

import itertools
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.errors import InputError
from sphereapp.core.media.video import VideoReader, VideoWriter, probe, rotate_image

from media_files import (
    FPS, HEIGHT, N_FRAMES, WIDTH, corner_marker, gradient, make_audio_only_file, make_empty_file,
    make_mjpeg_with_corrupt_packets, make_text_file, make_video, stream_seconds,
)


def copy_video(source: Path, target: Path, max_frames: int | None = None) -> None:
    """Decode `source` and re-encode it to `target` with its audio, like the pipeline does."""
    with VideoReader(source) as reader, VideoWriter(
        target, reader.info.width, reader.info.height, reader.info.fps, audio_from=source
    ) as writer:
        for frame in itertools.islice(reader, max_frames):
            writer.write(frame.image)


def audio_codec_and_payloads(path: Path, count: int) -> tuple[str, list[bytes]]:
    """Codec name and the bytes of the first `count` audio packets."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [bytes(p) for p in itertools.islice(container.demux(stream), count)]
        return stream.codec_context.name, packets


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4")


def test_reader_reports_info_and_yields_rgb_frames_in_order(clip: Path) -> None:
    with VideoReader(clip) as reader:
        info = reader.info
        frames = list(reader)
    assert (info.width, info.height, info.rotation, info.codec) == (WIDTH, HEIGHT, 0, "h264")
    assert info.fps == pytest.approx(FPS)
    assert info.frame_count == N_FRAMES
    assert info.duration == pytest.approx(N_FRAMES / FPS, abs=0.05)
    assert info.has_audio
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(N_FRAMES)])
    for frame in frames:
        assert frame.image.shape == (HEIGHT, WIDTH, 3)
        assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
    assert reader.skipped_packets == 0
    assert probe(clip) == info


def test_round_trip_keeps_frames_fps_size_pixels_and_copies_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    copy_video(clip, out)
    with VideoReader(out) as reader:
        info = reader.info
        images = [f.image for f in reader]
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == pytest.approx(FPS)
    assert len(images) == N_FRAMES and info.has_audio
    errors = [np.abs(img.astype(int) - gradient(HEIGHT, WIDTH, i)).mean() for i, img in enumerate(images)]
    assert max(errors) < 4.0
    assert stream_seconds(out, "audio") == pytest.approx(stream_seconds(out, "video"), abs=0.05)
    # Remuxed, not re-encoded: the AAC packets are byte-identical to the source's.
    assert audio_codec_and_payloads(out, 10) == audio_codec_and_payloads(clip, 10)


def test_writer_puts_moov_atom_before_media_data(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    copy_video(clip, out, max_frames=3)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_ntsc_frame_rate_stays_exact(tmp_path: Path) -> None:
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, WIDTH, HEIGHT, 30000 / 1001) as writer:
        for index in range(5):
            writer.write(gradient(HEIGHT, WIDTH, index))
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


def test_odd_size_is_padded_by_one_edge_pixel(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    image = gradient(49, 65, 3)
    with VideoWriter(out, 65, 49, FPS) as writer:
        writer.write(image)
        writer.write(image)
    with VideoReader(out) as reader:
        assert (reader.info.width, reader.info.height) == (66, 50)
        decoded = next(iter(reader)).image.astype(int)
    assert np.abs(decoded[:49, :65] - image).mean() < 4.0
    assert np.abs(decoded[:49, 65] - image[:, 64]).mean() < 6.0
    assert np.abs(decoded[49, :65] - image[48]).mean() < 6.0


def test_writer_rejects_frames_of_the_wrong_size_or_type(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "out.mp4", WIDTH, HEIGHT, FPS) as writer:
        with pytest.raises(ValueError, match="frame must be"):
            writer.write(np.zeros((WIDTH, HEIGHT, 3), np.uint8))
        with pytest.raises(ValueError, match="frame must be"):
            writer.write(np.zeros((HEIGHT, WIDTH, 3), np.float32))
        writer.write(gradient(HEIGHT, WIDTH, 0))
    assert probe(tmp_path / "out.mp4").frame_count == 1


@pytest.mark.parametrize(
    ("rotation", "corner"),
    [(90, "bottom-left"), (-90, "top-right"), (180, "bottom-right")],
)
def test_display_rotation_is_applied(tmp_path: Path, rotation: int, corner: str) -> None:
    path = make_video(
        tmp_path / "rotated.mp4", n_frames=3, audio_codec=None, rotation=rotation, image_for=corner_marker
    )
    with VideoReader(path) as reader:
        info = reader.info
        image = next(iter(reader)).image
    expected_size = (HEIGHT, WIDTH) if rotation % 180 else (WIDTH, HEIGHT)
    assert (info.width, info.height) == expected_size
    assert image.shape == (info.height, info.width, 3)
    assert info.rotation % 360 == rotation % 360
    corners = {
        "top-left": image[:4, :4],
        "top-right": image[:4, -4:],
        "bottom-left": image[-4:, :4],
        "bottom-right": image[-4:, -4:],
    }
    assert {name for name, patch in corners.items() if patch.mean() > 200} == {corner}


def test_rotate_image_turns_counter_clockwise() -> None:
    image = np.array([[1, 2, 3], [4, 5, 6]])
    assert rotate_image(image, 90).tolist() == [[3, 6], [2, 5], [1, 4]]
    assert rotate_image(image, -90).tolist() == [[4, 1], [5, 2], [6, 3]]
    assert rotate_image(image, 180).tolist() == [[6, 5, 4], [3, 2, 1]]
    assert rotate_image(image, 0) is image


def test_corrupt_packets_are_skipped_and_counted(tmp_path: Path) -> None:
    path = make_mjpeg_with_corrupt_packets(tmp_path / "noise.avi")
    with VideoReader(path) as reader:
        frames = list(reader)
    assert reader.skipped_packets == 2
    assert len(frames) == N_FRAMES - 2
    assert [f.index for f in frames] == list(range(N_FRAMES - 2))


def test_abort_removes_temp_file_and_keeps_existing_target(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    writer = VideoWriter(out, WIDTH, HEIGHT, FPS, audio_from=clip)
    for index in range(5):
        writer.write(gradient(HEIGHT, WIDTH, index))
    assert len(list(tmp_path.iterdir())) == 3  # clip, target, temp file
    writer.abort()
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]


def test_exception_inside_with_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(tmp_path / "out.mp4", WIDTH, HEIGHT, FPS) as writer:
            writer.write(gradient(HEIGHT, WIDTH, 0))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_successful_close_replaces_existing_target(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    copy_video(clip, out, max_frames=4)
    assert probe(out).frame_count == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]


def test_audio_is_trimmed_to_the_written_video(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "half.mp4"
    copy_video(clip, out, max_frames=N_FRAMES // 2)
    assert stream_seconds(out, "audio") == pytest.approx(N_FRAMES / 2 / FPS, abs=0.05)


def test_audio_the_container_cannot_hold_is_reencoded_to_aac(tmp_path: Path) -> None:
    source = make_video(tmp_path / "mulaw.mov", audio_codec="pcm_mulaw")  # mp4 cannot hold mu-law
    out = tmp_path / "out.mp4"
    copy_video(source, out)
    assert audio_codec_and_payloads(out, 0)[0] == "aac"
    assert stream_seconds(out, "audio") == pytest.approx(N_FRAMES / FPS, abs=0.05)


def test_source_without_audio_gives_video_only_output(tmp_path: Path) -> None:
    source = make_video(tmp_path / "silent.mp4", audio_codec=None)
    out = tmp_path / "out.mp4"
    copy_video(source, out)
    assert not probe(out).has_audio


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (lambda tmp: tmp / "missing.mp4", "file not found"),
        (make_empty_file, "empty"),
        (make_text_file, "not a video file"),
        (make_audio_only_file, "audio-only"),
    ],
)
def test_unusable_inputs_raise_one_line_input_error(tmp_path: Path, make_path, reason: str) -> None:
    path = make_path(tmp_path)
    with pytest.raises(InputError, match=reason) as caught:
        VideoReader(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_writer_reports_unusable_destinations(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", WIDTH, HEIGHT, FPS)
    with pytest.raises(InputError, match="unknown video format"):
        VideoWriter(tmp_path / "out.notavideo", WIDTH, HEIGHT, FPS)
    with pytest.raises(InputError, match="is a folder"):
        VideoWriter(tmp_path, WIDTH, HEIGHT, FPS)
    assert list(tmp_path.iterdir()) == []


def test_writer_reports_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with rights that ignore folder permissions (root)")
        with pytest.raises(InputError, match="not writable"):
            VideoWriter(folder / "out.mp4", WIDTH, HEIGHT, FPS)
    finally:
        folder.chmod(0o700)


@pytest.mark.data
def test_real_video_decodes(shared_data: Path) -> None:
    with VideoReader(shared_data / "video" / "hikers_walking_640x480.mp4") as reader:
        info = reader.info
        frames = list(itertools.islice(reader, 30))
    assert (info.width, info.height) == (640, 480)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.has_audio and info.rotation == 0
    assert len(frames) == 30 and reader.skipped_packets == 0
    assert all(f.image.shape == (480, 640, 3) for f in frames)
    assert [f.time for f in frames] == pytest.approx([i * 1001 / 30000 for i in range(30)], abs=1e-3)
    assert float(np.std(frames[0].image)) > 10  # real picture content, not a blank frame


def test_reader_can_start_at_a_frame_past_keyframes() -> None:
    """The demo clip has a keyframe every 30 frames, so these starts land between keyframes and at the end."""
    with VideoReader(DEMO_VIDEO) as reader:
        frames = list(reader)
    for start in (1, 45, 90, len(frames) - 1):
        with VideoReader(DEMO_VIDEO, start=start) as reader:
            got = list(itertools.islice(reader, 2))
        expected = frames[start:start + 2]
        assert [frame.index for frame in got] == [frame.index for frame in expected]
        for frame, reference in zip(got, expected, strict=True):
            assert frame.time == pytest.approx(reference.time)
            np.testing.assert_array_equal(frame.image, reference.image)
    with VideoReader(DEMO_VIDEO, start=len(frames) + 10) as reader:
        assert list(reader) == [] and reader.info.frame_count == len(frames)
