"""MTCNN's three networks, P-Net, R-Net and O-Net (Zhang et al., IEEE SPL 2016), and their shipped weights.

Layer names and shapes are facenet-pytorch's (`models/mtcnn.py`, MIT), so its trained state dicts, shipped in
`sphereapp/assets/mtcnn/` (see the README there), load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sphereapp.core.errors import ModelFileError
from sphereapp.core.locations import shipped_path

WEIGHTS_FOLDER = "mtcnn"


class CeilMaxPool(nn.Module):
    """nn.MaxPool2d(kernel, 2, ceil_mode=True), value for value, as element-wise maxima of strided views, rows then
    columns: several times faster than max_pool2d's kernel on channels-last tensors."""

    def __init__(self, kernel: int):
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dim in (2, 3):
            x = self._pool_axis(x, dim)
        return x

    def _pool_axis(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """Windows of `kernel` every 2 along `dim`; with ceil_mode the last may run past the edge."""
        length = x.shape[dim]
        windows = (length - self.kernel + 1) // 2 + 1

        def tap(offset: int) -> torch.Tensor:  # element `offset` of each window that reaches it
            count = min(windows, (length - offset + 1) // 2)
            index = [slice(None)] * x.dim()
            index[dim] = slice(offset, offset + 2 * count - 1, 2)
            return x[tuple(index)]

        first, second = tap(0), tap(1)
        pooled = torch.maximum(first.narrow(dim, 0, second.shape[dim]), second)
        if pooled.shape[dim] < windows:  # the last window holds its first element only
            pooled = torch.cat([pooled, first.narrow(dim, pooled.shape[dim], windows - pooled.shape[dim])], dim)
        for offset in range(2, self.kernel):
            later = tap(offset)
            reached = pooled.narrow(dim, 0, later.shape[dim])
            reached.clamp_(min=later)  # in place: the element-wise maximum
        return pooled


class PNet(nn.Module):
    """Proposal network: fully convolutional over a whole image -> per 12x12 window (stride 2) box regression
    (B, 4, h, w) and face / not-face probabilities (B, 2, h, w)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = CeilMaxPool(2)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refinement network on 24x24 crops -> box regression (K, 4) and probabilities (K, 2)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = CeilMaxPool(3)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = CeilMaxPool(3)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten(x)))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output network on 48x48 crops -> box regression (K, 4), five landmarks (K, 10: x1..x5, y1..y5, as fractions
    of the box) and probabilities (K, 2)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = CeilMaxPool(3)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = CeilMaxPool(3)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = CeilMaxPool(2)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(_flatten(x)))
        return self.dense6_2(x), self.dense6_3(x), F.softmax(self.dense6_1(x), dim=1)


def _flatten(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, W*H*C): the order the ported weights' dense layers expect."""
    return x.permute(0, 3, 2, 1).contiguous().view(len(x), -1)


def load_mtcnn(device: torch.device) -> tuple[PNet, RNet, ONet]:
    """The three networks with their shipped weights on `device`, in eval mode; a one-line `ModelFileError`
    when a weights file is missing or unreadable."""
    nets = []
    for net in (PNet(), RNet(), ONet()):
        path = shipped_path(WEIGHTS_FOLDER, f"{type(net).__name__.lower()}.pt")
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # missing, truncated, not a state dict, wrong shapes: all mean "no detector"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"cannot load the MTCNN face detector weights {path}: {reason}") from exc
        nets.append(net.to(device).eval())
    return tuple(nets)
