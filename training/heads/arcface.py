"""ArcFace / additive angular margin (Deng et al. CVPR 2019, Eq. 3)."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from training.heads.base import CosineHead, HeadOutput, margin_logits
from training.heads.registry import register_head


def additive_angular_margin(cos: Tensor, m: float) -> Tensor:
    """cos(theta + m) while theta + m <= pi, else the linear fallback cos theta - m sin m.

    The fallback keeps the target logit decreasing in theta past pi - m (insightface arcface_torch
    losses.py, non-easy-margin form).
    """
    sin = torch.sqrt((1.0 - cos * cos).clamp_min(1e-12))
    cos_theta_plus_m = cos * math.cos(m) - sin * math.sin(m)
    return torch.where(cos > math.cos(math.pi - m), cos_theta_plus_m, cos - m * math.sin(m))


@register_head("arcface")
class ArcFace(CosineHead):
    """Logits s cos(theta_y + m) for the target, s cos theta_j for the others; cross-entropy."""

    def __init__(self, feat_dim: int, num_classes: int, s: float = 30.0, m: float = 0.5) -> None:
        super().__init__(feat_dim, num_classes)
        self.s, self.m = s, m

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Cross-entropy over s cos(theta + m [j = y]) (Eq. 3)."""
        logits = margin_logits(self.cosine(features), labels, lambda cos_y: additive_angular_margin(cos_y, self.m), self.s)
        return HeadOutput(F.cross_entropy(logits, labels), logits.detach())
