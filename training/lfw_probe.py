"""Verification benchmark of a model (LFW View 2 or any pair list): aligned crops detected once and cached.

Used by `fit` (LFW during and after training) and by `sphereapp-train eval`; `cached_crops` also serves the
open-set evaluation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.files import save_npy
from sphereapp.core.locations import app_data_dir
from sphereapp.core.vision.align import CROP_SIZE
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.models import normalize_input
from training.evaluation import (
    VerificationPairs,
    VerificationReport,
    best_threshold,
    cosine_scores,
    evaluate_pairs,
)
from training.prepare import CHUNK, detect_and_align, read_rgb

FALLBACK_HEIGHT = 0.7  # no face found: take the central crop of this height fraction (LFW faces are centred)


@dataclass
class ProbeResult:
    """The paper-protocol report (concat features) and the best threshold for the app's flip-fused cosine."""

    report: VerificationReport
    app_threshold: float


class PairsProbe:
    """Embeds the pairs' images with a model and scores them as wy1iu/sphereface evaluation.m does."""

    def __init__(self, pairs: VerificationPairs, cache_path: Path, device: torch.device, batch_size: int = 256):
        self.pairs = pairs
        self.paths = list(dict.fromkeys(p for pair in pairs.pairs for p in pair))
        self.device = device
        self.batch_size = batch_size
        self.crops = cached_crops(self.paths, Path(cache_path), device)
        self.row = {path: i for i, path in enumerate(self.paths)}  # each image's row in `crops`

    def embeddings(self, backbone: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """Raw f(x) and f(flip x) of every image, rows as in `crops`."""
        plain = embed_crops(backbone, self.crops, self.device, self.batch_size)
        flipped = embed_crops(backbone, np.ascontiguousarray(self.crops[:, :, ::-1]), self.device, self.batch_size)
        return plain, flipped

    def evaluate(self, backbone: nn.Module) -> ProbeResult:
        """Accuracy on concat(f(x), f(flip x)) (paper); threshold on normalise(f(x) + f(flip x)) (the app)."""
        plain, flipped = self.embeddings(backbone)
        row = self.row
        concat = np.concatenate([plain, flipped], axis=1)
        report = evaluate_pairs(self.pairs.pairs, self.pairs.same, self.pairs.folds,
                                lambda paths: concat[[row[p] for p in paths]])
        fused = plain + flipped
        left = fused[[row[a] for a, _ in self.pairs.pairs]]
        right = fused[[row[b] for _, b in self.pairs.pairs]]
        return ProbeResult(report, best_threshold(cosine_scores(left, right), self.pairs.same))


@torch.inference_mode()
def embed_crops(backbone: nn.Module, crops: np.ndarray, device: torch.device, batch_size: int = 256) -> np.ndarray:
    """Raw (unnormalised) float32 embeddings of aligned uint8 NHWC crops, in batches."""
    parts = []
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(crops[start:start + batch_size]).to(device)
        parts.append(backbone(normalize_input(batch)).float().cpu().numpy())
    return np.concatenate(parts)


def default_cache_path(source: Path, kind: str) -> Path:
    """Where the aligned crops of an evaluation set are cached when no --cache is given: the per-user sphereapp
    data folder (never inside the data set, which may be read-only), named by the set's resolved path."""
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    return app_data_dir() / "cache" / f"{kind}-{digest}.crops112x96.npy"


def cached_crops(paths: list[Path], cache_path: Path, device: torch.device) -> np.ndarray:
    """Aligned crops of `paths`, read from `cache_path` when it holds these images, else detected and saved there.

    A sidecar file `<cache>.sha256` names the image list the cache was made from.
    """
    key = hashlib.sha256("\n".join(str(p.resolve()) for p in paths).encode()).hexdigest()
    key_path = cache_path.with_name(cache_path.name + ".sha256")
    if cache_path.is_file() and key_path.is_file() and key_path.read_text(encoding="utf-8").strip() == key:
        return np.load(cache_path)
    detector = FaceDetector(device=device)
    crops = np.zeros((len(paths), *CROP_SIZE, 3), np.uint8)
    missing = 0
    for start in tqdm(range(0, len(paths), CHUNK), desc="align pair images", unit="chunk"):
        chunk = paths[start:start + CHUNK]
        images = [read_rgb(p) for p in chunk]
        unreadable = [str(p) for p, image in zip(chunk, images) if image is None]
        if unreadable:
            raise InputError(f"cannot read image '{unreadable[0]}'")
        for k, (image, crop) in enumerate(zip(images, detect_and_align(images, detector))):
            missing += crop is None
            crops[start + k] = _central_crop(image) if crop is None else crop
    if missing:
        tqdm.write(f"no face found in {missing} of {len(paths)} images; used their central region")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    save_npy(cache_path, crops)
    key_path.write_text(key, encoding="utf-8")
    return crops


def _central_crop(image: np.ndarray) -> np.ndarray:
    """The image centre at the 112:96 aspect ratio, FALLBACK_HEIGHT of the height, resized to 112x96."""
    height, width = image.shape[:2]
    crop_h = int(height * FALLBACK_HEIGHT)
    crop_w = min(width, crop_h * CROP_SIZE[1] // CROP_SIZE[0])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    region = image[top:top + crop_h, left:left + crop_w]
    return cv2.resize(region, (CROP_SIZE[1], CROP_SIZE[0]), interpolation=cv2.INTER_AREA)
