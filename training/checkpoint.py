"""Training checkpoints: atomic save, safe load (weights_only), and the RNG states an exact resume needs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sphereapp.core.errors import InputError
from sphereapp.core.files import replacing

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` with torch.save to a temp file beside `path`, then rename it over `path`."""
    with replacing(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: Path, purpose: str = "cannot resume") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (tensors and plain values only; no code is unpickled);
    an InputError starting with `purpose` when there is none or it is unreadable."""
    if not path.is_file():
        raise InputError(f"{purpose}: no checkpoint at '{path}'")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise InputError(f"{purpose}: checkpoint '{path}' is unreadable ({type(error).__name__})") from None


def capture_rng_states(augment_generator: torch.Generator) -> dict[str, Any]:
    """The states of every random source the training loop draws from."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.copy()), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "augment": augment_generator.get_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any], augment_generator: torch.Generator) -> None:
    """Put back the states saved by `capture_rng_states`."""
    random.setstate(_as_tuples(states["python"]))
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy(), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    augment_generator.set_state(states["augment"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate wants nested tuples; a round trip through a checkpoint may give lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
