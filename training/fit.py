"""`sphereapp-train fit`: the training loop (SGD, warm-up + step/cosine LR, AMP, DDP, exact resume).

One iteration: a batch of prepared crops -> on-device augmentation -> backbone -> head loss
(+ optional relational distillation) -> SGD step -> per-iteration LR schedule. With a distillation bank the
batch is cached views instead (no online augmentation), the head sees the labelled faces only and every face
adds the embedding-distillation loss. Checkpoints hold every
state that draws randomness, and batch b of the data plan depends only on (seed, b), so training
3 iterations and resuming for 3 more gives the same weights as 6 in one go.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from sphereapp.core.errors import InputError
from sphereapp.core.vision.device import describe_device, resolve_device
from sphereapp.core.vision.modelfile import TORCH_SUFFIXES, ModelInfo, load_embedder, save_embedder
from sphereapp.core.vision.models import build_model, normalize_input
from training import consistent
from training.augment import BatchAugmenter
from training.bank import Teacher
from training.bank_data import BankFaces, BankPlan
from training.checkpoint import (
    CHECKPOINT_NAME,
    capture_rng_states,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from training.config import ScheduleConfig, TeacherConfig, TrainConfig, config_to_dict
from training.data import BatchPlan, PreparedFaces
from training.evaluation import read_lfw_pairs
from training.heads import HeadOutput, build_head
from training.heads.sphereface2_sharded import ShardedSphereFace2
from training.lfw_probe import PairsProbe, ProbeResult, default_cache_path
from training.weight_average import WeightAverage

MODEL_NAME = "embedder.safetensors"
METRICS_NAME = "metrics.csv"
# feature_norm: mean L2 norm of the backbone's features; a head on unnormalised features (A-Softmax) that cannot
# separate the classes yet can shrink it towards 0, which flattens its logits (loss stuck at ln(classes)).
METRICS_FIELDS = ("iteration", "loss", "distill_loss", "accuracy", "feature_norm", "lr", "images_per_s", "elapsed_s")
PLACEHOLDER_THRESHOLD = 0.35


@dataclass
class FitResult:
    """Where training stopped, the model file written (None when stopped early) and the last LFW result."""

    iteration: int
    model_path: Path | None
    lfw: ProbeResult | None


@dataclass(frozen=True)
class _Process:
    """This process's place in a data-parallel run (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class _Trainee(nn.Module):
    """Backbone + head (+ the distillation projectors) as one module, so DDP and torch.compile see one forward.

    The head sees the faces with a label (>= 0) only; each projector maps every face into its teacher's space.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, projector: nn.ModuleDict | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.projector = projector

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, HeadOutput,
                                                                          dict[str, torch.Tensor] | None]:
        features = self.backbone(images)
        with torch.autocast(images.device.type, enabled=False):  # margins (cos m*theta) need float32
            labelled = labels >= 0
            output = self.head(features.float()[labelled], labels[labelled])
            projected = (None if self.projector is None else
                         {teacher: project(features.float()) for teacher, project in self.projector.items()})
            return features, output, projected


def lr_factor(schedule: ScheduleConfig, iterations: int, iteration: int) -> float:
    """LR multiplier for 0-based `iteration`: linear warm-up, then step decay or cosine annealing."""
    if iteration < schedule.warmup_iters:
        return (iteration + 1) / schedule.warmup_iters
    if schedule.kind == "step":
        return schedule.gamma ** sum(iteration >= m for m in schedule.milestones)
    progress = (iteration - schedule.warmup_iters) / max(1, iterations - schedule.warmup_iters)
    return schedule.min_lr_ratio + (1 - schedule.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def relational_distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MSE between in-batch cosine-similarity matrices (works for any two embedding sizes)."""
    s, t = F.normalize(student.float(), dim=1), F.normalize(teacher.float(), dim=1)
    return F.mse_loss(s @ s.T, t @ t.T)


