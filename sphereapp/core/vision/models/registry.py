"""Embedding networks by name, so model files and configs can say which architecture they hold."""

from collections.abc import Callable

from torch import nn

ModelBuilder = Callable[..., nn.Module]

_BUILDERS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: make `builder(**kwargs) -> nn.Module` available to `build_model(name)`. Builders take
    `embedding_size` and `initialise` (False: skip the initial fillers, the weights are loaded next)."""

    def register(builder: ModelBuilder) -> ModelBuilder:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return register


def build_model(name: str, **kwargs) -> nn.Module:
    """Build the registered architecture `name` with the builder's keyword arguments."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}: available models are {', '.join(available_models())}")
    return _BUILDERS[name](**kwargs)


def available_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_BUILDERS)
