"""Batched training augmentation on the training device: uint8 NHWC in, uint8 NHWC out.

Every random draw comes from one seeded `torch.Generator`, so a run (and a resumed run) is repeatable.
The steps mimic faces cut from video: mirrored, slightly mis-aligned, differently lit, small and soft.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.config import AugmentConfig

BLUR_KERNEL = 7  # radius 3 px: 2 sigma at the largest default sigma (1.5 px)
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights for R, G, B


class BatchAugmenter:
    """Apply the random steps of an `AugmentConfig` to a batch, each image drawing its own parameters."""

    def __init__(self, config: AugmentConfig, generator: torch.Generator):
        self.config = config
        self.generator = generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Augment uint8 (N, H, W, 3) images; returns a new uint8 (N, H, W, 3) tensor on the same device."""
        c = self.config
        x = images.permute(0, 3, 1, 2).float()
        x = torch.where(self._chosen(len(x), c.flip_p), x.flip(3), x)
        if c.affine_p > 0:
            x = self._scale_shift(x)
        if c.downscale_p > 0:
            x = self._downscale(x)
        if c.blur_p > 0:
            x = self._blur(x)
        if c.colour_p > 0:
            x = self._colour(x)
        if c.gray_p > 0:
            x = torch.where(self._chosen(len(x), c.gray_p), _gray(x).expand_as(x), x)
        return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        """n draws from U(low, high) on the generator's device."""
        u = torch.rand(n, generator=self.generator, device=self.generator.device)
        return low + (high - low) * u

    def _chosen(self, n: int, p: float) -> torch.Tensor:
        """Boolean mask (n, 1, 1, 1): which images take a step that has probability p."""
        return (self._uniform(n, 0.0, 1.0) < p).view(n, 1, 1, 1)

    def _scale_shift(self, x: torch.Tensor) -> torch.Tensor:
        """Zoom by up to +-max_scale and shift by up to +-max_shift_px, sampling with grid_sample."""
        c, (n, _, height, width) = self.config, x.shape
        on = self._chosen(n, c.affine_p).view(n).float()
        scale = 1 + on * self._uniform(n, -c.max_scale, c.max_scale)
        shift_x = on * self._uniform(n, -c.max_shift_px, c.max_shift_px) * 2 / width
        shift_y = on * self._uniform(n, -c.max_shift_px, c.max_shift_px) * 2 / height
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
        theta[:, 0, 2], theta[:, 1, 2] = shift_x, shift_y
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _downscale(self, x: torch.Tensor) -> torch.Tensor:
        """Shrink the chosen images by one random factor for the batch and blow them back up (lost detail)."""
        low, high = self.config.downscale_range
        factor = float(self._uniform(1, low, high))
        size = x.shape[-2:]
        small = F.interpolate(x, scale_factor=factor, mode="area")
        soft = F.interpolate(small, size=size, mode="bilinear", align_corners=False)
        return torch.where(self._chosen(len(x), self.config.downscale_p), soft, x)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur with a per-image sigma (grouped convolution, one kernel per image)."""
        n, channels, height, width = x.shape
        low, high = self.config.blur_sigma
        sigma = self._uniform(n, low, high).clamp_min(1e-3)
        taps = torch.arange(BLUR_KERNEL, device=x.device) - BLUR_KERNEL // 2
        kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None] ** 2))
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(channels, 0)
        flat = F.pad(x.reshape(1, n * channels, height, width), [BLUR_KERNEL // 2] * 4, mode="replicate")
        flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * channels)
        flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * channels)
        blurred = flat.view(n, channels, height, width)
        return torch.where(self._chosen(n, self.config.blur_p), blurred, x)

    def _colour(self, x: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast and saturation factors in 1 +- the configured amounts."""
        c, n = self.config, len(x)
        on = self._chosen(n, c.colour_p).float()

        def factor(amount: float) -> torch.Tensor:
            return 1 + on * self._uniform(n, -amount, amount).view(n, 1, 1, 1)

        x = x * factor(c.brightness)
        mean = _gray(x).mean(dim=(2, 3), keepdim=True)
        x = mean + (x - mean) * factor(c.contrast)
        gray = _gray(x)
        return gray + (x - gray) * factor(c.saturation)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """Luma (N, 1, H, W) of float RGB (N, 3, H, W)."""
    weights = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)
