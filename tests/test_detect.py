"""FaceDetector: MTCNN batching, shapes, downscaling, and results on real face photos."""

import itertools
import logging

import numpy as np
import pytest
from PIL import Image

from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.errors import SphereappError
from sphereapp.core.media.video import VideoReader
from sphereapp.core.vision import detect as detect_module, mtcnn_nets
from sphereapp.core.vision.detect import Detections, DetectorConfig, FaceDetector
from sphereapp.core.vision.mtcnn import detect_faces as real_detect_faces

from helpers import iou


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def load_rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def group_photo(shared_data) -> np.ndarray:
    return load_rgb(shared_data / "photos" / "race_group_640x428.jpg")


@pytest.fixture(scope="module")
def group_detections(detector, group_photo) -> Detections:
    return detector.detect([group_photo])[0]


@pytest.fixture(scope="module")
def faces_strip(group_photo) -> np.ndarray:
    """The band of the group photo that holds its faces: a smaller image keeps the batch tests quick."""
    return np.ascontiguousarray(group_photo[:200, :460])


@pytest.fixture(scope="module")
def lfw_face(shared_data) -> np.ndarray:
    return load_rgb(shared_data / "lfw" / "George_W_Bush" / "George_W_Bush_0001.jpg")


def assert_empty(found: Detections) -> None:
    assert len(found) == 0
    assert found.boxes.shape == (0, 4) and found.boxes.dtype == np.float32
    assert found.scores.shape == (0,) and found.scores.dtype == np.float32
    assert found.landmarks.shape == (0, 5, 2) and found.landmarks.dtype == np.float32


def assert_same(a: Detections, b: Detections) -> None:
    assert len(a) == len(b)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
    np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)


# --- without data ---------------------------------------------------------------------------------

def test_empty_detections_have_the_documented_shapes():
    assert_empty(Detections.empty())


def test_blank_image_gives_empty_detections(detector):
    (found,) = detector.detect([np.zeros((120, 160, 3), np.uint8)])
    assert_empty(found)


def test_mixed_sizes_of_blank_images_keep_order_and_count(detector):
    sizes = [(64, 48), (10, 10), (64, 48), (90, 120), (5, 300)]
    results = detector.detect([np.full((h, w, 3), 128, np.uint8) for h, w in sizes])
    assert len(results) == len(sizes)
    for found in results:
        assert_empty(found)


def test_no_images_gives_no_results(detector):
    assert detector.detect([]) == []


def test_non_rgb_uint8_input_is_rejected(detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect([np.zeros((32, 32), np.uint8)])
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect([np.zeros((32, 32, 3), np.float32)])


def test_equal_sizes_are_chunked_to_batch_size_and_pixel_budget(monkeypatch):
    detector = FaceDetector(DetectorConfig(batch_size=2, batch_pixels=3 * 60 * 60))
    batch_lengths = []

    def spy(batch, *nets, **options):
        batch_lengths.append(len(batch))
        return real_detect_faces(batch, *nets, **options)

    monkeypatch.setattr(detect_module, "detect_faces", spy)
    images = [np.zeros((40, 40, 3), np.uint8)] * 5 + [np.zeros((30, 50, 3), np.uint8)] + [np.zeros((100, 100, 3), np.uint8)] * 2
    assert len(detector.detect(images)) == 8
    assert sorted(batch_lengths) == [1, 1, 1, 1, 2, 2]  # 40x40: 2, 2, 1; 30x50: 1; 100x100: over budget, 1 and 1


def test_device_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="sphereapp.core.vision.detect"):
        FaceDetector()
    assert any("CPU" in record.getMessage() for record in caplog.records)


def test_unreadable_weights_are_a_one_line_sphereapp_error(monkeypatch, tmp_path):
    (tmp_path / "mtcnn").mkdir()
    (tmp_path / "mtcnn" / "pnet.pt").write_bytes(b"PK\x03\x04 not a zip archive")
    monkeypatch.setattr(mtcnn_nets, "shipped_path", lambda *parts: tmp_path.joinpath(*parts))
    with pytest.raises(SphereappError) as error:
        FaceDetector()
    message = str(error.value)
    assert "\n" not in message and "MTCNN" in message and "pnet.pt" in message


# --- on real photos --------------------------------------------------------------------------------

@pytest.mark.data
def test_lfw_face_is_centred_with_landmarks_inside(detector, lfw_face):
    (found,) = detector.detect([lfw_face])
    assert len(found) >= 1
    box, points = found.boxes[0], found.landmarks[0]
    height, width = lfw_face.shape[:2]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    assert np.abs(centre - [width / 2, height / 2]).max() < 0.1 * width
    assert found.scores[0] > 0.95
    assert (points[:, 0] >= box[0]).all() and (points[:, 0] <= box[2]).all()
    assert (points[:, 1] >= box[1]).all() and (points[:, 1] <= box[3]).all()
    left_eye, right_eye, nose = points[0], points[1], points[2]
    assert left_eye[0] < nose[0] < right_eye[0]


