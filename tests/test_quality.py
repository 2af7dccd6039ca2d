"""Enrolment hints from synthetic inputs: sharp vs blurred crops, frontal vs turned faces, tiny faces, lookalikes."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from sphereapp.cli import main
from sphereapp.core.identities.enrol import Enroller, add_enrolment
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.store import GalleryStore
from sphereapp.core.vision.align import TEMPLATE_112x96
from sphereapp.core.identities.quality import (
    MAX_NOSE_OFFSET,
    MIN_EYE_DISTANCE_PX,
    MIN_SHARPNESS,
    eye_distance,
    face_warnings,
    lookalike_warnings,
    nose_offset,
    sharpness,
)

from helpers import PHOTOS, unit


def textured_crop(contrast: int = 40) -> np.ndarray:
    """A 112x96 crop of 8-px squares, `contrast` grey levels apart: as sharp as a face photo's edges."""
    y, x = np.mgrid[:112, :96]
    grey = (120 + contrast * ((y // 8 + x // 8) % 2)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def landmarks(scale: float = 2.0, roll_degrees: float = 0.0, nose_shift: float = 0.0) -> np.ndarray:
    """The SphereFace template scaled, rolled about its centre, nose moved sideways by `nose_shift` eye distances."""
    points = TEMPLATE_112x96.astype(np.float64).copy()
    points[2, 0] += nose_shift * (points[1, 0] - points[0, 0])
    angle = np.radians(roll_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = points.mean(axis=0)
    return ((points - centre) @ rotation.T * scale + 200).astype(np.float32)


def test_sharp_and_blurred_crops_fall_on_either_side_of_the_limit():
    crop = textured_crop()
    assert sharpness(crop) > 10 * MIN_SHARPNESS
    assert sharpness(cv2.GaussianBlur(crop, (0, 0), 2)) < MIN_SHARPNESS
    assert sharpness(np.full((112, 96, 3), 128, np.uint8)) == 0


def test_nose_offset_measures_yaw_not_roll():
    assert nose_offset(landmarks()) < 0.02  # the template is frontal
    assert nose_offset(landmarks(roll_degrees=30)) < 0.02  # a tilted head is still frontal
    assert nose_offset(landmarks(nose_shift=0.4)) == pytest.approx(0.4, abs=0.02)
    assert nose_offset(landmarks(roll_degrees=-20, nose_shift=-0.4)) == pytest.approx(0.4, abs=0.02)


def test_each_problem_gives_its_one_line_hint():
    crop = textured_crop()
    assert face_warnings(crop, landmarks()) == []
    tiny = landmarks(scale=0.5)
    assert eye_distance(tiny) < MIN_EYE_DISTANCE_PX
    (small,) = face_warnings(crop, tiny)
    assert small.startswith("small face (eyes 18 px apart, 24+ recommended)")
    (blurred,) = face_warnings(cv2.GaussianBlur(crop, (0, 0), 2), landmarks())
    assert blurred.startswith("blurred face (sharpness ")
    (turned,) = face_warnings(crop, landmarks(nose_shift=MAX_NOSE_OFFSET + 0.1))
    assert turned.startswith("face turned aside (nose 35% of the eye distance off-centre, 25% at most")
    for hint in (small, blurred, turned):
        assert "\n" not in hint and hint.endswith("enrols better")


def test_lookalikes_are_listed_most_similar_first():
    new = unit([1, 0, 0])
    gallery = Gallery(["Ada", "Bob", "Cy"], [(0, 0, 0)] * 3,
                      np.stack([unit([0.6, 0.8, 0]), unit([0.3, 0, 0.954]), unit([0.9, 0.436, 0])]))
    assert lookalike_warnings("Eve", new, gallery, 0.5) == [
        "Eve looks like Cy (cos 0.90): recognition may confuse them",
        "Eve looks like Ada (cos 0.60): recognition may confuse them",
    ]
    assert lookalike_warnings("Eve", new, gallery, 0.95) == []
    assert lookalike_warnings("Eve", new, Gallery([], [], np.zeros((0, 3), np.float32)), 0.5) == []


class MeanEmbedder:
    """Unit vectors from the crops' mean colours; the model's threshold is 0.5."""

    info = SimpleNamespace(model_id="mean", embedding_size=3, threshold=0.5)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        means = crops.reshape(len(crops), -1, 3).mean(axis=1) + 1
        return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)


def test_enrolment_carries_face_hints_and_adding_reports_lookalikes(tmp_path):
    image = np.zeros((400, 400, 3), np.uint8)
    image[...] = 128
    enroller = Enroller(detector=None, embedder=MeanEmbedder())
    small = landmarks(scale=0.5)
    enrolment = enroller.enrol_face(image, np.array([0, 0, 10, 10], np.float32), small)
    assert [hint.split(" (")[0] for hint in enrolment.warnings] == ["small face", "blurred face"]
    with GalleryStore(tmp_path / "g.sqlite") as store:
        ada, hints = add_enrolment(store, "Ada", enrolment, MeanEmbedder(), "ada.png")
        assert hints == enrolment.warnings  # nobody to look like yet
        twin, hints = add_enrolment(store, " Twin ", enrolment, MeanEmbedder(), "twin.png")
        assert hints[-1] == "Twin looks like Ada (cos 1.00): recognition may confuse them"
        assert [identity.name for identity in store.identities()] == ["Ada", "Twin"]


def test_cli_gallery_add_logs_the_hints(caplog, tmp_path, untrained_model_file, one_torch_thread):
    photo, store = PHOTOS / "Hiker_in_red_cap.jpg", tmp_path / "g.sqlite"  # a small face from a video frame
    for name in ("Cap", "Twin"):
        caplog.clear()
        assert main(["gallery", "add", name, str(photo), "--gallery", str(store),
                     "--model", str(untrained_model_file), "--device", "cpu"]) == 0
        hints = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
        assert hints[0].startswith(f"{photo}: small face (eyes 21 px apart")
    assert hints[-1] == f"{photo}: Twin looks like Cap (cos 1.00): recognition may confuse them"
