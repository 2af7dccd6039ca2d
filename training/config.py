"""Training configuration: dataclasses loaded from TOML (stdlib tomllib), with `key.sub=value` overrides.

Paths in a config (data.train_dir, teacher.embeddings, eval.lfw_dir) are relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from sphereapp.core.errors import InputError


@dataclass
class ModelConfig:
    """The embedding network, by its registry name (see `sphereapp.core.vision.models.available_models()`)."""

    backbone: str = "sphereface20"
    embedding_size: int = 512


@dataclass
class HeadConfig:
    """The classification head (loss), by its registry name, with its keyword arguments.

    `shard_classes`: under torchrun, split SphereFace2's classes over the processes (model parallelism).
    """

    name: str = "asoftmax"
    params: dict = field(default_factory=dict)
    shard_classes: bool = False


@dataclass
class OptimConfig:
    """SGD with momentum; weight decay applies to weights, not biases (as the paper's Caffe solver)."""

    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4


@dataclass
class ScheduleConfig:
    """Per-iteration learning-rate factor: linear warm-up, then step decay or cosine decay to `min_lr_ratio`."""

    kind: str = "step"
    milestones: list = field(default_factory=list)
    gamma: float = 0.1
    warmup_iters: int = 0
    min_lr_ratio: float = 0.0


@dataclass
class DataConfig:
    """Prepared training data (`sphereapp-train prepare` output) and how batches are drawn from it."""

    train_dir: str = ""
    batch_size: int = 256
    num_workers: int = 2
    balanced: bool = False
    samples_per_class: int = 4


@dataclass
class AugmentConfig:
    """Batched on-device augmentation; every `*_p` is a per-image probability (0 turns the step off)."""

    flip_p: float = 0.5
    affine_p: float = 0.0
    max_scale: float = 0.08
    max_shift_px: float = 6.0
    colour_p: float = 0.0
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    blur_p: float = 0.0
    blur_sigma: list = field(default_factory=lambda: [0.5, 1.5])
    downscale_p: float = 0.0
    downscale_range: list = field(default_factory=lambda: [0.3, 0.7])
    gray_p: float = 0.0


@dataclass
class TeacherConfig:
    """Optional distillation: a .npy (N, T) of teacher embeddings, one row per line of the data's list.tsv.

    `embeddings` None or "" (e.g. `--set teacher.embeddings=""`): no distillation.
    """

    embeddings: str | None = None
    weight: float = 1.0


@dataclass
class DistillConfig:
    """Optional embedding distillation from a bank (`sphereapp-train bank`): each face is drawn as one of its
    cached views, and the student's embedding, through a learned linear map into the teacher's space, is pulled
    towards the teacher's embedding of that same view (cosine loss); `relational_weight` > 0 also pulls the
    student's own in-batch cosines towards the teacher's. `selection` says which faces and classes;
    the margin head sees only the labelled ones. Without `online_teacher`, online augmentation is off: the cached
    views are the augmentation.
    `teachers` {name: share} distils from several teachers the bank holds (`bank add-teacher`), each through its
    own linear map, the losses weighted by the shares. `online_teacher` (the MobileFaceNet folder of a bank
    built with it): consistent teaching instead of cached targets, each drawn view augmented afresh with
    `augment` and embedded by the teacher as the student sees it (`training.consistent`); `mixup_share` of its
    faces then blended with another face of the batch, for distillation only. `bank` None or "": off.
    """

    bank: str | None = None
    selection: str | None = None
    weight: float = 1.0
    relational_weight: float = 0.0  # also match the in-batch cosine matrices of the 512-d embeddings
    unlabelled_per_batch: int = 8
    source_share: dict = field(default_factory=dict)  # {source: share of the labelled people drawn from it}
    teachers: dict = field(default_factory=dict)  # {teacher: share of both losses}; {}: the bank's own teacher
    online_teacher: str | None = None  # the bank teacher's model folder; None or "": cached targets
    mixup_share: float = 0.0  # with online_teacher: share of the faces blended with another (function matching)


@dataclass
class EvalConfig:
    """LFW View-2 verification during and after training.

    `lfw_dir` holds pairs.txt and the images; None or "" (`--set eval.lfw_dir=""`): no evaluation.
    `every` N > 0: also every N iterations; 0: only at the end.
    """

    lfw_dir: str | None = None
    every: int = 0


@dataclass
class TrainConfig:
    """Everything `fit` needs besides the data and output folders."""

    model: ModelConfig = field(default_factory=ModelConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    iterations: int = 28000
    init: str = ""  # a fresh run starts its backbone from this model file, or from a fit checkpoint.pt (also its head
    # and projector); "" = random initialisation
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    amp_dtype: str = "bfloat16"
    channels_last: bool = True
    compile: bool = False
    ema_decay: float = 0.0  # > 0 (e.g. 0.999): keep a moving average of the backbone's weights, evaluated and written
    # as the model
    log_every: int = 100
    ckpt_every: int = 2000


SCHEDULE_KINDS = ("step", "cosine")
AMP_DTYPES = ("bfloat16", "float16")


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML config file, apply `key.sub=value` overrides (values in TOML syntax) and validate it."""
    path = Path(path)
    raw = _read_with_bases(path)
    for override in overrides:
        _apply_override(raw, override)
    config = _build(TrainConfig, raw, prefix="", source=str(path))
    validate(config)
    return config


def _read_with_bases(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The TOML at `path` laid over its `base` (a config file named relative to it, itself possibly based on
    another): the delta's sections merge into the base's key by key; every value, an inline table such as
    `head.params` included, replaces the base's whole."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read config file '{path}': {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"config file '{path}' is not valid TOML: {error}") from None
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise InputError(f"config file '{path}': base must be the name of a config file, got {base!r}")
    chain = chain + (path.resolve(),)
    base_path = path.parent / base
    if base_path.resolve() in chain:
        loop = " -> ".join(p.name for p in chain + (base_path,))
        raise InputError(f"config file '{path}': its bases form a loop ({loop})")
    merged = _read_with_bases(base_path, chain)
    for key, value in raw.items():
        both_sections = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merged[key] | value if both_sections else value
    return merged


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain nested dict of the config (for logs, checkpoints and the model file's recipe)."""
    return dataclasses.asdict(config)


def validate(config: TrainConfig) -> None:
    """Reject values that would only fail later, with one line naming the key."""
    checks = [
        (config.schedule.kind in SCHEDULE_KINDS, f"schedule.kind must be one of {', '.join(SCHEDULE_KINDS)}"),
        (config.amp_dtype in AMP_DTYPES, f"amp_dtype must be one of {', '.join(AMP_DTYPES)}"),
        (config.iterations > 0, "iterations must be positive"),
        (0.0 <= config.ema_decay < 1.0, "ema_decay must be 0 (off) or between 0 and 1"),
        (not config.head.shard_classes or config.head.name == "sphereface2",
         "head.shard_classes needs head.name = \"sphereface2\" (only its loss splits over classes)"),
        (config.data.batch_size > 0, "data.batch_size must be positive"),
        (config.data.num_workers >= 0, "data.num_workers must be 0 or more"),
        (config.data.samples_per_class > 0, "data.samples_per_class must be positive"),
        (not config.data.balanced or config.data.batch_size % config.data.samples_per_class == 0,
         "data.batch_size must be a multiple of data.samples_per_class when data.balanced is true"),
        (config.log_every > 0 and config.ckpt_every > 0, "log_every and ckpt_every must be positive"),
        (config.schedule.warmup_iters >= 0, "schedule.warmup_iters must be 0 or more"),
        (not config.distill.bank or bool(config.distill.selection),
         "distill.bank needs distill.selection (written by 'sphereapp-train bank select')"),
        (not config.distill.online_teacher or bool(config.distill.bank),
         "distill.online_teacher needs distill.bank (the views it embeds afresh)"),
        (0.0 <= config.distill.mixup_share < 1.0, "distill.mixup_share must be 0 (off) or between 0 and 1"),
        (not (config.distill.mixup_share and config.head.shard_classes),
         "distill.mixup_share does not work with head.shard_classes"),
        (not config.distill.mixup_share or bool(config.distill.online_teacher),
         "distill.mixup_share needs distill.online_teacher (the teacher must embed the blends)"),
        (not (config.distill.bank and config.teacher.embeddings),
         "use either distill.bank or teacher.embeddings, not both"),
        (not config.distill.bank or 0 <= config.distill.unlabelled_per_batch < config.data.batch_size,
         "distill.unlabelled_per_batch must be 0 or more and below data.batch_size"),
        (not config.distill.bank
         or (config.data.batch_size - config.distill.unlabelled_per_batch) % config.data.samples_per_class == 0,
         "data.batch_size - distill.unlabelled_per_batch must be a multiple of data.samples_per_class"),
        (all(isinstance(m, int) for m in config.schedule.milestones), "schedule.milestones must be integers"),
        (len(config.augment.blur_sigma) == 2 and len(config.augment.downscale_range) == 2,
         "augment.blur_sigma and augment.downscale_range must be [low, high] pairs"),
    ]
    for ok, message in checks:
        if not ok:
            raise InputError(f"bad config: {message}")


def _apply_override(raw: dict, override: str) -> None:
    """Set raw['a']['b'] = value for 'a.b=value'; the value is parsed as TOML, else taken as a string."""
    key, sep, text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise InputError(f"bad --set {override!r}: expected key.sub=value")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    table = raw
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise InputError(f"bad --set {override!r}: '{part}' is not a table")
    table[parts[-1]] = value


def _build(cls: type, raw: dict, prefix: str, source: str):
    """Instantiate dataclass `cls` from a TOML table, checking key names and value types."""
    hints = get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in hints:
            known = ", ".join(f"{prefix}{k}" for k in hints)
            raise InputError(f"unknown config key '{name}' in {source} (known keys: {known})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise InputError(f"config key '{name}' in {source} must be a table")
            kwargs[key] = _build(hint, value, prefix=f"{name}.", source=source)
        else:
            kwargs[key] = _coerce(value, hint, name, source)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, name: str, source: str) -> Any:
    """Check a scalar/list/table against its type hint (ints are accepted where floats are expected)."""
    allowed = tuple(t for t in getattr(hint, "__args__", (hint,)) if isinstance(t, type))
    if isinstance(value, bool) and bool not in allowed:
        raise InputError(f"config key '{name}' in {source} must not be true/false")
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, allowed):
        expected = " or ".join(t.__name__ for t in allowed)
        raise InputError(f"config key '{name}' in {source} must be {expected}, not {value!r}")
    return value