@pytest.mark.data
def test_group_photo_finds_several_faces_inside_the_image(group_detections, group_photo):
    found = group_detections
    height, width = group_photo.shape[:2]
    assert len(found) >= 5
    assert (found.boxes[:, [0, 1]] >= 0).all()
    assert (found.boxes[:, 2] <= width).all() and (found.boxes[:, 3] <= height).all()
    assert (found.boxes[:, 2] > found.boxes[:, 0]).all() and (found.boxes[:, 3] > found.boxes[:, 1]).all()
    assert (np.diff(found.scores) <= 0).all()
    assert (found.landmarks[:, 0, 0] < found.landmarks[:, 1, 0]).all()


@pytest.mark.data
def test_batch_of_equal_size_frames_equals_per_image_results(detector, faces_strip):
    mirrored = np.ascontiguousarray(faces_strip[:, ::-1])
    batched = detector.detect([faces_strip, mirrored, faces_strip])
    alone = detector.detect([faces_strip])[0]
    assert len(alone) >= 5
    assert_same(batched[0], alone)
    assert_same(batched[1], detector.detect([mirrored])[0])
    assert_same(batched[2], alone)


@pytest.mark.data
def test_mixed_sizes_keep_order(detector, group_photo, group_detections, lfw_face):
    blank = np.zeros_like(lfw_face)
    results = detector.detect([lfw_face, group_photo, blank, lfw_face])
    assert_same(results[0], detector.detect([lfw_face])[0])
    assert_same(results[1], group_detections)
    assert_empty(results[2])
    assert_same(results[3], results[0])


@pytest.mark.data
def test_max_side_downscale_maps_boxes_back_to_full_resolution(group_detections, group_photo):
    full = group_detections
    (small,) = FaceDetector(DetectorConfig(max_side=480)).detect([group_photo])
    assert len(small) >= 3
    for box, points in zip(small.boxes, small.landmarks):
        best = max(iou(box, other) for other in full.boxes)
        # A 1-px resampling shift moves a 10-px box a lot; faces of min_face_size and up must agree closely.
        assert best > (0.8 if box[2] - box[0] >= DetectorConfig().min_face_size else 0.5)
        assert (points[:, 0] > box[0]).all() and (points[:, 0] < box[2]).all()


@pytest.fixture(scope="module")
def demo_frames_and_faces(detector) -> tuple[list[np.ndarray], list[Detections]]:
    """Every 15th of the demo clip's first 120 frames and their faces found by a whole-frame scan."""
    with VideoReader(DEMO_VIDEO) as reader:
        frames = [frame.image for frame in itertools.islice(reader, 0, 120, 15)]
    return frames, detector.detect(frames)


def test_search_near_expected_boxes_finds_the_scanned_faces(detector, demo_frames_and_faces):
    frames, scanned = demo_frames_and_faces
    assert sum(len(found) for found in scanned) >= 8
    moved = [found.boxes + 0.12 * (found.boxes[:, 2:3] - found.boxes[:, 0:1]) for found in scanned]  # off by 12%
    for found, near in zip(scanned, detector.detect_near(frames, moved)):
        faces = found.scores > 0.9  # the scan's 0.74 "face" in frame 15 is a pair of knees: no need to find it again
        boxes, landmarks = found.boxes[faces], found.landmarks[faces]
        assert len(near) == len(boxes)
        for box in boxes:  # the same face (16-50 px wide: 2 px move a box by 0.1 of its side)
            assert max(iou(box, other) for other in near.boxes) > 0.6
        side = boxes[:, 2] - boxes[:, 0]
        nearest = [np.argmax([iou(box, other) for other in near.boxes]) for box in boxes]
        error = np.abs(near.landmarks[nearest] - landmarks).max(axis=(1, 2))
        assert np.all(error < 0.15 * side)


def test_search_finds_nothing_without_expected_boxes_or_far_from_faces(detector, demo_frames_and_faces):
    frames, scanned = demo_frames_and_faces
    [nothing] = detector.detect_near(frames[:1], [np.zeros((0, 4), np.float32)])
    assert_empty(nothing)
    height, width = frames[0].shape[:2]
    empty_corner = np.array([[0, height - 40, 40, height]], np.float32)
    assert not any(iou(box, empty_corner[0]) > 0 for box in scanned[0].boxes)  # the clip has no face there
    [far] = detector.detect_near(frames[:1], [empty_corner])
    assert_empty(far)


def test_search_needs_one_box_list_per_image(detector, demo_frames_and_faces):
    with pytest.raises(ValueError):
        detector.detect_near(demo_frames_and_faces[0][:2], [np.zeros((0, 4), np.float32)])
