"""Classification heads (losses) for training: build one by name with `build_head`.

Every head is `head(features (N, D), labels (N,)) -> HeadOutput(loss, logits)`; call
`head.set_iteration(it)` before each step (A-Softmax anneals lambda with it; other heads ignore it).
"""

from training.heads import arcface, asoftmax, cosface, softmax, sphereface2  # noqa: F401  (registers heads)
from training.heads.base import ClassifierHead, HeadOutput
from training.heads.registry import available_heads, build_head, register_head
from training.heads.sphereface2 import sphereface2_bias_init, sphereface2_loss_terms

__all__ = [
    "ClassifierHead",
    "HeadOutput",
    "available_heads",
    "build_head",
    "register_head",
    "sphereface2_bias_init",
    "sphereface2_loss_terms",
]
