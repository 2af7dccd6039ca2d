"""Enrolment hints: a face that is small, blurred or turned aside, and a new person who looks like an enrolled one.

Hints, not errors, one line each. The limits, for MTCNN landmarks and 112x96 aligned crops:
- MIN_EYE_DISTANCE_PX: the crop puts the eyes 35 px apart (TEMPLATE_112x96); eyes closer than 24 px in the photo
  mean the crop is enlarged about 1.5x or more, so it holds less detail than the network was trained on.
- MIN_SHARPNESS, the variance of the Laplacian of the grey crop (Pech-Pacheco et al. 2000): none of 120 LFW photos
  is below it (1st percentile 49, median 161); blurring the photos with a Gaussian of sigma 1.5 px puts 62% of
  them below it, sigma 2 px 82%.
- MAX_NOSE_OFFSET, the nose's distance from the line through the eye and mouth midpoints over the eye distance,
  grows with yaw: for 60 CFP people it is at most 0.13 in their frontal photos and above 0.25 in every profile
  one (LFW: median 0.08, 12% above 0.25).
"""

from __future__ import annotations

import cv2
import numpy as np

from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.match import match

MIN_EYE_DISTANCE_PX = 24.0
MIN_SHARPNESS = 40.0
MAX_NOSE_OFFSET = 0.25


def eye_distance(landmarks: np.ndarray) -> float:
    """Pixels between the eye centres of (5, 2) landmarks (left eye, right eye, nose, mouth corners)."""
    return float(np.linalg.norm(landmarks[1] - landmarks[0]))


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of an RGB crop in grey: low for a blurred face."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def nose_offset(landmarks: np.ndarray) -> float:
    """Distance of the nose from the face's midline (eye midpoint to mouth midpoint), in eye distances: 0 frontal."""
    points = np.asarray(landmarks, np.float64)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    axis = (mouth - eyes) / max(np.linalg.norm(mouth - eyes), 1e-9)
    nose = points[2] - eyes
    return float(abs(nose[0] * axis[1] - nose[1] * axis[0]) / max(eye_distance(points), 1e-9))


def face_warnings(crop: np.ndarray, landmarks: np.ndarray) -> list[str]:
    """Hints about one face to enrol: its aligned crop and its (5, 2) landmarks in the photo."""
    warnings = []
    if (eyes := eye_distance(landmarks)) < MIN_EYE_DISTANCE_PX:
        warnings.append(f"small face (eyes {eyes:.0f} px apart, {MIN_EYE_DISTANCE_PX:.0f}+ recommended): "
                        "a closer photo enrols better")
    if (sharp := sharpness(crop)) < MIN_SHARPNESS:
        warnings.append(f"blurred face (sharpness {sharp:.0f}, {MIN_SHARPNESS:.0f}+ recommended): "
                        "a sharper photo enrols better")
    if (offset := nose_offset(landmarks)) > MAX_NOSE_OFFSET:
        warnings.append(f"face turned aside (nose {offset:.0%} of the eye distance off-centre, "
                        f"{MAX_NOSE_OFFSET:.0%} at most recommended): a frontal photo enrols better")
    return warnings


def lookalike_warnings(name: str, embedding: np.ndarray, gallery: Gallery, threshold: float) -> list[str]:
    """One hint per enrolled person whose cosine with the new embedding reaches the threshold, most similar first."""
    scores = match(np.asarray(embedding, np.float32)[None], gallery.embeddings, threshold).scores[0]
    return [f"{name} looks like {gallery.names[row]} (cos {scores[row]:.2f}): recognition may confuse them"
            for row in np.argsort(-scores) if scores[row] >= threshold]
