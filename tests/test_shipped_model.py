"""The shipped default model: loads as the card says, and tells the two demo people apart while matching each
to a re-framed copy of their own photo."""

import cv2
import numpy as np
import pytest

from sphereapp.commands import DEMO_GALLERY
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
