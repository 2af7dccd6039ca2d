"""Plain softmax: a linear classifier with bias and cross-entropy (the baseline)."""

import torch.nn.functional as F
from torch import Tensor, nn

from training.heads.base import ClassifierHead, HeadOutput
from training.heads.registry import register_head


@register_head("softmax")
class Softmax(ClassifierHead):
    """Logits W x + b (nn.Linear, weight (C, D)); cross-entropy."""

    def __init__(self, feat_dim: int, num_classes: int) -> None:
        super().__init__(feat_dim, num_classes)
        self.linear = nn.Linear(feat_dim, num_classes)

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Cross-entropy over the linear logits."""
        logits = self.linear(features)
        return HeadOutput(F.cross_entropy(logits, labels), logits.detach())