def embedding_distillation_loss(projected: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance between the student's embedding mapped into the teacher's space and the teacher's
    embedding of the same image (feature distillation through a learned linear projector)."""
    return (1 - F.cosine_similarity(projected.float(), teacher.float(), dim=1)).mean()


def fit(config: TrainConfig, data_dir: str | Path | None, out_dir: str | Path, resume: bool = False,
        stop_at: int | None = None) -> FitResult:
    """Train per `config` on prepared data in `data_dir` (default: config.data.train_dir); outputs go to `out_dir`.

    `resume` continues from out_dir/checkpoint.pt. `stop_at` ends (with a checkpoint, without a model file)
    after that many iterations, to split a long CPU run into sessions.
    """
    data_dir = data_dir or config.data.train_dir
    if not data_dir and not config.distill.bank:
        raise InputError("no training data: pass --data DIR, or set data.train_dir or distill.bank in the config")
    run = _Run(config, Path(data_dir or "."), Path(out_dir), resume)
    try:
        end = min(config.iterations, stop_at) if stop_at is not None else config.iterations
        run.announce(end)
        lfw = None
        for iteration in tqdm(range(run.start, end), initial=run.start, total=end, unit="it", desc="fit",
                              disable=not run.process.is_main):
            lr = run.step(iteration)
            done = iteration + 1
            if done % config.log_every == 0 or done == end:
                run.log.write(done, lr, config.data.batch_size)
            if config.eval.every and done % config.eval.every == 0 and done < end:
                lfw = run.evaluate(done) or lfw
            if done % config.ckpt_every == 0 or done == end:
                run.save(done)
        if end < config.iterations:
            run.print(f"stopped after iteration {end} of {config.iterations}: continue with --resume")
            return FitResult(end, None, lfw)
        lfw = run.evaluate(end)
        return FitResult(end, run.write_model(lfw), lfw)
    finally:
        run.close()


class _Run:
    """One training run's state: data, networks, optimiser, schedule, randomness, and where it all goes."""

    def __init__(self, config: TrainConfig, data_dir: Path, out_dir: Path, resume: bool):
        self.config, self.out_dir = config, out_dir
        self.process = _init_process_group()
        self.device = _training_device(config.device, self.process)
        self.checkpoint_path = out_dir / CHECKPOINT_NAME
        if not resume and self.checkpoint_path.exists():
            raise InputError(f"'{out_dir}' already holds a training run: pass --resume to continue it, "
                             "or use another --out")
        checkpoint = load_checkpoint(self.checkpoint_path) if resume else None

        _seed_everything(config.seed)
        self.distilling = bool(config.distill.bank)
        self.dataset = (BankFaces(config.distill.bank, config.distill.selection, list(config.distill.teachers),
                                  wide=bool(config.distill.online_teacher))
                        if self.distilling else PreparedFaces(data_dir))
        self.teacher_shares = [float(config.distill.teachers.get(name, 1.0)) for name in self.dataset.teachers] \
            if self.distilling else []
        if any(share <= 0 for share in self.teacher_shares):
            raise InputError(f"distill.teachers shares must be > 0, not {config.distill.teachers}")
        online_teacher = (_online_teacher(config.distill.online_teacher, self.dataset)
                          if self.distilling and config.distill.online_teacher else None)
        self.teacher = _load_teacher(config.teacher, len(self.dataset))
        backbone = build_model(config.model.backbone, embedding_size=config.model.embedding_size)
        initial = _initial_states(config) if config.init and checkpoint is None else {}
        if initial:
            backbone.load_state_dict(initial["model"])
        self.sharded = config.head.shard_classes and self.process.world_size > 1
        if self.sharded:
            head = ShardedSphereFace2(config.model.embedding_size, self.dataset.num_classes, **config.head.params)
        else:
            head = build_head(config.head.name, config.model.embedding_size, self.dataset.num_classes,
                              **config.head.params)
        projector = nn.ModuleDict({name: nn.Linear(config.model.embedding_size, dim, bias=False)
                                   for name, dim in zip(self.dataset.teachers, self.dataset.dims)}) \
            if self.distilling else None
        self.trainee = _Trainee(backbone, head, projector)
        self._warm_start(initial)
        self.trainee = self.trainee.to(self.device)
        if config.channels_last:
            self.trainee = self.trainee.to(memory_format=torch.channels_last)
        self.average = (WeightAverage(self.trainee.backbone, config.ema_decay)  # kept where it is evaluated and saved
                        if config.ema_decay and self.process.is_main else None)
        self.optimizer = _sgd(self.trainee, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda it: lr_factor(config.schedule, config.iterations, it))
        self.amp_dtype = getattr(torch, config.amp_dtype)
        # CPU autocast only in bfloat16 (2x on AVX512-BF16 cores: 31 vs 16 images/s for SF-20 at batch 32).
        self.use_amp = config.amp and (self.device.type == "cuda" or self.amp_dtype == torch.bfloat16)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp and self.amp_dtype == torch.float16)
        seed = int(np.random.SeedSequence([config.seed, self.process.rank]).generate_state(1)[0])
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.start = self._restore(checkpoint) if checkpoint is not None else 0

        self.network: nn.Module = self.trainee
        if self.process.world_size > 1:
            self.network = _data_parallel(self.trainee, self.device, self.sharded)
        if config.compile:
            self.network = torch.compile(self.network)
        plan = (BankPlan(self.dataset.labels, self.dataset.views, config.data.batch_size,
                         config.distill.unlabelled_per_batch, config.seed, start_batch=self.start,
                         samples_per_class=config.data.samples_per_class, sources=self.dataset.sources,
                         source_share=config.distill.source_share) if self.distilling else
                BatchPlan(self.dataset.labels, config.data.batch_size, config.seed, start_batch=self.start,
                          balanced=config.data.balanced, samples_per_class=config.data.samples_per_class,
                          rank=self.process.rank, world_size=self.process.world_size))
        loader = DataLoader(self.dataset, batch_sampler=plan, num_workers=config.data.num_workers,
                            pin_memory=self.device.type == "cuda", persistent_workers=config.data.num_workers > 0)
        self.batches = iter(loader)
        self.augment = BatchAugmenter(config.augment, self.generator)
        self.consistent = (None if online_teacher is None else
                           consistent.ConsistentTeaching(online_teacher, self.dataset.centres[0], self.augment,
                                                         config.distill.mixup_share))
        self.log = _MetricsLog(out_dir, self.start, self.process.is_main, self.device)
        self.lfw_probe = None
        if config.eval.lfw_dir and self.process.is_main:
            pairs_file = Path(config.eval.lfw_dir) / "pairs.txt"
            # The crop cache `sphereapp-train eval lfw` uses: aligned once for every run and evaluation.
            self.lfw_probe = PairsProbe(read_lfw_pairs(pairs_file), default_cache_path(pairs_file, "pairs"),
                                        self.device)

    def print(self, line: str) -> None:
        """One line to the console, from the main process only."""
        if self.process.is_main:
            tqdm.write(line)

    def announce(self, end: int) -> None:
        """Create the output folder, record the config, say what is trained where."""
        if self.process.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(json.dumps(config_to_dict(self.config), indent=2),
                                                      encoding="utf-8")
        c = self.config
        self.print(f"training {c.model.backbone} + {c.head.name} on {len(self.dataset)} images of "
                   f"{self.dataset.num_classes} people, {describe_device(self.device)}, "
                   f"{self.process.world_size} process(es){', classes sharded over them' if self.sharded else ''}, "
                   f"iterations {self.start}..{end}")

    def step(self, iteration: int) -> float:
        """One SGD iteration (0-based `iteration`) and the per-iteration LR update; returns the LR it used."""
        images, labels, extra = next(self.batches)
        if self.consistent is not None:
            images, extra, labels = self.consistent(images, labels)
        images = images.to(self.device, non_blocking=True)
        if not self.distilling:  # a bank's views are already augmented, and their targets belong to them
            images = self.augment(images)
        labels = labels.to(self.device, non_blocking=True)
        self.trainee.head.set_iteration(iteration)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            features, output, projected = self.network(normalize_input(images), labels)
        loss, distill = output.loss, None
        if self.distilling:
            d, distill = self.config.distill, 0
            for name, share, targets in zip(self.dataset.teachers, self.teacher_shares,
                                            extra.to(self.device).split(self.dataset.dims, dim=1)):
                distill = distill + share * d.weight * embedding_distillation_loss(projected[name], targets)
                if d.relational_weight:
                    distill = distill + share * d.relational_weight * relational_distillation_loss(features, targets)
            loss = loss + distill
        elif self.teacher is not None:
            teacher = torch.from_numpy(np.asarray(self.teacher[extra.numpy()], np.float32)).to(self.device)
            distill = self.config.teacher.weight * relational_distillation_loss(features, teacher)
            loss = loss + distill
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        lr = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        if self.average is not None:
            self.average.update(self.trainee.backbone)
        self.log.accumulate(output, labels[labels >= 0], distill, features)
        return lr

    def save(self, iteration: int) -> None:
        """Atomic checkpoint of every state (RNG states of all processes), written by the main process."""
        rng = _gather(capture_rng_states(self.generator), self.process)
        states = self._head_and_optimizer_states()
        if self.process.is_main:
            head_state, optimizer_state = states
            save_checkpoint(self.checkpoint_path, {
                "iteration": iteration, "model": self.trainee.backbone.state_dict(),
                "head": head_state, "optimizer": optimizer_state, "projector": self._projector_state(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(), "rng": rng,
                "average": None if self.average is None else self.average.state_dict(),
                "config": config_to_dict(self.config)})

    def _projector_state(self) -> dict | None:
        return None if self.trainee.projector is None else self.trainee.projector.state_dict()

    def _head_and_optimizer_states(self) -> tuple[dict, dict] | None:
        """What to checkpoint of the head and the optimizer; a sharded head's classes are gathered to the
        main process (None elsewhere), so the checkpoint holds what an unsharded run would."""
        if self.sharded:
            return self.trainee.head.full_states(self.optimizer)
        return self.trainee.head.state_dict(), self.optimizer.state_dict()

    def evaluate(self, iteration: int) -> ProbeResult | None:
        """LFW 10-fold accuracy now of the model to be written (the weight average when there is one; the
        training weights are reported beside it); None without an LFW folder."""
        if self.lfw_probe is None:
            return None
        backbone = self.trainee.backbone
        backbone.eval()
        try:
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                result = self.lfw_probe.evaluate(backbone)
                averaged = None if self.average is None else self.lfw_probe.evaluate(self.average.network)
        finally:
            backbone.train()
        line = (f"iteration {iteration}: LFW {100 * result.report.accuracy:.2f}% +- "
                f"{100 * result.report.std:.2f} (10-fold)")
        if averaged is not None:
            line += f", weight average {100 * averaged.report.accuracy:.2f}% +- {100 * averaged.report.std:.2f}"
            result = averaged
        self.print(f"{line}, app threshold {result.app_threshold:.3f}")
        return result

    def write_model(self, lfw: ProbeResult | None) -> Path | None:
        """Save embedder.safetensors (main process); returns its path."""
        if not self.process.is_main:
            return None
        path = self.out_dir / MODEL_NAME
        info = _model_info(self.config, self.dataset, lfw)
        network = self.trainee.backbone if self.average is None else self.average.network
        saved = save_embedder(path, network, info)
        self.print(f"model written to {path} (model id {saved.model_id}, threshold {saved.threshold:.3f}"
                   f"{'' if lfw else ', a placeholder: no LFW evaluation ran'})")
        return path

    def close(self) -> None:
        """Leave the process group (torchrun) so every process exits cleanly."""
        if self.process.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()

    def _warm_start(self, initial: dict) -> None:
        """Load the head and projectors a fit checkpoint given as `init` carries (their shapes must match); a
        teacher the checkpoint has no projector for starts with a fresh one."""
        parts = {"head": self.trainee.head, "projector": self.trainee.projector}
        for name in [name for name in parts if initial.get(name) is not None]:
            if self.sharded or parts[name] is None:
                raise InputError(f"init '{self.config.init}' carries a {name} this run cannot take "
                                 "(a sharded head, or no distillation); start from its model file instead")
            state = initial[name]
            if name == "projector" and "weight" in state:  # a checkpoint from before several teachers
                state = {f"{self.dataset.bank_teacher}.weight": state["weight"]}
            try:
                missing, unexpected = parts[name].load_state_dict(state, strict=name != "projector")
                if unexpected:
                    raise RuntimeError(unexpected)
                for key in missing:
                    self.print(f"note: the projector into {key.rsplit('.', 1)[0]}'s space starts fresh")
            except RuntimeError:
                raise InputError(f"init '{self.config.init}': its {name} does not fit this run (another "
                                 "selection of people or another teacher?); start from its model file instead") from None

    def _restore(self, checkpoint: dict) -> int:
        """Load every state from a checkpoint; returns the number of iterations already done."""
        self.trainee.backbone.load_state_dict(checkpoint["model"])
        head_state, optimizer_state = checkpoint["head"], checkpoint["optimizer"]
        if self.sharded:
            head_state, optimizer_state = self.trainee.head.local_states(head_state, optimizer_state, self.optimizer)
        self.trainee.head.load_state_dict(head_state)
        if self.trainee.projector is not None:
            self.trainee.projector.load_state_dict(checkpoint["projector"])
        if self.average is not None:
            if checkpoint.get("average") is not None:
                self.average.load_state_dict(checkpoint["average"])
            else:
                self.average = WeightAverage(self.trainee.backbone, self.config.ema_decay)
                self.print(f"note: the weight average starts at iteration {checkpoint['iteration']}")
        self.optimizer.load_state_dict(optimizer_state)
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        rng = checkpoint["rng"]
        if len(rng) != self.process.world_size:
            raise InputError(f"cannot resume: the checkpoint was written by {len(rng)} processes, "
                             f"this run has {self.process.world_size}")
        restore_rng_states(rng[self.process.rank], self.generator)
        changed = _changed_keys(checkpoint["config"], config_to_dict(self.config))
        if changed:
            self.print(f"note: the config differs from the checkpoint's in {', '.join(changed)}")
        return int(checkpoint["iteration"])


def _init_process_group() -> _Process:
    """Join the torchrun group when WORLD_SIZE > 1 (NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Process()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return _Process(dist.get_rank(), dist.get_world_size())


def _data_parallel(trainee: _Trainee, device: torch.device, sharded: bool) -> nn.Module:
    """DDP over the whole trainee; with a class-sharded head, over the backbone only (each rank's W differs)."""
    ids = [device] if device.type == "cuda" else None
    if sharded:
        return _Trainee(nn.parallel.DistributedDataParallel(trainee.backbone, device_ids=ids), trainee.head)
    return nn.parallel.DistributedDataParallel(trainee, device_ids=ids)


def _training_device(choice: str, process: _Process) -> torch.device:
    """The configured device; under torchrun each process takes the GPU of its LOCAL_RANK."""
    device = resolve_device(choice)
    if device.type == "cuda" and process.world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); every process builds the same initial weights."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _sgd(trainee: nn.Module, config: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum; no weight decay on biases (the prototxt's decay_mult 0 on bias blobs)."""
    decay = [p for n, p in trainee.named_parameters() if not n.endswith("bias")]
    no_decay = [p for n, p in trainee.named_parameters() if n.endswith("bias")]
    groups = [{"params": decay, "weight_decay": config.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.optim.lr, momentum=config.optim.momentum)


def _gather(state: dict, process: _Process) -> list[dict]:
    """Every process's RNG states, in rank order (a list of one without data parallelism)."""
    if process.world_size == 1:
        return [state]
    states: list = [None] * process.world_size
    dist.all_gather_object(states, state, weights_only=True)
    return states


def _init_name(init: str) -> str:
    """A model file by its name; a checkpoint by its run folder too (every run's is called checkpoint.pt)."""
    path = Path(init)
    return f"{path.parent.name}/{path.name}" if path.name == CHECKPOINT_NAME else path.name


def _initial_states(config: TrainConfig) -> dict[str, dict | None]:
    """What `config.init` starts a fresh run from: a model file gives the backbone ("model"); a fit checkpoint
    also gives its "head" and "projector" (a warm start: optimiser, schedule and batches start afresh)."""
    path = Path(config.init)
    if not path.is_file():
        raise InputError(f"init '{config.init}': file not found")
    checkpoint = _fit_checkpoint(path)
    if checkpoint is not None:
        states = {name: checkpoint.get(name) for name in ("model", "head", "projector")}
        architecture = checkpoint["config"]["model"]
        found = (architecture["backbone"], architecture["embedding_size"])
    else:
        model, info = load_embedder(config.init)
        states = {"model": model.float().state_dict()}
        found = (info.architecture, info.embedding_size)
    if found != (config.model.backbone, config.model.embedding_size):
        raise InputError(f"init '{config.init}' is a {found[0]} ({found[1]}-d); the config "
                         f"trains a {config.model.backbone} ({config.model.embedding_size}-d)")
    return states


def _fit_checkpoint(path: Path) -> dict | None:
    """What a fit checkpoint holds; None for a model file (.safetensors, or a .pt/.pth state dict)."""
    if path.suffix not in TORCH_SUFFIXES:
        return None
    contents = load_checkpoint(path, purpose=f"init '{path}'")
    return contents if isinstance(contents, dict) and {"iteration", "config", "model"} <= contents.keys() else None


def _load_teacher(config: TeacherConfig, rows: int) -> np.ndarray | None:
    """Teacher embeddings (N, T) memory-mapped, one row per line of list.tsv; None without a teacher."""
    if not config.embeddings:
        return None
    path = Path(config.embeddings)
    try:
        embeddings = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read teacher embeddings '{path}': {error}") from None
    if embeddings.ndim != 2 or embeddings.shape[0] != rows:
        raise InputError(f"teacher embeddings '{path}' have shape {embeddings.shape}; expected ({rows}, T)")
    return embeddings


def _online_teacher(folder: str, dataset: BankFaces) -> Teacher:
    """The teacher for consistent teaching; it must be the only one distilled from, and one the bank holds."""
    teacher = consistent.open_teacher(folder)
    if dataset.teachers != [teacher.name]:
        raise InputError(f"distill.online_teacher is {teacher.name}: distil from it alone (distill.teachers "
                         f"{{{teacher.name} = 1.0}} or {{}}), not from {' + '.join(dataset.teachers)}")
    return teacher


def _model_info(config: TrainConfig, dataset: PreparedFaces | BankFaces, lfw: ProbeResult | None) -> ModelInfo:
    """ModelInfo of the trained backbone: threshold from LFW when it ran, else a placeholder (said in recipe)."""
    if isinstance(dataset, BankFaces):
        training_data = dataset.describe()
    else:
        summary = dataset.summary()
        training_data = (f"{summary.get('images', len(dataset))} crops of "
                         f"{summary.get('people', dataset.num_classes)} people prepared from "
                         f"'{summary.get('source', dataset.root)}'" + (f", {summary['excluded_people']} people "
                                                                      "excluded" if summary.get("excluded_people")
                                                                      else ""))
    shares = f" (shares {json.dumps(config.distill.teachers)})" if config.distill.teachers else ""
    mixup = f", mixup of {config.distill.mixup_share:g} of the faces" if config.distill.mixup_share else ""
    teaching = (f", consistent teaching (targets of freshly augmented views{mixup})" if config.distill.online_teacher
                else "")
    distilled = (f"; embedding distillation from {' + '.join(dataset.teachers)}{shares} x {config.distill.weight}"
                 f"{teaching}" if isinstance(dataset, BankFaces) else "; distilled" if config.teacher.embeddings else "")
    s = config.schedule
    threshold_note = ("threshold: best LFW threshold for the flip-fused cosine" if lfw else
                      f"threshold: placeholder {PLACEHOLDER_THRESHOLD} (no LFW evaluation ran)")
    recipe = (f"head {config.head.name} {json.dumps(config.head.params, sort_keys=True)}; {config.iterations} "
              f"iterations x batch {config.data.batch_size}{' balanced' if config.data.balanced else ''}; "
              f"SGD lr {config.optim.lr} momentum {config.optim.momentum} wd {config.optim.weight_decay}; "
              f"{s.kind} schedule (warm-up {s.warmup_iters}"
              f"{f', milestones {s.milestones}' if s.kind == 'step' else ''})"
              f"{distilled}{f'; started from {_init_name(config.init)}' if config.init else ''}"
              f"{f'; weight average (decay {config.ema_decay})' if config.ema_decay else ''}; seed {config.seed}; "
              f"{threshold_note}")
    return ModelInfo(
        architecture=config.model.backbone,
        embedding_size=config.model.embedding_size,
        threshold=float(lfw.app_threshold) if lfw else PLACEHOLDER_THRESHOLD,
        training_data=training_data,
        recipe=recipe,
        lfw=(f"{100 * lfw.report.accuracy:.2f}% +- {100 * lfw.report.std:.2f} (10-fold, "
             f"{Path(config.eval.lfw_dir).as_posix()}/pairs.txt)") if lfw else "",
        licence=dataset.licence if isinstance(dataset, BankFaces) else "",
    )


def _changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested config dicts."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "params":
            changed += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            changed.append(f"{prefix}{key}")
    return changed


class _MetricsLog:
    """Running means between log points, printed as one line and appended to metrics.csv."""

    def __init__(self, out_dir: Path, start: int, enabled: bool, device: torch.device):
        self.path = out_dir / METRICS_NAME
        self.enabled = enabled
        self.device = device
        self._reset()
        self._started = time.perf_counter()
        if enabled and start > 0 and self.path.is_file():
            self._drop_rows_after(start)

    def _reset(self) -> None:
        self.loss, self.distill, self.correct, self.norm = (torch.zeros((), device=self.device) for _ in range(4))
        self.count = self.iterations = 0
        self._since = time.perf_counter()

    def accumulate(self, output: HeadOutput, labels: torch.Tensor, distill: torch.Tensor | None,
                   features: torch.Tensor) -> None:
        """Add one iteration (device tensors; nothing is synchronised until `write`)."""
        self.loss += output.loss.detach().float()
        self.norm += features.detach().float().norm(dim=1).mean()
        if distill is not None:
            self.distill += distill.detach().float()
        self.correct += (output.predictions() == labels).sum()
        self.count += len(labels)
        self.iterations += 1

    def write(self, iteration: int, lr: float, global_batch: int) -> None:
        """Log the means since the last write (main process only)."""
        if self.enabled:
            now = time.perf_counter()
            row = {
                "iteration": iteration,
                "loss": round(float(self.loss) / self.iterations, 5),
                "distill_loss": round(float(self.distill) / self.iterations, 6),
                "accuracy": round(float(self.correct) / self.count, 4),
                "feature_norm": round(float(self.norm) / self.iterations, 4),
                "lr": f"{lr:.6g}",
                "images_per_s": round(global_batch * self.iterations / (now - self._since), 1),
                "elapsed_s": round(now - self._started, 1),
            }
            tqdm.write(f"it {iteration}  loss {row['loss']:.4f}  distill {row['distill_loss']:.4f}  "
                       f"acc {row['accuracy']:.3f}  "
                       f"|feature| {row['feature_norm']:.3g}  lr {row['lr']}  "
                       f"{row['images_per_s']} img/s")
            new = not self.path.is_file()
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, METRICS_FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
        self._reset()

    def _drop_rows_after(self, iteration: int) -> None:
        """On resume, forget rows logged after the checkpoint (they will be logged again)."""
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if int(r["iteration"]) <= iteration]
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, METRICS_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
