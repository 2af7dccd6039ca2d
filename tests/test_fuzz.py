"""Seeded fuzzing: damaged bytes in a valid small video and photo end in success or a one-line SphereappError, never
in another exception or a hang."""

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image

from sphereapp.core.errors import SphereappError
from sphereapp.core.identities.enrol import Enroller

from fakes import PerModelEmbedder, WholeImageDetector, annotate
from media_files import gradient, make_video

CASES = 30
TIME_LIMIT_S = 20  # a tiny file takes well under a second; more means a hang

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM for the time limit")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread once `seconds` have passed."""

    def give_up(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def damaged(data: bytes, rng: np.random.Generator) -> bytes:
    """The bytes with one kind of damage: a few flipped bytes, a span of noise, a cut, a span lost or repeated."""
    data = bytearray(data)
    start = int(rng.integers(len(data)))
    length = int(rng.integers(1, 1 + len(data) // 8))
    kind = int(rng.integers(5))
    if kind == 0:
        for position in rng.integers(0, len(data), int(rng.integers(1, 20))):
            data[position] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        data[start : start + length] = rng.integers(0, 256, len(data[start : start + length]), np.uint8).tobytes()
    elif kind == 2:
        del data[start:]
    elif kind == 3:
        del data[start : start + length]
    else:
        data[start:start] = data[start : start + length]
    return bytes(data)


def fails_cleanly_or_succeeds(action: Callable[[], object]) -> None:
    try:
        with time_limit(TIME_LIMIT_S):
            action()
    except SphereappError as error:
        message = str(error)
        assert message and "\n" not in message


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> dict[str, bytes]:
    """20 frames of H.264 + AAC as an MP4 (index at the end, as cameras write it) and as an MPEG-TS."""
    folder = tmp_path_factory.mktemp("fuzz")
    return {suffix: make_video(folder / f"clip{suffix}").read_bytes() for suffix in (".mp4", ".ts")}


@pytest.fixture(scope="module")
def photo_bytes(tmp_path_factory) -> dict[str, bytes]:
    """A JPEG with an EXIF orientation and a PNG of the same picture."""
    folder = tmp_path_factory.mktemp("fuzz")
    image = Image.fromarray(gradient(120, 100, 7))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(folder / "photo.jpg", exif=exif, quality=90)
    image.save(folder / "photo.png")
    return {suffix: (folder / f"photo{suffix}").read_bytes() for suffix in (".jpg", ".png")}


@pytest.mark.parametrize("case", range(CASES))
def test_damaged_video(tmp_path, video_bytes, case):
    suffix = (".ts", ".mp4")[case % 2]
    video = tmp_path / f"damaged{suffix}"
    video.write_bytes(damaged(video_bytes[suffix], np.random.default_rng(case)))
    fails_cleanly_or_succeeds(lambda: annotate(video, tmp_path / "out.mp4", tmp_path / "out.json"))


@pytest.mark.parametrize("case", range(CASES))
def test_damaged_photo(tmp_path, photo_bytes, case):
    suffix = (".jpg", ".png")[case % 2]
    photo = tmp_path / f"damaged{suffix}"
    photo.write_bytes(damaged(photo_bytes[suffix], np.random.default_rng(1000 + case)))
    enroller = Enroller(WholeImageDetector(), PerModelEmbedder())
    fails_cleanly_or_succeeds(lambda: enroller.enrol_image(photo))
