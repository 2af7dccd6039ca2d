"""The shipped default model: loads as the card says, tells the two demo people apart while matching each to a
re-framed copy of their own photo, and names both in the demo clip and nobody else."""

import json
from collections import defaultdict

import cv2
import numpy as np
import pytest

from sphereapp.cli import main
from sphereapp.commands import DEMO_GALLERY, DEMO_VIDEO
from sphereapp.core.identities.enrol import Enroller
from sphereapp.core.vision.calibration import far_at
from sphereapp.core.vision.catalog import default_model_path
from sphereapp.core.vision.components import load_components

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def components():
    if default_model_path() is None:
        pytest.skip("no shipped model in this checkout")
    return load_components(None, "cpu")


def test_shipped_model_is_the_calibrated_sphereface20(components):
    info = components.embedder.info
    assert (info.architecture, info.embedding_size) == ("sphereface20", 512)
    assert "LFW open-set" in info.calibration and abs(far_at(info.far_curve, info.threshold) - 0.01) < 0.002
    assert "excluded" in info.training_data


def test_demo_people_are_told_apart_and_found_again(components, tmp_path):
    enroller = Enroller(components.detector, components.embedder)
    photos = sorted(DEMO_GALLERY.glob("*.jpg"))
    originals = [enroller.enrol_image(photo).embedding for photo in photos]
    reframed = []
    for photo in photos:  # the same photo, 1.3x larger and shifted: detection, alignment and embedding run again
        image = cv2.imread(str(photo))
        bigger = cv2.resize(image, None, fx=1.3, fy=1.3, interpolation=cv2.INTER_CUBIC)
        shifted = cv2.copyMakeBorder(bigger, 17, 0, 11, 0, cv2.BORDER_REFLECT)
        cv2.imwrite(str(tmp_path / photo.name), shifted)
        reframed.append(enroller.enrol_image(tmp_path / photo.name).embedding)
    scores = np.array(reframed) @ np.array(originals).T
    threshold = components.embedder.info.threshold
    assert np.all(np.diag(scores) >= threshold), scores
    assert scores[0, 1] < threshold and scores[1, 0] < threshold, scores


def test_the_demo_names_both_hikers_and_nobody_else(components, tmp_path):
    """`sphereapp demo`'s run with the shipped model and default settings. Watched by eye: the hiker in teal walks
    out of the clip by frame 40; the hiker in the red cap walks behind her, his face small over her shoulder from
    frame 22 on, then in full view once she has gone: no face before frame 22 is his."""
    log = tmp_path / "demo.json"
    assert main(["run", str(DEMO_VIDEO), "--gallery", str(DEMO_GALLERY), "-o", str(tmp_path / "demo.mp4"),
                 "--json", str(log)]) == 0
    frames_of: dict[str, set[int]] = defaultdict(set)
    tracks_of: dict[str, set[int]] = defaultdict(set)
    for frame in json.loads(log.read_text())["frames"]:
        for face in frame["faces"]:
            if face["identity"] is not None:
                frames_of[face["identity"]].add(frame["index"])
                tracks_of[face["identity"]].add(face["track"])
    assert set(frames_of) == {"Hiker in teal", "Hiker in red cap"}
    assert all(len(tracks) == 1 for tracks in tracks_of.values()), tracks_of  # one person each, no stranger
    assert max(frames_of["Hiker in teal"]) < 40
    assert min(frames_of["Hiker in red cap"]) >= 22
