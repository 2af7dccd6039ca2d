"""Head registry: `register_head(name)`, `build_head(name, feat_dim, num_classes, **hyperparams)`."""

from collections.abc import Callable

from training.heads.base import ClassifierHead

_HEADS: dict[str, type[ClassifierHead]] = {}


def register_head(name: str) -> Callable[[type[ClassifierHead]], type[ClassifierHead]]:
    """Class decorator that registers a head under `name`."""

    def register(head_class: type[ClassifierHead]) -> type[ClassifierHead]:
        if name in _HEADS:
            raise ValueError(f"head '{name}' is already registered")
        _HEADS[name] = head_class
        return head_class

    return register


def build_head(name: str, feat_dim: int, num_classes: int, **hyperparams: float) -> ClassifierHead:
    """Instantiate the head registered as `name`; unknown names raise ValueError listing the known ones."""
    if name not in _HEADS:
        raise ValueError(f"unknown head '{name}'; available: {', '.join(available_heads())}")
    return _HEADS[name](feat_dim, num_classes, **hyperparams)


def available_heads() -> list[str]:
    """Registered head names, sorted."""
    return sorted(_HEADS)
