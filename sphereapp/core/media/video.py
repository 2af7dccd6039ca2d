"""Video I/O with PyAV: frame-by-frame decoding (rotation applied), atomic H.264 encoding with audio."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from sphereapp.core.errors import InputError
from sphereapp.core.files import temporary_beside

log = logging.getLogger(__name__)

_FASTSTART_SUFFIXES = {".mp4", ".m4v", ".mov"}
MAX_UNREADABLE_IN_A_ROW = 10  # packets the demuxer fails to read, one after another, before the rest is given up
MAX_FRAME_GAP_S = 60.0  # a longer pause between two frames is taken for a damaged timestamp


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds; width and height are as displayed (after rotation)."""

    width: int
    height: int
    fps: float
    frame_count: int | None
    duration: float | None
    rotation: int
    has_audio: bool
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame: running index, presentation time in seconds, RGB uint8 (H, W, 3) image."""

    index: int
    time: float
    image: np.ndarray


def rotate_image(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an image `rotation` degrees counter-clockwise (multiple of 90, FFmpeg display-matrix sense)."""
    quarter_turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def _open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into a one-line InputError."""
    if not path.exists():
        raise InputError(f"cannot read video '{path}': file not found")
    if not path.is_file():
        raise InputError(f"cannot read video '{path}': not a file")
    if path.stat().st_size == 0:
        raise InputError(f"cannot read video '{path}': the file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.PermissionError:
        raise InputError(f"cannot read video '{path}': permission denied") from None
    except (av.error.FFmpegError, UnicodeDecodeError):
        raise InputError(f"cannot read video '{path}': not a video file, or damaged or incomplete") from None


class VideoReader:
    """Decodes a video one frame at a time (threaded decoder), yielding RGB frames with rotation applied.

    The file is opened and its first frame decoded on construction, so `.info` is available at once.
    Single pass: iterate once. Packets that cannot be read or decoded are skipped and counted in `.skipped_packets`;
    frames of another size than the first (a stream that changes size) are scaled to the first's.
    `start > 0` begins the iteration at frame `start` (see `_seek`); nothing is yielded when it lies past the end.
    """

    def __init__(self, path: str | Path, start: int = 0) -> None:
        self.path = Path(path)
        self.skipped_packets = 0
        self._frames_read = 0
        self._container = _open_input(self.path)
        try:
            if not self._container.streams.video:
                kind = "an audio-only file" if self._container.streams.audio else "no video stream"
                raise InputError(f"cannot read video '{self.path}': {kind}, there is nothing to decode")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._decoded = self._decode()
            self._first = next(self._decoded, None)
            if self._first is None:
                raise InputError(f"cannot read video '{self.path}': no decodable video frame")
            self._size = (self._first.width, self._first.height)  # as stored; every frame is decoded at this size
            self.info = self._read_info(self._first.rotation)
            if start > 0:
                self._seek(start)
        except BaseException:
            self._container.close()
            raise

    def _read_info(self, rotation: int) -> VideoInfo:
        """Container/stream facts; the size is the first frame's; frame count and duration are the container's
        estimates."""
        stream = self._stream
        rate = stream.guessed_rate or stream.average_rate or stream.base_rate  # as ffmpeg (av_guess_frame_rate)
        fps = float(rate) if rate else 0.0
        if stream.duration and stream.time_base:
            duration: float | None = float(stream.duration * stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / av.time_base
        else:
            duration = None
        frame_count = stream.frames or (round(duration * fps) if duration and fps else None)
        width, height = self._size
        if round(rotation / 90) % 2:
            width, height = height, width
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            frame_count=frame_count,
            duration=duration,
            rotation=rotation,
            has_audio=bool(self._container.streams.audio),
            codec=stream.codec_context.name,
        )

    def _seek(self, start: int) -> None:
        """Jump to the keyframe at or before frame `start`, then decode forward to it.

        A frame's index after a seek is its time since the first frame times the frame rate, rounded.
        """
        fps = self.info.fps or 1.0
        first_time = self._first.time or 0.0
        target_time = first_time + start / fps
        self._container.seek(int(target_time / self._stream.time_base), stream=self._stream, backward=True)
        self._decoded = self._decode()
        self._first = None
        for av_frame in self._decoded:
            index = round(((av_frame.time or 0.0) - first_time) * fps)
            if index >= start:
                self._first, self._frames_read = av_frame, index
                return

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decoded frames in display order; a packet that cannot be read or decoded is counted and skipped."""
        for packet in _packets(self._container, self._stream):
            if packet is None:
                self.skipped_packets += 1
                continue
            try:
                frames = self._stream.decode(packet)
            except av.error.FFmpegError as error:
                self.skipped_packets += 1
                log.debug("skipped a corrupt packet in %s: %s", self.path, error)
                continue
            yield from frames

    def __iter__(self) -> Iterator[Frame]:
        pending = [self._first] if self._first is not None else []
        self._first = None
        for av_frame in itertools.chain(pending, self._decoded):
            pixels = av_frame.to_ndarray(format="rgb24", width=self._size[0], height=self._size[1])
            image = rotate_image(pixels, self.info.rotation)
            index, self._frames_read = self._frames_read, self._frames_read + 1
            time = av_frame.time
            if time is None or not math.isfinite(time):  # no timestamp, or a damaged stream's time base
                time = index / (self.info.fps or 1.0)
            yield Frame(index=index, time=float(time), image=image)

    def close(self) -> None:
        """Release the file."""
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _packets(container: av.container.InputContainer, stream: av.stream.Stream) -> Iterator[av.Packet | None]:
    """The stream's packets, read on past damage: None for each one the demuxer fails to read.

    After MAX_UNREADABLE_IN_A_ROW failures in a row the rest of the file is given up, with an empty packet last
    (which flushes a decoder, as the demuxer's own last packet does).
    """
    unreadable = 0
    while unreadable < MAX_UNREADABLE_IN_A_ROW:
        try:
            for packet in container.demux(stream):
                unreadable = 0
                yield packet
            return
        except av.error.FFmpegError as error:
            unreadable += 1
            log.debug("could not read a packet of %s: %s", container.name, error)
            yield None
    log.warning("stopped reading '%s' early: %d damaged packets in a row", container.name, unreadable)
    yield av.Packet()


