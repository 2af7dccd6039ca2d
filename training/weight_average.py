"""An exponential moving average of a network's weights, the copy to evaluate and ship.

After each step avg <- decay * avg + (1 - decay) * weights, with the decay warmed up as
min(decay, (1 + n) / (10 + n)) over the n updates so far (TensorFlow's ExponentialMovingAverage with num_updates),
so that a run from random weights does not drag its start along.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The averaged copy of `network` (same architecture, eval mode, no gradients) and its update rule."""

    def __init__(self, network: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the averaging decay must be between 0 and 1, got {decay}")
        self.decay = decay
        self.updates = 0
        self.network = copy.deepcopy(network).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses (warmed up over the first updates)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        """Move the average towards `network`'s current weights; integer buffers are copied."""
        weight = 1.0 - self.current_decay()
        averaged = self.network.state_dict()
        for name, value in network.state_dict().items():
            if value.is_floating_point():
                averaged[name].lerp_(value.detach(), weight)
            else:
                averaged[name].copy_(value)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"weights": self.network.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
