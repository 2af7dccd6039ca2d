"""Similarity fitting (exact, least squares, reflection-safe) and warping faces onto the 112x96 template."""

import math

import numpy as np
import pytest
from scipy.optimize import least_squares

from sphereapp.core.vision.align import (
    CROP_SIZE,
    TEMPLATE_112x96,
    align_face,
    align_faces,
    center_crop_112x112,
    similarity_transform,
)


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """(2,3) matrix of x -> scale * R(angle) x + t."""
    angle = math.radians(angle_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([scale * rotation, [[tx], [ty]]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def brute_force_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Numerically minimise the squared error over all rotation+scale+translation maps [[a,-b,tx],[b,a,ty]]."""

    def to_matrix(p: np.ndarray) -> np.ndarray:
        a, b, tx, ty = p
        return np.array([[a, -b, tx], [b, a, ty]])

    fit = least_squares(lambda p: (apply(to_matrix(p), src) - dst).ravel(), x0=[1.0, 0.0, 0.0, 0.0], xtol=1e-14)
    return to_matrix(fit.x)


def squared_error(matrix: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    return float(((apply(matrix, src) - dst) ** 2).sum())


def gaussian_dots(shape: tuple[int, int], centers: np.ndarray, sigma: float) -> np.ndarray:
    """An RGB uint8 image, black with a white Gaussian dot (peak 255) at each sub-pixel (x, y) centre."""
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    image = np.zeros(shape)
    for x, y in centers:
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return np.repeat(np.clip(image * 255, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)


def test_template_is_the_sphereface_one():
    assert TEMPLATE_112x96.shape == (5, 2) and TEMPLATE_112x96.dtype == np.float32
    assert CROP_SIZE == (112, 96)
    np.testing.assert_allclose(TEMPLATE_112x96[0], (30.2946, 51.6963))
    np.testing.assert_allclose(TEMPLATE_112x96[4], (62.7299, 92.2041))


@pytest.mark.parametrize(
    "angle, scale, tx, ty", [(0, 1, 0, 0), (30, 2.5, 40, -12), (-75, 0.4, -3.5, 200), (179, 1.7, 10, 10)]
)
def test_a_known_similarity_is_recovered(angle, scale, tx, ty):
    expected = similarity(angle, scale, tx, ty)
    moved = apply(expected, TEMPLATE_112x96.astype(np.float64))
    np.testing.assert_allclose(similarity_transform(TEMPLATE_112x96, moved), expected, atol=1e-4)
    inverse = similarity_transform(moved, TEMPLATE_112x96)
    np.testing.assert_allclose(apply(inverse, moved), TEMPLATE_112x96, atol=1e-4)
    assert inverse[0, 0] == pytest.approx(math.cos(math.radians(-angle)) / scale, abs=1e-4)
    assert inverse[1, 0] == pytest.approx(math.sin(math.radians(-angle)) / scale, abs=1e-4)


def test_noisy_points_give_the_least_squares_answer():
    rng = np.random.default_rng(7)
    src = apply(similarity(12, 3.0, 150, 90), TEMPLATE_112x96.astype(np.float64)) + rng.normal(0, 4, (5, 2))
    fitted = similarity_transform(src, TEMPLATE_112x96)
    reference = brute_force_fit(src, TEMPLATE_112x96)
    np.testing.assert_allclose(fitted, reference, atol=1e-4)
    assert squared_error(fitted, src, TEMPLATE_112x96) > 0.1  # the noise really makes it a fit, not a solve


def test_mirrored_points_give_a_rotation_not_a_reflection():
    mirrored = TEMPLATE_112x96 * np.array([-1.0, 1.0]) + np.array([200.0, 0.0])
    fitted = similarity_transform(mirrored, TEMPLATE_112x96)
    assert np.linalg.det(fitted[:, :2]) > 0
    reference = brute_force_fit(mirrored, TEMPLATE_112x96)
    assert squared_error(fitted, mirrored, TEMPLATE_112x96) == pytest.approx(
        squared_error(reference, mirrored, TEMPLATE_112x96), rel=1e-6
    )


def test_identical_points_are_refused():
    with pytest.raises(ValueError, match="identical"):
        similarity_transform(np.ones((5, 2)), TEMPLATE_112x96)


def test_dots_at_the_landmarks_land_on_the_template_pixels():
    landmarks = apply(similarity(25, 2.2, 130, 60), TEMPLATE_112x96.astype(np.float64))
    image = gaussian_dots((420, 400), landmarks, sigma=2.2 * 1.3)
    crop = align_face(image, landmarks.astype(np.float32))
    assert crop.shape == (112, 96, 3) and crop.dtype == np.uint8 and crop.flags.c_contiguous
    brightness = crop[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:112, :96]
    for x, y in TEMPLATE_112x96:
        window = (np.abs(xs - x) <= 6) & (np.abs(ys - y) <= 6)
        weights = brightness * window
        centroid = (weights * xs).sum() / weights.sum(), (weights * ys).sum() / weights.sum()
        np.testing.assert_allclose(centroid, (x, y), atol=0.2)
        assert brightness[round(y), round(x)] > 200


def test_pixels_from_outside_the_image_are_black():
    image = np.full((100, 100, 3), 255, dtype=np.uint8)
    landmarks = TEMPLATE_112x96 * 0.5 - 10  # the crop's top-left corner maps to (-10, -10)
    crop = align_face(image, landmarks)
    assert np.all(crop[0, 0] == 0) and np.all(crop[56, 48] == 255)


def test_align_faces_stacks_align_face():
    image = gaussian_dots((200, 200), np.array([[50.0, 60.0], [120.0, 130.0]]), sigma=5)
    landmarks = np.stack([TEMPLATE_112x96 + 10, TEMPLATE_112x96 * 1.5]).astype(np.float32)
    crops = align_faces(image, landmarks)
    assert crops.shape == (2, 112, 96, 3) and crops.dtype == np.uint8
    for crop, points in zip(crops, landmarks):
        np.testing.assert_array_equal(crop, align_face(image, points))
    assert align_faces(image, np.zeros((0, 5, 2), np.float32)).shape == (0, 112, 96, 3)


def test_align_face_refuses_non_uint8_images():
    with pytest.raises(ValueError, match="uint8"):
        align_face(np.zeros((50, 50, 3), np.float32), TEMPLATE_112x96)


def test_center_crop_drops_eight_columns_each_side():
    image = np.zeros((112, 112, 3), np.uint8)
    image[..., 0] = np.arange(112, dtype=np.uint8)  # red = column index
    crop = center_crop_112x112(image)
    assert crop.shape == (112, 96, 3) and crop.flags.c_contiguous
    assert crop[0, 0, 0] == 8 and crop[0, -1, 0] == 103
    assert center_crop_112x112(np.stack([image, image])).shape == (2, 112, 96, 3)
    with pytest.raises(ValueError, match="112"):
        center_crop_112x112(np.zeros((112, 96, 3), np.uint8))
