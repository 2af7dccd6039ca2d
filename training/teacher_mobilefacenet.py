"""Distillation teacher: insightface's MobileFaceNet (ArcFace loss, MS1M) in ncnn format, 128-d.

It reads 112x112 RGB crops on the ArcFace template (`prepare --wide`), pixel values 0..255 (the graph subtracts
127.5 and scales by 1/128 itself), and its `fc1` output is L2-normalised. The weights are for non-commercial
research only (insightface's terms): a student distilled from them inherits that. Install with
`pip install '.[teacher]'`; the model files are not shipped (see ../shared/teachers/mobilefacenet_ms1m/).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from sphereapp.core.errors import SphereappError
from sphereapp.core.vision.align import WIDE_CROP_SIZE

MOBILEFACENET_NAME = "mobilefacenet_ms1m_arcface"
MOBILEFACENET_DIM = 128
PARAM_FILE, WEIGHTS_FILE = "mobilefacenet.param", "mobilefacenet.bin"
INPUT_BLOB, OUTPUT_BLOB = "data", "fc1"
LICENCE = "non-commercial research only (insightface pretrained models, MS1M)"


class MobileFaceNetTeacher:
    """128-d L2-normalised embeddings of 112x112 ArcFace-aligned RGB crops (ncnn, CPU)."""

    name = MOBILEFACENET_NAME
    dim = MOBILEFACENET_DIM
    licence = LICENCE

    def __init__(self, model_dir: str | Path, threads: int = 2):
        model_dir = Path(model_dir)
        missing = [name for name in (PARAM_FILE, WEIGHTS_FILE) if not (model_dir / name).is_file()]
        if missing:
            raise SphereappError(f"the MobileFaceNet teacher files {', '.join(missing)} are not in '{model_dir}'")
        try:
            self._ncnn = importlib.import_module("ncnn")
        except ModuleNotFoundError:
            raise SphereappError("the MobileFaceNet teacher needs ncnn: pip install '.[teacher]'") from None
        self._net = self._ncnn.Net()
        self._net.opt.num_threads = threads
        if self._net.load_param(str(model_dir / PARAM_FILE)) or self._net.load_model(str(model_dir / WEIGHTS_FILE)):
            raise SphereappError(f"ncnn cannot load the MobileFaceNet teacher from '{model_dir}'")

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """uint8 (N, 112, 112, 3) RGB crops -> float32 (N, 128) unit vectors."""
        if crops.dtype != np.uint8 or crops.shape[1:] != (*WIDE_CROP_SIZE, 3):
            raise ValueError(f"expected uint8 (N, 112, 112, 3) crops, got {crops.dtype} {crops.shape}")
        out = np.empty((len(crops), self.dim), np.float32)
        height, width = WIDE_CROP_SIZE
        for i, crop in enumerate(crops):
            extractor = self._net.create_extractor()
            pixels = self._ncnn.Mat.from_pixels(np.ascontiguousarray(crop), self._ncnn.Mat.PixelType.PIXEL_RGB,
                                                width, height)
            extractor.input(INPUT_BLOB, pixels)
            _, embedding = extractor.extract(OUTPUT_BLOB)
            out[i] = np.asarray(embedding, np.float32).reshape(-1)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
