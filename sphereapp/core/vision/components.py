"""Building the detector + embedder pair that the CLI, the GUI and the benchmarks share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from sphereapp.core.vision.catalog import resolve_model
from sphereapp.core.vision.detect import DetectorConfig, FaceDetector
from sphereapp.core.vision.device import describe_device, resolve_device
from sphereapp.core.vision.embed import Embedder

log = logging.getLogger(__name__)


@dataclass
class Components:
    device: torch.device
    detector: FaceDetector
    embedder: Embedder
    model_path: Path

    @property
    def model_name(self) -> str:
        return f"{self.embedder.info.architecture} ({self.model_path.name}, id {self.embedder.info.model_id})"


def load_components(
    model: str | Path | None = None,
    device: str = "auto",
    min_face_size: int = 20,
    detect_max_side: int | None = None,
) -> Components:
    """Load the embedder weights and the MTCNN detector on the chosen device and log what is used."""
    torch_device = resolve_device(device)
    model_path = resolve_model(model)
    embedder = Embedder.from_file(model_path, torch_device)
    detector = FaceDetector(DetectorConfig(min_face_size=min_face_size, max_side=detect_max_side), torch_device)
    log.info("device: %s", describe_device(torch_device))
    components = Components(torch_device, detector, embedder, model_path)
    log.info("model: %s", components.model_name)
    return components
