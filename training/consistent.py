"""Consistent teaching: the teacher embeds, during training, the very crop the student sees.

Beyer et al., "Knowledge distillation: A good teacher is patient and consistent" (CVPR 2022): a student
matches the teacher's function best when both see the same augmented image and the augmentation is fresh every
time, rather than fixed views with cached targets. Here each bank view the batch draws (112x112, the teacher's
alignment) is augmented again, embedded by the teacher, and cut to the student's 112x96.

Their "function matching" adds mixup (Zhang et al., ICLR 2018): the teacher embeds a blend of two
images, so the student learns the teacher's function between the training images as well as on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sphereapp.core.vision.align import center_crop_112x112
from training.augment import BatchAugmenter
from training.bank import Teacher
from training.bank_data import centred_on


def open_teacher(folder: str | Path) -> Teacher:
    """The MobileFaceNet teacher in `folder`, on as many threads as training (it runs between its steps)."""
    from training.teacher_mobilefacenet import MobileFaceNetTeacher

    return MobileFaceNetTeacher(folder, threads=torch.get_num_threads())


def blend_some(images: torch.Tensor, labelled: torch.Tensor, share: float,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup of floor(share * count) of the labelled and of the other uint8 (N, H, W, 3) images, each with another
    image of the batch; returns the images and the bool (N,) mask of blends, on the generator's device."""
    n, device = len(images), generator.device
    blended = torch.zeros(n, dtype=torch.bool, device=device)
    for group in (labelled, ~labelled):  # a fixed count per group: a share < 1 leaves labelled faces for the head
        members = torch.nonzero(group.to(device)).view(-1)
        chosen = members[torch.randperm(len(members), generator=generator, device=device)]
        blended[chosen[:int(share * len(members))]] = True
    partner = (torch.arange(n, device=device)  # any image but itself
               + torch.randint(1, n, (n,), generator=generator, device=device)) % n
    lam = torch.rand(n, generator=generator, device=device).view(n, 1, 1, 1)  # one weight a blend, ~ U(0, 1)
    x = images.to(device).float()
    mixed = (lam * x + (1 - lam) * x[partner]).round_()  # mixup (Zhang et al. 2018): lam x_i + (1 - lam) x_j
    return torch.where(blended.view(n, 1, 1, 1), mixed, x).to(torch.uint8), blended


class ConsistentTeaching:
    """Fresh augmentation of 112x112 views (a `mixup_share` of them then each blended with another view) and the
    teacher's centred embedding of each resulting crop."""

    def __init__(self, teacher: Teacher, centre: np.ndarray, augment: BatchAugmenter, mixup_share: float = 0.0):
        self.teacher, self.centre, self.augment, self.mixup_share = teacher, centre, augment, mixup_share

    def __call__(self, views: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 (N, 112, 112, 3) views and their (N,) labels -> (uint8 (N, 112, 96, 3) student crops, float32
        (N, D) targets, labels with -1 (distillation only) for the blends), on the CPU; the augmentation runs on
        its generator's device."""
        augmented = self.augment(views.to(self.augment.generator.device))
        if self.mixup_share:
            augmented, blended = blend_some(augmented, labels >= 0, self.mixup_share, self.augment.generator)
            labels = labels.masked_fill(blended.cpu(), -1)
        augmented = augmented.cpu().numpy()
        targets = centred_on(self.teacher.embed(augmented), self.centre).astype(np.float32)
        return torch.from_numpy(center_crop_112x112(augmented)), torch.from_numpy(targets), labels
