"""The head contract: `HeadOutput`, the `ClassifierHead` base class and the normalised-cosine base."""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class HeadOutput:
    """What a head returns: the scalar training loss and the (N, C) logits it was computed from (detached).

    A head whose logits do not cover every class of every row (a class-sharded head) sets `predicted`,
    the (N,) predicted class of each of its input rows.
    """

    loss: Tensor
    logits: Tensor
    predicted: Tensor | None = None

    def predictions(self) -> Tensor:
        """(N,) predicted class per input row: `predicted` when set, else the argmax of the logits."""
        return self.logits.argmax(1) if self.predicted is None else self.predicted


class ClassifierHead(nn.Module):
    """Base of every head: `forward(features (N, D), labels (N,) int64) -> HeadOutput`.

    The trainer calls `set_iteration(it)` (it = completed training iterations, from 0) before each forward;
    heads that anneal a hyperparameter (A-Softmax's lambda) read it, the others ignore it. The iteration is
    not part of the state dict: the trainer sets it again on resume.
    """

    def __init__(self, feat_dim: int, num_classes: int) -> None:
        super().__init__()
        if feat_dim < 1 or num_classes < 2:
            raise ValueError(f"a head needs feat_dim >= 1 and num_classes >= 2, got {feat_dim} and {num_classes}")
        self.feat_dim = feat_dim
        self.num_classes = num_classes
        self.iteration = 0

    def set_iteration(self, iteration: int) -> None:
        """Tell the head how many training iterations are done (used by annealed heads)."""
        if iteration < 0:
            raise ValueError(f"iteration must be >= 0, got {iteration}")
        self.iteration = iteration


class CosineHead(ClassifierHead):
    """A head on cos(theta) between features and class weights W (feat_dim, num_classes), no bias.

    W's columns are re-normalised in place at every forward, outside the graph (as Caffe's
    margin_inner_product_layer and opensphere do), so gradients are taken w.r.t. unit-norm columns.
    """

    def __init__(self, feat_dim: int, num_classes: int) -> None:
        super().__init__(feat_dim, num_classes)
        self.weight = nn.Parameter(torch.empty(feat_dim, num_classes))
        nn.init.xavier_normal_(self.weight)

    def cosine(self, features: Tensor) -> Tensor:
        """(N, C) cosines between the features and the (re-normalised) class weights."""
        with torch.no_grad():
            self.weight.copy_(F.normalize(self.weight, dim=0))
        return F.normalize(features, dim=1) @ self.weight


def margin_logits(cos: Tensor, labels: Tensor, target: Callable[[Tensor], Tensor], scale: float | Tensor) -> Tensor:
    """scale * cos theta_j for every class j except the label y, whose logit is scale * target(cos theta_y).

    The step every margin softmax shares (A-Softmax Eq. 6-7, CosFace Eq. 4, ArcFace Eq. 3): only `target`,
    the margin applied to the (N, 1) target cosines, differs between them.
    """
    index = labels.view(-1, 1)
    return scale * cos.scatter(1, index, target(cos.gather(1, index)))


def one_hot_like(cos: Tensor, labels: Tensor) -> Tensor:
    """A float (N, C) one-hot of `labels`, shaped and typed like `cos`."""
    return torch.zeros_like(cos).scatter_(1, labels.view(-1, 1), 1.0)
