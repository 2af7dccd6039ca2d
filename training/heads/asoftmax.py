"""A-Softmax (SphereFace, Liu et al. CVPR 2017): the original head and opensphere's modernised variant."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from training.heads.base import CosineHead, HeadOutput, margin_logits
from training.heads.registry import register_head


def asoftmax_lambda(
    iteration: int, base: float = 1000.0, gamma: float = 0.12, power: float = 1.0, lambda_min: float = 5.0
) -> float:
    """Annealed lambda = max(lambda_min, base (1 + gamma it)^-power) (Caffe margin_inner_product_layer.cpp).

    Caffe increments its counter before use, so its k-th forward (from 1) uses it = k; here `iteration`
    is the number of completed iterations.
    """
    return max(lambda_min, base * (1.0 + gamma * iteration) ** (-power))


def chebyshev_cos_multiple(cos: Tensor, m: int) -> Tensor:
    """cos(m theta) as the Chebyshev polynomial T_m(cos theta), e.g. T_4 = 8c^4 - 8c^2 + 1 (Caffe)."""
    previous, current = torch.ones_like(cos), cos
    for _ in range(m - 1):
        previous, current = current, 2 * cos * current - previous
    return current


def _interval_index(m_theta: Tensor, max_k: float = math.inf) -> tuple[Tensor, Tensor]:
    """k = floor(m theta / pi) (at most max_k) and (-1)^k, the branch of psi (Liu et al. Eq. 6)."""
    k = torch.floor(m_theta / math.pi).clamp(max=max_k)
    return k, 1.0 - 2.0 * torch.remainder(k, 2.0)


def asoftmax_psi(cos: Tensor, m: int) -> Tensor:
    """psi(theta) = (-1)^k cos(m theta) - 2k, theta in [k pi/m, (k+1) pi/m] (Eq. 6), differentiable in cos.

    The branch k comes from acos outside the graph; cos(m theta) is a polynomial in cos, so gradients
    flow through psi exactly.
    """
    with torch.no_grad():
        # max_k: theta = pi exactly would give k = m
        k, sign = _interval_index(m * torch.acos(cos.clamp(-1.0, 1.0)), max_k=m - 1)
    return sign * chebyshev_cos_multiple(cos, m) - 2.0 * k


def angular_margin_psi(cos: Tensor, m: float) -> Tensor:
    """psi with a real multiplicative margin m, computed outside the graph (opensphere sphereface.py)."""
    with torch.no_grad():
        m_theta = m * torch.acos(cos.clamp(-1.0 + 1e-5, 1.0 - 1e-5))
        k, sign = _interval_index(m_theta)
        return sign * torch.cos(m_theta) - 2.0 * k


@register_head("asoftmax")
class ASoftmax(CosineHead):
    """Original A-Softmax (Eq. 6-7, Caffe margin_inner_product_layer): unit-norm W, no bias, integer m.

    Target logit f_y = |x| (lambda cos theta_y + psi(theta_y)) / (1 + lambda), other logits |x| cos theta_j;
    lambda is annealed with `set_iteration` (see `asoftmax_lambda`). Gradients are exact (autograd); Caffe's
    hand-written backward instead rescales the target term's gradient w.r.t. x to unit coefficients and
    gives W the plain inner-product gradient.
    """

    def __init__(
        self,
        feat_dim: int,
        num_classes: int,
        m: int = 4,
        base: float = 1000.0,
        gamma: float = 0.12,
        power: float = 1.0,
        lambda_min: float = 5.0,
    ) -> None:
        super().__init__(feat_dim, num_classes)
        if m not in (1, 2, 3, 4):
            raise ValueError(f"A-Softmax margin m must be 1, 2, 3 or 4, got {m}")
        self.m = int(m)
        self.base, self.gamma, self.power, self.lambda_min = base, gamma, power, lambda_min

    @property
    def lambda_(self) -> float:
        """The annealed lambda at the current iteration."""
        return asoftmax_lambda(self.iteration, self.base, self.gamma, self.power, self.lambda_min)

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Cross-entropy over the A-Softmax logits."""
        lambda_ = self.lambda_

        def target(cos_y: Tensor) -> Tensor:
            return (lambda_ * cos_y + asoftmax_psi(cos_y, self.m)) / (1.0 + lambda_)

        logits = margin_logits(self.cosine(features), labels, target, features.norm(dim=1, keepdim=True))
        return HeadOutput(F.cross_entropy(logits, labels), logits.detach())


@register_head("asoftmax_os")
class ASoftmaxOpenSphere(CosineHead):
    """opensphere's SphereFace head: unit features and W, logit s psi(m theta_y) with a real margin m.

    The margin offset psi - cos is computed outside the graph ("SphereFace Revived" gradient detachment):
    logits = s (cos + (psi - cos).detach()).
    """

    def __init__(self, feat_dim: int, num_classes: int, s: float = 30.0, m: float = 1.5) -> None:
        super().__init__(feat_dim, num_classes)
        self.s, self.m = s, m

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """Cross-entropy over s (cos + detached margin offset on the target class)."""
        def target(cos_y: Tensor) -> Tensor:
            fixed = cos_y.detach()
            return cos_y + (angular_margin_psi(fixed, self.m) - fixed)

        logits = margin_logits(self.cosine(features), labels, target, self.s)
        return HeadOutput(F.cross_entropy(logits, labels), logits.detach())
