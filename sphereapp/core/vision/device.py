"""Choosing the compute device, and saying which one is used."""

import logging

import torch

from sphereapp.core.errors import InputError

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' (or 'cuda:N') into a torch.device; auto picks CUDA when present."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA GPU is visible to PyTorch")
    if choice != "cpu" and not choice.startswith("cuda"):
        raise InputError(f"unknown device {choice!r}: use one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    """Human-readable device name, e.g. 'CUDA: NVIDIA H100' or 'CPU (2 threads)'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"
