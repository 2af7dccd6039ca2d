"""SphereFace2 with its classes sharded over the processes of a data-parallel run (model parallelism).

SphereFace2's loss is a sum of one binary term per class, and the term of class i needs only W_i
(Wen et al. ICLR 2022, Appendix C). So each rank holds a contiguous slice of W's columns, gathers every
rank's features and labels, computes its slice's terms for the whole global batch, and the partial
losses add up to the full one: no (N, C) logits are ever gathered. The scalar bias b is replicated.

One step equals data parallelism with the unsharded head (DDP averaging the ranks' gradients):
W's slice and b get the gradients of the global-batch loss L; this rank's features get
world_size * dL/dfeatures, the gradient of its local-batch loss, which the backbone's DDP then averages.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from training.heads.base import HeadOutput
from training.heads.sphereface2 import SphereFace2, sphereface2_loss_terms


def class_shard(num_classes: int, rank: int, world_size: int) -> slice:
    """The classes of `rank`: contiguous, sizes differing by at most one (the first ranks get the extra)."""
    size, extra = divmod(num_classes, world_size)
    start = rank * size + min(rank, extra)
    return slice(start, start + size + (rank < extra))


class _GatherRows(torch.autograd.Function):
    """All ranks' (n, ...) tensors concatenated in rank order; backward: the summed gradient of this
    rank's rows, times world_size (see the module docstring)."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group: dist.ProcessGroup | None) -> Tensor:
        ctx.group, ctx.rows = group, tensor.shape[0]
        return _all_gather_rows(tensor, group)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = dist.get_rank(ctx.group) * ctx.rows
        return grad[start:start + ctx.rows] * dist.get_world_size(ctx.group), None


