"""Small media files written for tests: H.264 clips with sound, damaged and unusable videos, a PNG bomb header."""

import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sphereapp.core.media.video import VideoWriter

WIDTH, HEIGHT, FPS, N_FRAMES = 64, 48, 25, 20
SAMPLE_RATE = 44100


def gradient(height: int, width: int, index: int) -> np.ndarray:
    """A smooth RGB test image: red grows to the right, green downwards, blue with the frame index."""
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width)[None, :]
    image[..., 1] = np.linspace(0, 255, height)[:, None]
    image[..., 2] = 10 * index
    return image


def make_video(
    path: Path,
    width: int = WIDTH,
    height: int = HEIGHT,
    n_frames: int = N_FRAMES,
    audio_codec: str | None = "aac",
    rotation: int = 0,
    image_for=gradient,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: Sequence[int] | None = None,
) -> Path:
    """Write a tiny clip with PyAV (H.264 yuv420p unless told), optionally with a 440 Hz mono sine track as long as
    the video and a display rotation; `pts` gives each frame's time in 1/FPS units (default 0, 1, 2, ...)."""
    pts = range(n_frames) if pts is None else pts
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if rotation:
            video.set_display_rotation(rotation)
        audio = container.add_stream(audio_codec, rate=SAMPLE_RATE, layout="mono") if audio_codec else None
        for index, timestamp in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(image_for(height, width, index), format="rgb24")
            frame.pts, frame.time_base = timestamp, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            t = np.arange(SAMPLE_RATE * (pts[-1] + 1) // FPS) / SAMPLE_RATE
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            sound = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = SAMPLE_RATE, 0, Fraction(1, SAMPLE_RATE)
            container.mux(audio.encode(sound))
            container.mux(audio.encode(None))
    return path


def write_clip(path: Path, colours) -> Path:
    """A 112x96 clip at 25 fps, one frame of each plain colour."""
    with VideoWriter(path, 96, 112, 25.0) as writer:
        for colour in colours:
            writer.write(np.full((112, 96, 3), colour, np.uint8))
    return path


def corner_marker(height: int, width: int, index: int) -> np.ndarray:
    """Black image with a white block in the stored top-left corner."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:12, :16] = 255
    return image


def make_mjpeg_with_corrupt_packets(path: Path, corrupt: tuple[int, ...] = (5, 12)) -> Path:
    """An MJPEG .avi of N_FRAMES (every packet decodes on its own) whose packets `corrupt` are random bytes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuvj420p"
        for index in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(gradient(HEIGHT, WIDTH, index), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        spans = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    for position, size in (spans[index] for index in corrupt):
        garbage = np.random.default_rng(position).integers(0, 256, size, np.uint8)
        data[position : position + size] = garbage.tobytes()
    path.write_bytes(bytes(data))
    return path


def stream_seconds(path: Path, kind: str) -> float:
    """Duration in seconds of the first `kind` ('video' / 'audio') stream as the container states it."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return float(stream.duration * stream.time_base)


def make_text_file(tmp_path: Path) -> Path:
    """Text in a file named .mp4."""
    path = tmp_path / "notes.mp4"
    path.write_text("these are notes, not a video\n" * 20)
    return path


def make_empty_file(tmp_path: Path) -> Path:
    """An empty file named .mp4."""
    path = tmp_path / "empty.mp4"
    path.touch()
    return path


def make_audio_only_file(tmp_path: Path) -> Path:
    """Half a second of AAC silence in an .m4a, without video."""
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        silence = np.zeros((1, SAMPLE_RATE // 2), np.float32)
        sound = av.AudioFrame.from_ndarray(silence, format="flt", layout="mono")
        sound.sample_rate, sound.pts = SAMPLE_RATE, 0
        container.mux(stream.encode(sound))
        container.mux(stream.encode(None))
    return path


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, followed by undecodable pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")
