"""Consistent teaching: the teacher embeds, during training, the very crop the student sees.

Beyer et al., "Knowledge distillation: A good teacher is patient and consistent" (CVPR 2022), Sec. 3: a student
matches the teacher's function best when both see the same augmented image and the augmentation is fresh every
time, rather than fixed views with cached targets. Here each bank view the batch draws (112x112, the teacher's
alignment) is augmented again, embedded by the teacher, and cut to the student's 112x96.
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


class ConsistentTeaching:
    """Fresh augmentation of 112x112 views and the teacher's centred embedding of each augmented crop."""

    def __init__(self, teacher: Teacher, centre: np.ndarray, augment: BatchAugmenter):
        self.teacher, self.centre, self.augment = teacher, centre, augment

    def __call__(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, 112, 112, 3) views -> (uint8 (N, 112, 96, 3) student crops, float32 (N, D) targets), on the
        CPU; the augmentation runs on its generator's device."""
        augmented = self.augment(views.to(self.augment.generator.device)).cpu().numpy()
        targets = centred_on(self.teacher.embed(augmented), self.centre).astype(np.float32)
        return torch.from_numpy(center_crop_112x112(augmented)), torch.from_numpy(targets)