def probe(path: str | Path) -> VideoInfo:
    """Facts about a video file (decodes only its first frame); InputError if it cannot be read."""
    with VideoReader(path) as reader:
        return reader.info


class _AudioTrack:
    """The first audio stream of a file, copied packet by packet into an output container.

    When the output container cannot hold that codec, the audio is decoded and re-encoded to AAC instead.
    Packets are handed out in time order so the caller can interleave them with the video.
    """

    def __init__(self, source: av.container.InputContainer, output: av.container.OutputContainer) -> None:
        self._source = source
        in_stream = source.streams.audio[0]
        if in_stream.codec_context.name in output.supported_codecs:
            self._out_stream = output.add_stream_from_template(in_stream)
            packets = self._copied(in_stream)
        else:
            codec = in_stream.codec_context.name
            log.info("re-encoding %s audio to AAC: the output format cannot hold it", codec)
            self._out_stream = output.add_stream(
                "aac", rate=in_stream.codec_context.sample_rate, layout=in_stream.codec_context.layout.name
            )
            packets = self._reencoded(in_stream)
        self._packets = packets
        self._pending = next(self._packets, None)
        self._left_out = 0

    def _copied(self, in_stream: av.audio.AudioStream) -> Iterator[av.Packet]:
        for packet in _packets(self._source, in_stream):
            if packet is not None and packet.dts is not None:
                packet.stream = self._out_stream
                yield packet

    def _reencoded(self, in_stream: av.audio.AudioStream) -> Iterator[av.Packet]:
        for packet in _packets(self._source, in_stream):
            try:
                frames = in_stream.decode(packet) if packet is not None else []
            except av.error.FFmpegError:
                continue
            for frame in frames:
                yield from self._out_stream.encode(frame)
        yield from self._out_stream.encode(None)

    def mux_until(self, output: av.container.OutputContainer, seconds: float) -> None:
        """Mux every pending packet that starts before `seconds`; one the muxer refuses (damaged) is left out."""
        while self._pending is not None and _packet_seconds(self._pending) < seconds:
            try:
                output.mux(self._pending)
            except (av.error.FFmpegError, ValueError) as error:
                if not _is_damage(error):
                    raise
                self._left_out += 1
                log.debug("left out an audio packet: %s", error)
            self._pending = next(self._packets, None)

    def close(self) -> None:
        if self._left_out:
            log.warning("left out %d damaged audio packets of '%s'", self._left_out, self._source.name)
        self._source.close()


