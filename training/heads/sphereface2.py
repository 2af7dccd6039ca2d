"""SphereFace2 (Wen et al. ICLR 2022): one-vs-all binary classification, "type C" margin (opensphere)."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.heads.base import CosineHead, HeadOutput, one_hot_like
from training.heads.registry import register_head


def sphereface2_bias_init(num_classes: int, alpha: float, r: float, m: float, t: float) -> float:
    """Closed-form initial bias (opensphere sphereface2.py): the root of dL/db when every cos is 0.

    With z = alpha / ((1 - alpha)(C - 1)) and the target / non-target logits r g(0) -+ r m, solving
    alpha sigmoid(-(a_y + b)) = (1 - alpha)(C - 1) sigmoid(a_i + b) for b gives this expression.
    """
    z = alpha / ((1.0 - alpha) * (num_classes - 1.0))
    a_y = r * (2.0 * 0.5**t - 1.0 - m)
    a_i = r * (2.0 * 0.5**t - 1.0 + m)
    return math.log(2.0 * z) - a_i - math.log(1.0 - z + math.sqrt((1.0 - z) ** 2 + 4.0 * z * math.exp(a_y - a_i)))


def sphereface2_loss_terms(
    cos: Tensor, one_hot: Tensor, bias: Tensor, alpha: float, r: float, m: float, t: float, lw: float
) -> tuple[Tensor, Tensor]:
    """(loss, logits) of SphereFace2-C over the classes (columns) of `cos` (N, C_slice).

    g(cos) = 2((cos + 1)/2)^t - 1, margin -m for the target and +m for the others, applied outside the
    graph (opensphere "type C"); logit = r (cos + (g -+ m - cos).detach()) + b; loss = alpha-weighted
    binary cross-entropy (Wen et al. Sec. 3) scaled by lw / (r N). The loss of class i needs only cos[:, i],
    so summing this over disjoint class slices (e.g. one per GPU) gives the full loss and gradients.
    """
    with torch.no_grad():
        g = 2.0 * ((cos + 1.0) / 2.0).pow(t) - 1.0 - m * (2.0 * one_hot - 1.0)
        offset = g - cos
    logits = r * (cos + offset) + bias
    weight = alpha * one_hot + (1.0 - alpha) * (1.0 - one_hot)
    # opensphere: mean over N*C times lw*C/r, i.e. a sum times lw/(r N), which splits over class slices.
    bce = F.binary_cross_entropy_with_logits(logits, one_hot, weight=weight, reduction="sum")
    return bce * (lw / (r * cos.shape[0])), logits


@register_head("sphereface2")
class SphereFace2(CosineHead):
    """SphereFace2-C head: unit-norm W (re-normalised each step), learnable scalar bias b (closed-form init)."""

    def __init__(
        self,
        feat_dim: int,
        num_classes: int,
        alpha: float = 0.7,
        r: float = 30.0,
        m: float = 0.4,
        t: float = 3.0,
        lw: float = 50.0,
    ) -> None:
        super().__init__(feat_dim, num_classes)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"SphereFace2 alpha must be in (0, 1), got {alpha}")
        self.alpha, self.r, self.m, self.t, self.lw = alpha, r, m, t, lw
        self.bias = nn.Parameter(torch.tensor(sphereface2_bias_init(num_classes, alpha, r, m, t)))

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Weighted one-vs-all binary cross-entropy over all classes."""
        cos = self.cosine(features)
        loss, logits = sphereface2_loss_terms(
            cos, one_hot_like(cos, labels), self.bias, self.alpha, self.r, self.m, self.t, self.lw
        )
        return HeadOutput(loss, logits.detach())
