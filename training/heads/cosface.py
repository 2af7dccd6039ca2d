"""CosFace / additive cosine margin (Wang et al. CVPR 2018, Eq. 4)."""

import torch.nn.functional as F
from torch import Tensor

from training.heads.base import CosineHead, HeadOutput, margin_logits
from training.heads.registry import register_head


@register_head("cosface")
class CosFace(CosineHead):
    """Logits s (cos theta_j - m [j = y]) over unit features and weights; cross-entropy."""

    def __init__(self, feat_dim: int, num_classes: int, s: float = 30.0, m: float = 0.35) -> None:
        super().__init__(feat_dim, num_classes)
        self.s, self.m = s, m

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Cross-entropy over s (cos - m on the target class) (Eq. 4)."""
        logits = margin_logits(self.cosine(features), labels, lambda cos_y: cos_y - self.m, self.s)
        return HeadOutput(F.cross_entropy(logits, labels), logits.detach())
