"""SphereFace residual networks (Liu et al., CVPR 2017, Table 2), as in wy1iu/sphereface's Caffe prototxt.

Four stages of 64/128/256/512 channels. Each stage opens with a 3x3 stride-2 conv + PReLU and continues
with residual units [conv3x3-PReLU-conv3x3-PReLU] + identity; no BatchNorm. fc5 maps the 512x7x6 map of a
112x96 crop to the embedding.
"""

import math
from functools import partial

import torch
from torch import nn

from sphereapp.core.vision.models.registry import register_model

STAGE_CHANNELS = (64, 128, 256, 512)
UNITS_PER_STAGE = {4: (0, 0, 0, 0), 20: (1, 2, 4, 1), 36: (2, 4, 8, 2), 64: (3, 8, 16, 3)}
INPUT_SIZE = (112, 96)  # (height, width) of an aligned crop
FEATURE_MAP_SIZE = (INPUT_SIZE[0] // 16, INPUT_SIZE[1] // 16)  # after four stride-2 convs: 7x6
PRELU_INIT = 0.25  # Caffe's PReLU default, one slope per channel


def caffe_xavier_(weight: torch.Tensor) -> None:
    """Caffe's 'xavier' filler: U(-a, a) with a = sqrt(3 / fan_in) (its default variance_norm FAN_IN)."""
    bound = math.sqrt(3.0 / weight[0].numel())
    nn.init.uniform_(weight, -bound, bound)


class ConvPReLU(nn.Module):
    """3x3 conv (pad 1) + per-channel PReLU, initialised as the prototxt does (unless `initialise` is False)."""

    def __init__(self, in_channels: int, out_channels: int, opens_stage: bool, initialise: bool = True):
        super().__init__()
        stride = 2 if opens_stage else 1
        # Unit convs have a Caffe bias blob fixed at 0 (lr_mult 0): the same as having no bias.
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=opens_stage)
        self.prelu = nn.PReLU(out_channels, init=PRELU_INIT)
        if not initialise:
            return
        if opens_stage:  # conv{s}_1: xavier weights, learnable bias starting at 0
            caffe_xavier_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)
        else:  # conv{s}_{2..}: gaussian std 0.01
            nn.init.normal_(self.conv.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.conv(x))


class ResidualUnit(nn.Module):
    """x + PReLU(conv(PReLU(conv(x)))): the prototxt's res{s}_{k} Eltwise sum."""

    def __init__(self, channels: int, initialise: bool = True):
        super().__init__()
        self.conv1 = ConvPReLU(channels, channels, opens_stage=False, initialise=initialise)
        self.conv2 = ConvPReLU(channels, channels, opens_stage=False, initialise=initialise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class Stage(nn.Module):
    """A stride-2 conv that halves the resolution, then `units` residual units."""

    def __init__(self, in_channels: int, out_channels: int, units: int, initialise: bool = True):
        super().__init__()
        self.downsample = ConvPReLU(in_channels, out_channels, opens_stage=True, initialise=initialise)
        self.units = nn.Sequential(*(ResidualUnit(out_channels, initialise) for _ in range(units)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.units(self.downsample(x))


class SphereFaceNet(nn.Module):
    """SphereFace-`depth` (4/20/36/64): float (N,3,112,96) normalised crops -> (N, embedding_size), not normalised.

    `initialise=False` skips the prototxt's fillers, for a network whose weights are loaded next (on the "meta"
    device a Gaussian filler would also import torch's compiler at start-up).
    """

    def __init__(self, depth: int, embedding_size: int = 512, initialise: bool = True):
        super().__init__()
        if depth not in UNITS_PER_STAGE:
            raise ValueError(f"SphereFace depth must be one of {sorted(UNITS_PER_STAGE)}, not {depth}")
        self.depth = depth
        self.embedding_size = embedding_size
        in_channels = (3, *STAGE_CHANNELS[:-1])
        self.stages = nn.Sequential(
            *(Stage(i, o, n, initialise) for i, o, n in zip(in_channels, STAGE_CHANNELS, UNITS_PER_STAGE[depth]))
        )
        self.fc5 = nn.Linear(STAGE_CHANNELS[-1] * FEATURE_MAP_SIZE[0] * FEATURE_MAP_SIZE[1], embedding_size)
        if initialise:
            caffe_xavier_(self.fc5.weight)
            nn.init.zeros_(self.fc5.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc5(torch.flatten(self.stages(x), 1))


def normalize_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,H,W,3) -> float32 (N,3,H,W) as (x - 127.5) / 128 (Caffe mean 127.5, scale 0.0078125).

    The result is a channels_last view of the NHWC data, so channels_last models need no copy.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images (N,H,W,3), got {images.dtype} {tuple(images.shape)}")
    return images.permute(0, 3, 1, 2).float().sub_(127.5).div_(128.0)


for _depth in UNITS_PER_STAGE:
    register_model(f"sphereface{_depth}")(partial(SphereFaceNet, _depth))