class _SumGradOverRanks(torch.autograd.Function):
    """Identity whose backward sums the gradient over ranks: keeps a replicated parameter in sync."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group: dist.ProcessGroup | None) -> Tensor:
        ctx.group = group
        return tensor.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class ShardedSphereFace2(SphereFace2):
    """SphereFace2-C whose W holds only this rank's classes (`self.classes`); call it on every rank.

    Built like `SphereFace2` (the full W is drawn with the same random numbers, then sliced), so a sharded
    run starts from the weights an unsharded one would. Every rank's batch must have the same size.
    `forward` returns the full loss (identical on every rank), the logits of this rank's classes for the
    global batch (N_global, C_slice), and `predicted`: the best class over all ranks for each local row.
    """

    def __init__(self, feat_dim: int, num_classes: int, alpha: float = 0.7, r: float = 30.0, m: float = 0.4,
                 t: float = 3.0, lw: float = 50.0, group: dist.ProcessGroup | None = None) -> None:
        super().__init__(feat_dim, num_classes, alpha, r, m, t, lw)
        self.group = group
        self.rank, self.world_size = dist.get_rank(group), dist.get_world_size(group)
        if num_classes < self.world_size:
            raise ValueError(f"cannot shard {num_classes} classes over {self.world_size} processes")
        self.classes = class_shard(num_classes, self.rank, self.world_size)
        self.weight = torch.nn.Parameter(self.weight.detach()[:, self.classes].clone())

    def forward(self, features: Tensor, labels: Tensor) -> HeadOutput:
        """This slice's terms over the global batch (Appendix C); the loss value is their sum over ranks."""
        all_features = _GatherRows.apply(features, self.group)
        all_labels = _all_gather_rows(labels, self.group)
        cos = self.cosine(all_features)
        bias = _SumGradOverRanks.apply(self.bias, self.group)
        partial, logits = sphereface2_loss_terms(cos, self._one_hot(all_labels, cos), bias,
                                                 self.alpha, self.r, self.m, self.t, self.lw)
        total = partial.detach().clone()
        dist.all_reduce(total, group=self.group)
        loss = partial + (total - partial.detach())  # value: the full loss; gradients: this slice's terms
        return HeadOutput(loss, logits.detach(), self._predict(logits.detach(), len(labels)))

    def full_states(self, optimizer: torch.optim.Optimizer) -> tuple[dict, dict] | None:
        """(head state dict, optimizer state dict) as an unsharded run holds them, on rank 0; None elsewhere.

        Collective: every rank calls it. W and W's per-element optimizer state (e.g. SGD momentum) are
        gathered column-wise to rank 0, so checkpoints look the same with and without sharding.
        """
        head_state, optimizer_state = self.state_dict(), optimizer.state_dict()
        index = _state_index(optimizer, self.weight)
        weight_state = optimizer_state["state"].get(index, {})
        full_weight = self._gather_columns(head_state["weight"])
        full_weight_state = {key: self._gather_columns(value) if self._is_columns(value) else value
                             for key, value in weight_state.items()}
        if self.rank != 0:
            return None
        return ({**head_state, "weight": full_weight},
                _replace_state(optimizer_state, index, full_weight_state) if weight_state else optimizer_state)

    def local_states(self, head_state: dict, optimizer_state: dict,
                     optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
        """This rank's slices of state dicts written by `full_states` (or by an unsharded run), to load."""
        index = _state_index(optimizer, self.weight)
        full_shape = (self.feat_dim, self.num_classes)
        weight_state = {key: value[:, self.classes] if tuple(getattr(value, "shape", ())) == full_shape else value
                        for key, value in optimizer_state["state"].get(index, {}).items()}
        return ({**head_state, "weight": head_state["weight"][:, self.classes]},
                _replace_state(optimizer_state, index, weight_state) if weight_state else optimizer_state)

    def _one_hot(self, labels: Tensor, cos: Tensor) -> Tensor:
        """(N, C_slice) one-hot of the labels that fall in this rank's classes (other rows are all zero)."""
        local = labels - self.classes.start
        width = cos.shape[1]
        column = torch.where((local >= 0) & (local < width), local, width)  # out of slice -> a dropped column
        return torch.zeros(cos.shape[0], width + 1, dtype=cos.dtype, device=cos.device).scatter_(
            1, column.view(-1, 1), 1.0)[:, :width]

    def _predict(self, logits: Tensor, local_rows: int) -> Tensor:
        """Global argmax class of this rank's rows, from each rank's best logit and class (no logit gather)."""
        best, column = logits.max(1)
        candidates = torch.stack([best.double(), (column + self.classes.start).double()])  # (2, N_global)
        gathered = [torch.empty_like(candidates) for _ in range(self.world_size)]
        dist.all_gather(gathered, candidates, group=self.group)
        scores, classes = torch.stack(gathered, 1)  # (W, N_global) each
        winner = scores.argmax(0, keepdim=True)  # ties: the lowest rank, i.e. the lowest class, as argmax does
        predicted = classes.gather(0, winner)[0].long()
        start = self.rank * local_rows
        return predicted[start:start + local_rows]

    def _is_columns(self, value: object) -> bool:
        return isinstance(value, Tensor) and value.shape == self.weight.shape

    def _gather_columns(self, tensor: Tensor) -> Tensor | None:
        """Every rank's (D, C_slice) columns concatenated on rank 0 (None elsewhere); slices may differ by one."""
        widths = [len(range(self.num_classes)[class_shard(self.num_classes, r, self.world_size)])
                  for r in range(self.world_size)]
        padded = torch.zeros(tensor.shape[0], widths[0], dtype=tensor.dtype, device=tensor.device)
        padded[:, :tensor.shape[1]] = tensor
        chunks = [torch.empty_like(padded) for _ in widths] if self.rank == 0 else None
        dist.gather(padded, chunks, group=self.group, group_dst=0)
        return None if chunks is None else torch.cat([c[:, :w] for c, w in zip(chunks, widths, strict=True)], 1)


def _all_gather_rows(tensor: Tensor, group: dist.ProcessGroup | None) -> Tensor:
    """Concatenation of every rank's equally sized tensor, in rank order (no gradient)."""
    chunks = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
    dist.all_gather(chunks, tensor.contiguous(), group=group)
    return torch.cat(chunks)


def _state_index(optimizer: torch.optim.Optimizer, parameter: Tensor) -> int:
    """The key of `parameter` in `optimizer.state_dict()["state"]` (its position over all param groups)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    return next(i for i, p in enumerate(params) if p is parameter)


def _replace_state(optimizer_state: dict, index: int, entry: dict) -> dict:
    """A copy of an optimizer state dict with parameter `index`'s state replaced (the original is live)."""
    return {**optimizer_state, "state": {**optimizer_state["state"], index: entry}}
