"""Awkward gallery photos with the real MTCNN detector: every format enrols its face, or gets a one-line reason."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sphereapp.core.identities import enrol as enrol_module
from sphereapp.core.identities.enrol import Enroller
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.media.images import read_image_rgb
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.embed import Embedder

from helpers import PHOTOS, error_line, iou, run_cli
from media_files import png_header_claiming

# One face, eyes about 40 px apart once doubled; turned a quarter, MTCNN no longer finds it.
FACE = Image.open(PHOTOS / "Hiker_in_red_cap.jpg").convert("RGB").resize((246, 284), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def enroller(untrained_model_file) -> Enroller:
    return Enroller(FaceDetector(), Embedder.from_file(untrained_model_file, "cpu"))


@pytest.fixture(scope="module")
def face_box(enroller, tmp_path_factory) -> np.ndarray:
    """Where the detector finds the face in the plain RGB PNG."""
    path = tmp_path_factory.mktemp("plain") / "face.png"
    FACE.save(path)
    return enroller.enrol_image(path).box


def save_cmyk_jpeg(path: Path) -> None:
    FACE.convert("CMYK").save(path, quality=95)


def save_16_bit_png(path: Path) -> None:
    cv2.imwrite(str(path), np.asarray(FACE)[..., ::-1].astype(np.uint16) * 257)


def save_greyscale(path: Path) -> None:
    FACE.convert("L").save(path)


def save_exif_rotated(path: Path) -> None:
    """Pixels stored turned a quarter, as phones do, with the EXIF tag that turns them upright (6: 90 clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    FACE.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)


def save_animated(path: Path) -> None:
    """The face, then a blank frame: the first frame is the photo."""
    FACE.save(path, save_all=True, append_images=[Image.new("RGB", FACE.size, (90, 90, 90))], duration=200, loop=0)


@pytest.mark.parametrize(
    ("save", "name"),
    [
        (save_cmyk_jpeg, "cmyk.jpg"),
        (save_16_bit_png, "deep.png"),
        (save_greyscale, "grey.png"),
        (save_exif_rotated, "phone.jpg"),
        (save_animated, "animated.gif"),
        (save_animated, "animated.webp"),
    ],
)
def test_every_photo_format_enrols_the_face_where_it_is(enroller, face_box, tmp_path, save, name):
    path = tmp_path / name
    save(path)
    enrolment = enroller.enrol_image(path)
    assert enrolment.n_faces == 1
    assert iou(enrolment.box, face_box) > 0.8


def test_large_photo_is_shrunk_before_detection(enroller, face_box, tmp_path, monkeypatch):
    path = tmp_path / "large.jpg"
    FACE.resize((FACE.width * 4, FACE.height * 4)).save(path, quality=95)
    monkeypatch.setattr(enrol_module, "MAX_PHOTO_SIDE", FACE.height)
    seen, real_detect = [], enroller.detector.detect

    def spy(images):
        seen.extend(image.shape for image in images)
        return real_detect(images)

    monkeypatch.setattr(enroller.detector, "detect", spy)
    enrolment = enroller.enrol_image(path)
    assert seen == [(FACE.height, FACE.width, 3)]
    assert iou(enrolment.box, face_box) > 0.8


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_read_image_shrinks_to_max_side_keeping_the_aspect(tmp_path, suffix):
    path = tmp_path / f"wide{suffix}"
    pixels = np.zeros((600, 1000, 3), np.uint8)
    pixels[:, 500:] = 255  # right half white
    Image.fromarray(pixels).save(path)
    image = read_image_rgb(path, max_side=250)
    assert image.shape == (150, 250, 3) and image.flags.c_contiguous
    assert image[:, :120].max() < 40 and image[:, 130:].min() > 215
    assert read_image_rgb(path, max_side=2000).shape == (600, 1000, 3)


def gallery_add(capsys, model: Path, store: Path, name: str, photo: Path) -> tuple[int, str, str]:
    return run_cli(capsys, "gallery", "add", name, photo, "--gallery", store, "--model", model)


def test_unicode_and_spaces_in_names_and_paths(capsys, tmp_path, untrained_model_file):
    folder = tmp_path / "Fotos von Zoë" / "张 伟"
    folder.mkdir(parents=True)
    photo = folder / "Zoë Ünïcode photo 1.jpg"
    FACE.save(photo, quality=95)
    store = tmp_path / "Galerie à moi.sqlite"
    code, out, err = gallery_add(capsys, untrained_model_file, store, "Zoë 张伟", photo)
    assert code == 0, err
    code, out, _ = run_cli(capsys, "gallery", "list", "--gallery", store)
    name, _colour, source = out.rstrip("\n").split("\t")
    assert (name, source) == ("Zoë 张伟", str(photo))


def write_fake_heic(path: Path) -> None:
    """The start of an HEIC file (ISO BMFF 'ftyp' box, brand heic) followed by data Pillow cannot decode."""
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(range(256)) * 8)


def write_pixel_bomb(path: Path) -> None:
    path.write_bytes(png_header_claiming(20_000, 20_000))


def write_tiny_face(path: Path) -> None:
    """The face shrunk to about 10 px on a large grey background: below what the detector looks for."""
    canvas = Image.new("RGB", (400, 300), (120, 120, 120))
    canvas.paste(FACE.resize((FACE.width // 10, FACE.height // 10)), (200, 150))
    canvas.save(path)


@pytest.mark.parametrize(
    ("write", "name", "reason"),
    [
        (write_fake_heic, "IMG_0001.HEIC", "not a supported image file"),
        (write_pixel_bomb, "bomb.png", "too large"),
        (write_tiny_face, "far away.png", "no face found"),
        (lambda path: path.write_bytes(b""), "empty.jpg", "not a supported image file"),
        (lambda path: path.mkdir(), "folder.jpg", "folder.jpg"),
    ],
)
def test_unusable_photo_is_one_line_and_stores_nothing(capsys, tmp_path, untrained_model_file, write, name, reason):
    photo = tmp_path / name
    write(photo)
    store = tmp_path / "g.sqlite"
    code, _, err = gallery_add(capsys, untrained_model_file, store, "Nobody", photo)
    assert code == 2
    line = error_line(err)
    assert reason in line and name in line
    assert not store.exists()


def test_photo_with_several_faces_enrols_the_largest_and_says_so(capsys, caplog, tmp_path, enroller,
                                                                  untrained_model_file):
    group = Image.new("RGB", (FACE.width * 2, FACE.height), (120, 120, 120))
    group.paste(FACE, (0, 0))
    group.paste(FACE.resize((FACE.width * 2 // 3, FACE.height * 2 // 3)), (FACE.width + 20, 40))
    photo = tmp_path / "two people.png"
    group.save(photo)
    store = tmp_path / "g.sqlite"
    with caplog.at_level(logging.WARNING):
        code, _, err = gallery_add(capsys, untrained_model_file, store, "Left", photo)
    assert code == 0, err
    assert "2 faces found" in caplog.text
    with GalleryStore(store) as opened:
        (identity,) = opened.identities()
    FACE.save(tmp_path / "left.png")
    alone = enroller.enrol_image(tmp_path / "left.png")
    assert np.abs(identity.crop.astype(int) - alone.crop).mean() < 10  # the larger face, aligned alike
