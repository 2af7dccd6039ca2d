"""Embedding networks: a name registry and the SphereFace family (importing registers them)."""

from sphereapp.core.vision.models.registry import available_models, build_model, register_model
from sphereapp.core.vision.models.sphereface import SphereFaceNet, normalize_input

__all__ = ["SphereFaceNet", "available_models", "build_model", "normalize_input", "register_model"]
