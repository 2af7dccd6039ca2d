"""Embedder weights files: safetensors whose metadata describes the model; plain .pt/.pth state dicts read safely."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as serialize
from torch import nn

from sphereapp.core.errors import ModelFileError
from sphereapp.core.files import replacing
from sphereapp.core.vision.calibration import FarCurve, check_far_curve, describe_threshold
from sphereapp.core.vision.models import available_models, build_model

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pt", ".pth")
MODEL_SUFFIXES = (".safetensors", *TORCH_SUFFIXES)
REQUIRED_KEYS = ("architecture", "embedding_size", "threshold", "training_data")
UNCALIBRATED_THRESHOLD = 0.3  # only for bare .pt state dicts, which carry no calibrated threshold
MODEL_ID_HEX_CHARS = 16


@dataclass
class ModelInfo:
    """What a weights file holds; stored as its safetensors metadata (all values as strings)."""

    architecture: str
    embedding_size: int
    threshold: float
    training_data: str
    recipe: str = ""
    lfw: str = ""
    model_id: str = ""  # computed from the tensors by save_embedder / load_embedder
    far_curve: FarCurve = ()  # open-set (threshold, FAR) points (core/vision/calibration.py); () when not calibrated
    calibration: str = ""  # where far_curve was measured, e.g. "LFW open-set, seed 0, ..."
    licence: str = ""  # terms of use the weights carry (e.g. inherited from a distillation teacher); "" = none stated

    def to_metadata(self) -> dict[str, str]:
        """The info as safetensors metadata (str -> str; far_curve as JSON)."""
        return {key: json.dumps(value) if key == "far_curve" else str(value) for key, value in asdict(self).items()}

    def describe(self) -> str:
        """What the file says about the model, one fact a line, for people (the GUI's "About the model")."""
        lines = [f"{self.architecture}, {self.embedding_size}-d embedding, model id {self.model_id or 'unknown'}"]
        lines += [f"{label}: {value}" for label, value in (
            ("Trained on", self.training_data), ("Recipe", self.recipe), ("Verification when trained", self.lfw),
            ("Licence", self.licence)) if value]
        meaning = describe_threshold(self.far_curve, self.threshold)
        lines.append(f"Recommended threshold: {self.threshold:.3f} ({meaning}"
                     + (f"; measured on {self.calibration})" if self.calibration else ")"))
        return "\n".join(lines)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> ModelInfo:
        """Parse metadata written by to_metadata; ValueError names what is missing or malformed."""
        missing = [key for key in REQUIRED_KEYS if key not in metadata]
        if missing:
            raise ValueError(f"not a sphereapp embedder (metadata lacks {', '.join(missing)})")
        values = {field.name: metadata[field.name] for field in fields(cls) if field.name in metadata}
        try:
            values["embedding_size"] = int(values["embedding_size"])
            values["threshold"] = float(values["threshold"])
        except ValueError:
            raise ValueError(
                f"bad metadata (embedding_size {values['embedding_size']!r}, threshold {values['threshold']!r})"
            ) from None
        if "far_curve" in values:
            try:
                values["far_curve"] = check_far_curve(json.loads(values["far_curve"]))
            except ValueError as error:
                raise ValueError(f"bad metadata ({error})") from None
        return cls(**values)


def compute_model_id(tensors: Mapping[str, torch.Tensor]) -> str:
    """First 16 hex chars of sha256 over each tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:MODEL_ID_HEX_CHARS]


def save_embedder(path: str | Path, model: nn.Module, info: ModelInfo, fp16: bool = True) -> ModelInfo:
    """Write the model's weights (fp16 by default) and info atomically; returns the info with its model_id."""
    path = Path(path)
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {
        name: tensor.detach().to("cpu", dtype if tensor.is_floating_point() else tensor.dtype).contiguous()
        for name, tensor in model.state_dict().items()
    }
    try:
        _check_fit(tensors, _build(info.architecture, info.embedding_size), info)
    except ValueError as error:
        raise ModelFileError(f"cannot save model '{path}': {error}") from None
    saved = replace(info, model_id=compute_model_id(tensors))
    try:
        _write_atomically(tensors, saved.to_metadata(), path)
    except OSError as error:
        raise ModelFileError(f"cannot save model '{path}': {error.strerror or error}") from error
    return saved


def load_embedder(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Read a .safetensors (or a plain .pt/.pth state dict) into its float32 architecture, in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"cannot load model '{path}': file not found")
    try:
        tensors, info = _read(path)
        model = _build(info.architecture, info.embedding_size)
        _check_fit(tensors, model, info)
    except ValueError as error:
        raise ModelFileError(f"cannot load model '{path}': {error}") from None
    model.load_state_dict({name: tensor.float() if tensor.is_floating_point() else tensor
                           for name, tensor in tensors.items()}, assign=True)
    return model.to(device).eval(), info


def write_calibration(
    source: str | Path, target: str | Path, *, threshold: float, far_curve: FarCurve, calibration: str
) -> ModelInfo:
    """Write `source`'s tensors bit for bit (its model_id stays) with a new threshold and open-set calibration.

    `target` must be a .safetensors file; it is written atomically and may be `source` itself.
    """
    source, target = Path(source), Path(target)
    if target.suffix != ".safetensors":
        raise ModelFileError(f"cannot write model '{target}': its name must end in .safetensors")
    if not source.is_file():
        raise ModelFileError(f"cannot load model '{source}': file not found")
    try:
        tensors, info = _read(source)
        _check_fit(tensors, _build(info.architecture, info.embedding_size), info)
        calibrated = replace(info, threshold=float(threshold), far_curve=check_far_curve(far_curve),
                             calibration=calibration)
    except ValueError as error:
        raise ModelFileError(f"cannot load model '{source}': {error}") from None
    try:
        _write_atomically(tensors, calibrated.to_metadata(), target)
    except OSError as error:
        raise ModelFileError(f"cannot save model '{target}': {error.strerror or error}") from error
    return calibrated


def read_model_info(path: str | Path) -> ModelInfo:
    """What a model file says about itself, without building the network (a .safetensors file's tensors are not
    read: its model_id is the stored one); ModelFileError when it is not a model file."""
    path = Path(path)
    try:
        if path.suffix in TORCH_SUFFIXES:
            return _read_torch(path)[1]
        with safe_open(path, framework="pt", device="cpu") as file:
            return ModelInfo.from_metadata(file.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"cannot read model '{path}': {_first_line(error)}") from None


def _read(path: Path) -> tuple[dict[str, torch.Tensor], ModelInfo]:
    """Tensors as stored and the info of a .pt/.pth state dict or a .safetensors file; ValueError otherwise."""
    return _read_torch(path) if path.suffix in TORCH_SUFFIXES else _read_safetensors(path)


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], ModelInfo]:
    """Tensors as stored and the checked info; ValueError with the reason otherwise."""
    try:
        with safe_open(path, framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except (SafetensorError, OSError) as error:
        raise ValueError(f"not a valid safetensors file ({_first_line(error)})") from None
    info = ModelInfo.from_metadata(metadata)
    model_id = compute_model_id(tensors)
    if info.model_id and info.model_id != model_id:
        raise ValueError(f"tensor data is corrupt (its checksum {model_id} differs from the stored {info.model_id})")
    return tensors, replace(info, model_id=model_id)


def _read_torch(path: Path) -> tuple[dict[str, torch.Tensor], ModelInfo]:
    """A state dict or {"state_dict": ..., "info": {...}} via torch.load(weights_only=True): never runs code."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many kinds: UnpicklingError, RuntimeError, EOFError, ...
        if "GLOBAL" in str(error):  # the weights-only unpickler refused a reference to a class or function
            raise ValueError("it holds Python objects other than tensors, which are never unpickled") from None
        raise ValueError(f"not a PyTorch weights file ({type(error).__name__})") from None
    is_wrapped = isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict)
    tensors = checkpoint["state_dict"] if is_wrapped else checkpoint
    if not isinstance(tensors, dict) or not all(isinstance(value, torch.Tensor) for value in tensors.values()):
        raise ValueError("not a state dict of tensors")
    metadata = checkpoint.get("info") if is_wrapped else None
    info = ModelInfo.from_metadata(metadata) if isinstance(metadata, dict) else _infer_info(tensors)
    return tensors, replace(info, model_id=compute_model_id(tensors))


def _infer_info(tensors: Mapping[str, torch.Tensor]) -> ModelInfo:
    """The registered architecture whose names and shapes the tensors fit, with an uncalibrated threshold."""
    head = tensors.get("fc5.weight")
    if head is None or head.dim() != 2:
        raise ValueError("not a sphereapp embedder state dict (no fc5.weight)")
    embedding_size = head.shape[0]
    for architecture in available_models():
        if _fit_problem(tensors, _build(architecture, embedding_size)) is None:
            log.warning("'%s' has no calibrated threshold: using %s", architecture, UNCALIBRATED_THRESHOLD)
            return ModelInfo(architecture, embedding_size, UNCALIBRATED_THRESHOLD, training_data="unknown")
    raise ValueError(f"its tensors fit none of the architectures {', '.join(available_models())}")


def _build(architecture: str, embedding_size: int) -> nn.Module:
    """`architecture` on the "meta" device without its initial fillers (shapes only, nothing allocated: its weights
    are loaded next, or only its shapes are read); ValueError when it is not registered."""
    if architecture not in available_models():
        raise ValueError(f"unknown architecture {architecture!r} (available: {', '.join(available_models())})")
    with torch.device("meta"):
        return build_model(architecture, embedding_size=embedding_size, initialise=False)


def _check_fit(tensors: Mapping[str, torch.Tensor], model: nn.Module, info: ModelInfo) -> None:
    """ValueError saying how the tensors differ from the model's state dict in names or shapes."""
    problem = _fit_problem(tensors, model)
    if problem:
        architecture = f"{info.architecture} with embedding size {info.embedding_size}"
        raise ValueError(f"tensors do not fit {architecture} ({problem})")


def _fit_problem(tensors: Mapping[str, torch.Tensor], model: nn.Module) -> str | None:
    """Which names are missing or unexpected and which shapes differ from the model's; None when all fit."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    reshaped = [
        f"{name} is {tuple(tensors[name].shape)} not {tuple(expected[name].shape)}"
        for name in sorted(expected.keys() & tensors.keys())
        if tensors[name].shape != expected[name].shape
    ]
    details = [
        f"{label} {_first_few(names)}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("shape:", reshaped))
        if names
    ]
    return "; ".join(details) or None


def _write_atomically(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`; no partial file is ever left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary, open(temporary, "xb") as file:  # umask modes, unlike save_file's 0600
        file.write(serialize(tensors, metadata=metadata))
        file.flush()
        os.fsync(file.fileno())


def _first_few(items: list[str], limit: int = 3) -> str:
    """'a, b, c (+4 more)'."""
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message (library messages can span many lines)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
