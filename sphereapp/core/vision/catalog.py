"""The models a user can pick: the shipped default (or $SPHEREAPP_MODEL) and the files in their models folder.

`--model` takes a path, or the name of a model in the user's models folder (`$SPHEREAPP_HOME/models/NAME`,
`.safetensors` optional); `installed_models` lists them with what each file says about itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sphereapp.core.errors import ModelFileError
from sphereapp.core.locations import DEFAULT_MODEL_FILE, shipped_path, user_models_dir
from sphereapp.core.vision.modelfile import MODEL_SUFFIXES, ModelInfo, read_model_info

MODEL_ENV = "SPHEREAPP_MODEL"


@dataclass(frozen=True)
class InstalledModel:
    """A model file a user can pick, what it says about itself (None: unreadable, with the reason) and whether
    it is the default."""

    name: str
    path: Path
    info: ModelInfo | None
    problem: str
    is_default: bool


def default_model_path() -> Path | None:
    """$SPHEREAPP_MODEL, else the model shipped in the package when it is there, else None."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    shipped = shipped_path(DEFAULT_MODEL_FILE)
    return shipped if shipped.is_file() else None


def resolve_model(spec: str | Path | None) -> Path:
    """The weights file for `--model SPEC`: a path, a model name in the user's models folder, or (None) the
    default; ModelFileError saying where it looked otherwise."""
    if spec is None:
        default = default_model_path()
        if default is None:
            raise ModelFileError("no model: pass --model WEIGHTS.safetensors (no default SphereFace model is installed)")
        return default
    path = Path(spec).expanduser()
    if path.is_file() or path.parent != Path("."):
        return path
    folder = user_models_dir()
    for candidate in (folder / path.name, *(folder / f"{path.name}{suffix}" for suffix in MODEL_SUFFIXES)):
        if candidate.is_file():
            return candidate
    raise ModelFileError(f"cannot load model '{spec}': no such file, and no model of that name in '{folder}' "
                         "('sphereapp models' lists the installed ones)")


def installed_models() -> list[InstalledModel]:
    """The default model first (when there is one), then every model file in the user's models folder."""
    default = default_model_path()
    folder = user_models_dir()
    paths = [default] if default is not None else []
    if folder.is_dir():
        paths += sorted(p for p in folder.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file() and p != default)
    models = []
    for path in paths:
        try:
            info, problem = read_model_info(path), ""
        except ModelFileError as error:
            info, problem = None, str(error)
        models.append(InstalledModel(path.stem, path, info, problem, path == default))
    return models