def _is_damage(error: BaseException) -> bool:
    """FFmpeg refusing damaged data, as opposed to the system failing (a full disk is an OSError)."""
    return isinstance(error, (av.error.FFmpegError, ValueError)) and not isinstance(error, OSError)


def _packet_seconds(packet: av.Packet) -> float:
    timestamp = packet.pts if packet.pts is not None else packet.dts
    return float(timestamp * packet.time_base) if timestamp is not None and packet.time_base else 0.0


class VideoWriter:
    """Encodes RGB frames to H.264 (yuv420p, libx264) with the source's audio, written atomically.

    Frames go to a hidden temp file beside the target (`.<stem>.<random>.tmp<suffix>`), which replaces the
    target only on a successful `close()`; an exception inside `with` or `.abort()` deletes it and leaves any
    existing target untouched. yuv420p needs even sizes, so an odd width or height is padded by one pixel
    (the last column/row repeated): the file is then (width + width % 2) x (height + height % 2).
    Audio is trimmed to the length of the written video; audio that cannot be written (damaged) is left out.
    Frames are spaced 1/fps apart unless `write` is given their source times, which keeps a variable frame rate
    (and the audio in sync with it); timestamps run on a 1/90000 s clock or finer.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        audio_from: str | Path | None = None,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError(f"width, height and fps must be positive, got {width}x{height} @ {fps}")
        self.path = Path(path)
        self.width, self.height = width, height
        self._rate = Fraction(fps).limit_denominator(1001)
        # a clock that counts whole ticks per frame at this rate and is at least as fine as 1/90000 s
        self._time_base = Fraction(1, self._rate.numerator * math.ceil(90000 / self._rate.numerator))
        self._frame_ticks = round(1 / (self._rate * self._time_base))
        self._frames_written = 0
        self._first_time: float | None = None
        self._last_pts = 0
        self._end_seconds = 0.0  # where the written video ends: the audio is muxed up to here
        self._closed = False
        self._temp_path = _create_temp_beside(self.path)
        self._audio: _AudioTrack | None = None
        try:
            self._open(crf, preset, None if audio_from is None else Path(audio_from))
        except BaseException:
            self.abort()
            raise

    def _open(self, crf: int, preset: str, audio_from: Path | None) -> None:
        """Open the temp file with the H.264 stream and the sound of `audio_from`, left out when it is unusable."""
        self._container = _open_output(self._temp_path, self.path)
        self._stream = self._container.add_stream(
            "libx264", rate=self._rate, options={"crf": str(crf), "preset": preset}
        )
        self._stream.width, self._stream.height = self.width + self.width % 2, self.height + self.height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = self._time_base
        if audio_from is None:
            return
        source = _open_input(audio_from)
        if not source.streams.audio:
            source.close()
            return
        try:
            if source.streams.audio[0].codec_context is None:
                raise ValueError("its audio codec is unknown")
            self._audio = _AudioTrack(source, self._container)
            with self._write_errors():
                self._container.start_encoding()  # the header, now: damaged sound parameters fail here
        except BaseException as error:
            source.close()
            self._audio = None
            if not _is_damage(error):
                raise
            log.warning("leaving out the sound of '%s': %s", audio_from, getattr(error, "strerror", None) or error)
            self._container.close()
            self._open(crf, preset, None)

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one RGB uint8 (height, width, 3) frame; any other shape or dtype is a ValueError.

        `time` is the frame's source time in seconds (the first one written becomes 0); without it the frame comes
        1/fps after the previous one, as it also does when `time` goes back or jumps ahead by more than
        MAX_FRAME_GAP_S (a damaged timestamp).
        """
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 ({self.height}, {self.width}, 3), got {image.dtype} {image.shape}"
            )
        padding = ((0, self.height % 2), (0, self.width % 2), (0, 0))
        if self.height % 2 or self.width % 2:
            image = np.pad(image, padding, mode="edge")
        if time is None:
            pts = self._frames_written * self._frame_ticks
        else:
            self._first_time = time if self._first_time is None else self._first_time
            pts = round((time - self._first_time) / self._time_base)
        if self._frames_written and not 0 < pts - self._last_pts <= MAX_FRAME_GAP_S / self._time_base:
            pts = self._last_pts + self._frame_ticks
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = pts, self._time_base
        with self._write_errors():
            self._container.mux(self._stream.encode(frame))
            self._frames_written += 1
            self._last_pts = pts
            self._end_seconds = float((pts + self._frame_ticks) * self._time_base)
            if self._audio is not None:
                self._audio.mux_until(self._container, self._end_seconds)

    def close(self) -> None:
        """Flush the encoder, finish the file and move it onto the target path."""
        if self._closed:
            return
        try:
            with self._write_errors():
                self._container.mux(self._stream.encode(None))
                if self._audio is not None:
                    self._audio.mux_until(self._container, self._end_seconds)
                    self._audio.close()
                self._container.close()
                os.replace(self._temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True

    @contextmanager
    def _write_errors(self) -> Iterator[None]:
        """A failed write (disk full, device gone: OSError, FFmpeg's too) as a one-line InputError."""
        try:
            yield
        except OSError as error:
            raise InputError(f"cannot write video '{self.path}': {error.strerror or error}") from error

    def abort(self) -> None:
        """Stop writing, delete the temp file and leave the target untouched."""
        if self._closed:
            return
        self._closed = True
        for resource in (self._audio, getattr(self, "_container", None)):
            if resource is not None:
                try:
                    resource.close()
                except (av.error.FFmpegError, OSError, ValueError) as error:
                    log.debug("ignored while aborting %s: %s", self.path, error)
        self._temp_path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _create_temp_beside(target: Path) -> Path:
    """Create an empty hidden temp file beside the target (same suffix, so the format is guessed alike)."""
    folder = target.parent
    if target.is_dir():
        raise InputError(f"cannot write video '{target}': it is a folder")
    if not folder.is_dir():
        raise InputError(f"cannot write video '{target}': folder '{folder}' does not exist")
    temp_path = temporary_beside(target)
    try:
        temp_path.open("xb").close()
    except OSError as error:
        reason = f"folder '{folder}' is not writable ({error.strerror})"
        raise InputError(f"cannot write video '{target}': {reason}") from None
    return temp_path


def _open_output(temp_path: Path, target: Path) -> av.container.OutputContainer:
    """Open the temp file for writing in the format the target's extension names (mp4: moov atom first)."""
    options = {"movflags": "+faststart"} if target.suffix.lower() in _FASTSTART_SUFFIXES else {}
    try:
        return av.open(str(temp_path), "w", options=options)
    except (av.error.FFmpegError, ValueError):
        reason = f"unknown video format '{target.suffix}' (use .mp4)"
        raise InputError(f"cannot write video '{target}': {reason}") from None
