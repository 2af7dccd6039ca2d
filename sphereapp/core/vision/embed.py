"""Aligned face crops -> L2-normalised embeddings, fusing each face with its mirror image."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sphereapp.core.vision.align import CROP_SIZE
from sphereapp.core.vision.modelfile import ModelInfo, load_embedder
from sphereapp.core.vision.models import normalize_input

log = logging.getLogger(__name__)


class Embedder:
    """Runs an embedding network in inference mode on one device, in batches, with flip fusion."""

    def __init__(
        self,
        model: nn.Module,
        info: ModelInfo,
        device: torch.device | str,
        batch_size: int = 64,
        fp16: bool | None = None,
        bf16: bool | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.info = info
        self.device = torch.device(device)
        self.batch_size = batch_size
        if fp16 and self.device.type != "cuda":
            log.warning("fp16 inference is only used on CUDA: embedding in float32 on %s", self.device)
        self.fp16 = self.device.type == "cuda" and fp16 is not False
        # bfloat16 autocast on CPUs oneDNN runs it on: much faster, and as good as float32 (docs/MEASURED.md).
        self.bf16 = self.device.type == "cpu" and bf16 is not False and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        # channels_last: normalize_input already yields that layout, and convolutions run faster in it.
        self.model = model.to(device=self.device, memory_format=torch.channels_last).eval()

    @classmethod
    def from_file(
        cls, path: str | Path, device: torch.device | str, batch_size: int = 64, fp16: bool | None = None
    ) -> Embedder:
        """Load a weights file (see modelfile.load_embedder) and wrap it."""
        model, info = load_embedder(path, device)
        return cls(model, info, device, batch_size=batch_size, fp16=fp16)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """uint8 (N,112,96,3) RGB crops -> float32 (N,D) L2-normalised embeddings."""
        crop_shape = (*CROP_SIZE, 3)
        if not isinstance(crops, np.ndarray) or crops.dtype != np.uint8 or crops.shape[1:] != crop_shape:
            described = f"{crops.dtype} {crops.shape}" if isinstance(crops, np.ndarray) else type(crops).__name__
            raise ValueError(f"expected uint8 crops of shape (N, {CROP_SIZE[0]}, {CROP_SIZE[1]}, 3), got {described}")
        if len(crops) == 0:
            return np.zeros((0, self.info.embedding_size), dtype=np.float32)
        batches = (crops[start : start + self.batch_size] for start in range(0, len(crops), self.batch_size))
        return np.concatenate([self._embed_batch(batch) for batch in batches])

    @torch.inference_mode()
    def _embed_batch(self, crops: np.ndarray) -> np.ndarray:
        """One forward pass over the crops and their mirror images; returns their fused, normalised embeddings."""
        images = normalize_input(torch.from_numpy(np.ascontiguousarray(crops)).to(self.device))
        dtype = torch.float16 if self.fp16 else torch.bfloat16
        with torch.autocast(device_type=self.device.type, dtype=dtype, enabled=self.fp16 or self.bf16):
            features = self.model(torch.cat([images, images.flip(3)])).float()
        fused = features[: len(crops)] + features[len(crops) :]  # embedding(x) + embedding(flip(x))
        return F.normalize(fused, dim=1).cpu().numpy()
