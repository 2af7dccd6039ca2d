"""5-point similarity alignment to SphereFace's 112x96 crop (wy1iu/sphereface preprocess/code/face_align_demo.m)."""

import cv2
import numpy as np

CROP_SIZE = (112, 96)  # (height, width)

# (x, y) of left eye, right eye, nose, left and right mouth corner in the 112x96 crop (face_align_demo.m).
# Used as pixel coordinates directly, as every Python port and insightface's 112x112 template (+8 px in x) do.
TEMPLATE_112x96 = np.array(
    [
        [30.2946, 51.6963],
        [65.5318, 51.5014],
        [48.0252, 71.7366],
        [33.5493, 92.3655],
        [62.7299, 92.2041],
    ],
    dtype=np.float32,
)
INSIGHTFACE_X_SHIFT = 8  # the 112x112 template is TEMPLATE_112x96 shifted +8 px in x
WIDE_CROP_SIZE = (112, 112)  # insightface/ArcFace crops: the same face with 8 px more on each side


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2,3) matrix [sR | t] minimising sum |sR src_i + t - dst_i|^2, no reflection (Umeyama 1991, eqs. 40-42)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"expected two (K,2) point sets of equal shape, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_centered, dst_centered = src - src_mean, dst - dst_mean
    src_variance = (src_centered**2).sum(axis=1).mean()
    if src_variance == 0:
        raise ValueError("source points are all identical: no similarity transform is defined")
    covariance = dst_centered.T @ src_centered / len(src)
    u, singular_values, vt = np.linalg.svd(covariance)
    signs = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])  # S: never a reflection
    rotation = u @ np.diag(signs) @ vt
    scale = (singular_values * signs).sum() / src_variance
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray, width: int = CROP_SIZE[1]) -> np.ndarray:
    """Warp the face with these 5 landmarks onto TEMPLATE_112x96: uint8 (112,96,3).

    `width` 112 gives the insightface 112x112 crop instead (the template centred, `WIDE_CROP_SIZE`).
    Bilinear sampling, pixels outside the image filled with 0, as MATLAB's imtransform does in the original.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H,W,3) image, got {image.dtype} {image.shape}")
    if width not in (CROP_SIZE[1], WIDE_CROP_SIZE[1]):
        raise ValueError(f"crop width must be {CROP_SIZE[1]} or {WIDE_CROP_SIZE[1]}, got {width}")
    template = TEMPLATE_112x96 + np.float32([(width - CROP_SIZE[1]) / 2, 0])
    matrix = similarity_transform(landmarks, template)
    height = CROP_SIZE[0]
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def align_faces(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Align every face of one image: landmarks (N,5,2) -> uint8 (N,112,96,3)."""
    crops = np.zeros((len(landmarks), *CROP_SIZE, 3), dtype=np.uint8)
    for crop, points in zip(crops, landmarks):
        crop[...] = align_face(image, points)
    return crops


def center_crop_112x112(image: np.ndarray) -> np.ndarray:
    """An insightface-aligned (...,112,112,3) crop -> (...,112,96,3) on TEMPLATE_112x96 (drop 8 px each side)."""
    if image.shape[-3:] != (112, 112, 3):
        raise ValueError(f"expected a (112,112,3) crop, got {image.shape}")
    width = CROP_SIZE[1]
    return np.ascontiguousarray(image[..., INSIGHTFACE_X_SHIFT : INSIGHTFACE_X_SHIFT + width, :])
