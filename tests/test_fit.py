"""Training driver: batch plans, augmentation, `sphereapp-train fit` with every head, exact resume, distillation."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sphereapp.core.errors import InputError
from sphereapp.core.vision.modelfile import load_embedder
from training.augment import BatchAugmenter
from training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from training.cli import main
from training.config import AugmentConfig, load_config
from training.data import BatchPlan, PreparedFaces
from training.fit import METRICS_NAME, MODEL_NAME, fit
from training.heads import available_heads
from training.lfw_probe import default_cache_path
from training.weight_average import WeightAverage

from helpers import TINY, TINY_IMAGES_EACH, TINY_PEOPLE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def metrics_rows(out: Path) -> list[dict]:
    with (out / METRICS_NAME).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_prepared_dataset_items(tiny_data):
    dataset = PreparedFaces(tiny_data)
    assert len(dataset) == TINY_PEOPLE * TINY_IMAGES_EACH and dataset.num_classes == TINY_PEOPLE
    image, label, index = dataset[7]
    assert image.dtype == torch.uint8 and image.shape == (112, 96, 3)
    assert (label, index) == (1, 7)


def test_uniform_plan_is_a_function_of_the_batch_number():
    labels = np.repeat(np.arange(5), 3)
    plan = BatchPlan(labels, batch_size=4, seed=3)
    batches = [b for _, b in zip(range(8), plan)]
    resumed = [b for _, b in zip(range(5), BatchPlan(labels, batch_size=4, seed=3, start_batch=3))]
    assert resumed == batches[3:]
    first_epoch = sum(batches[:4], [])[:15]
    assert sorted(first_epoch) == list(range(15))  # one epoch visits every image once
    assert batches != [b for _, b in zip(range(8), BatchPlan(labels, batch_size=4, seed=4))]


def test_balanced_plan_and_sharding():
    labels = np.array([0] * 10 + [1] * 1 + [2] * 5 + [3] * 4)
    plan = BatchPlan(labels, batch_size=8, seed=0, balanced=True, samples_per_class=4)
    for batch in (plan.global_batch(b) for b in range(20)):
        counts = np.bincount(labels[batch], minlength=4)
        assert sorted(counts[counts > 0]) == [4, 4]
    shards = [BatchPlan(labels, 8, 0, balanced=True, samples_per_class=4, rank=r, world_size=2) for r in range(2)]
    first = [next(iter(s)) for s in shards]
    assert first[0] + first[1] == plan.global_batch(0).tolist()


def test_augment_is_seeded_and_keeps_format():
    config = AugmentConfig(flip_p=0.5, affine_p=0.5, colour_p=0.5, blur_p=0.5, downscale_p=0.5, gray_p=0.3)
    images = torch.randint(0, 256, (6, 112, 96, 3), dtype=torch.uint8)
    first = BatchAugmenter(config, torch.Generator().manual_seed(1))(images)
    again = BatchAugmenter(config, torch.Generator().manual_seed(1))(images)
    other = BatchAugmenter(config, torch.Generator().manual_seed(2))(images)
    assert first.dtype == torch.uint8 and first.shape == images.shape
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augment_steps_do_what_they_say():
    images = torch.randint(0, 256, (3, 112, 96, 3), dtype=torch.uint8)
    off = AugmentConfig(flip_p=0.0)
    assert torch.equal(BatchAugmenter(off, torch.Generator().manual_seed(0))(images), images)
    flipped = BatchAugmenter(AugmentConfig(flip_p=1.0), torch.Generator().manual_seed(0))(images)
    assert torch.equal(flipped, images.flip(2))
    gray = BatchAugmenter(AugmentConfig(flip_p=0.0, gray_p=1.0), torch.Generator().manual_seed(0))(images)
    assert torch.equal(gray[..., 0], gray[..., 1]) and torch.equal(gray[..., 1], gray[..., 2])
    blurred = BatchAugmenter(AugmentConfig(flip_p=0.0, blur_p=1.0), torch.Generator().manual_seed(0))(images)
    assert blurred.float().std() < images.float().std() * 0.8  # noise loses contrast when blurred


@pytest.mark.parametrize("head", available_heads())
def test_fit_cli_with_every_head_writes_a_loadable_model(tiny_data, tmp_path, head):
    out = tmp_path / "run"
    code = main(["fit", "--config", str(TINY), "--data", str(tiny_data), "--out", str(out),
                 "--set", f"head.name={head}"])
    assert code == 0
    rows = metrics_rows(out)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r["loss"])) and float(r["feature_norm"]) > 0 for r in rows)
    model, info = load_embedder(out / MODEL_NAME, "cpu")
    assert (info.architecture, info.embedding_size, info.threshold) == ("sphereface4", 32, 0.35)
    assert head in info.recipe and "placeholder" in info.recipe and "4 people" in info.training_data
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 112, 96)).shape == (2, 32)


def test_resume_continues_exactly(tiny_data, tmp_path):
    config = load_config(TINY, ["iterations=4", "ckpt_every=100"])
    straight = fit(config, tiny_data, tmp_path / "straight")
    assert straight.iteration == 4
    stopped = fit(config, tiny_data, tmp_path / "split", stop_at=2)
    assert stopped.model_path is None and load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)["iteration"] == 2
    fit(config, tiny_data, tmp_path / "split", resume=True)
    a = load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME)
    b = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    for part in ("model", "head"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs after resume"
    assert a["optimizer"]["state"][0]["momentum_buffer"].equal(b["optimizer"]["state"][0]["momentum_buffer"])
    losses = [[r["loss"] for r in metrics_rows(tmp_path / run)] for run in ("split", "straight")]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    _, info_a = load_embedder(tmp_path / "straight" / MODEL_NAME)
    _, info_b = load_embedder(tmp_path / "split" / MODEL_NAME)
    assert info_a.model_id == info_b.model_id


def test_distillation_adds_a_loss_term(tiny_data, tmp_path):
    teacher = tmp_path / "teacher.npy"
    np.save(teacher, np.random.default_rng(0).normal(size=(TINY_PEOPLE * TINY_IMAGES_EACH, 16)).astype(np.float32))
    config = load_config(TINY, ["iterations=2", f"teacher.embeddings='{teacher.as_posix()}'", "teacher.weight=5.0"])
    fit(config, tiny_data, tmp_path / "run")
    assert all(float(r["distill_loss"]) > 0 for r in metrics_rows(tmp_path / "run"))
    np.save(teacher, np.zeros((3, 16), np.float32))
    with pytest.raises(InputError, match="teacher embeddings"):
        fit(config, tiny_data, tmp_path / "bad")


def test_cli_errors_are_one_line_exit_2(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", "--config", str(tmp_path / "none.toml"), "--data", str(tiny_data), "--out", str(out)]) == 2
    assert main(["fit", "--config", str(TINY), "--data", str(tmp_path), "--out", str(out)]) == 2
    assert main(["fit", "--config", str(TINY), "--data", str(tiny_data), "--out", str(out), "--set", "x.y=1"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("sphereapp-train fit: error: ") for line in errors)
    assert "does not exist" in errors[0] and "prepare" in errors[1] and "'x'" in errors[2]


def test_existing_run_needs_resume(tiny_data, tmp_path):
    config = load_config(TINY, ["iterations=1"])
    fit(config, tiny_data, tmp_path / "run")
    with pytest.raises(InputError, match="--resume"):
        fit(config, tiny_data, tmp_path / "run")
    with pytest.raises(InputError, match="no checkpoint"):
        fit(config, tiny_data, tmp_path / "fresh", resume=True)


def test_lfw_evaluation_sets_the_threshold(tiny_data, shared_data, tmp_path):
    """A 2-fold mini LFW (4 real images): fit evaluates at the end and stores LFW's threshold and accuracy."""
    lfw = tmp_path / "lfw"
    for name in ("Aaron_Peirsol", "Abdullah_Gul"):
        (lfw / name).mkdir(parents=True)
        for number in (1, 2):
            image = f"{name}_{number:04d}.jpg"
            (lfw / name / image).write_bytes((shared_data / "lfw" / name / image).read_bytes())
    (lfw / "pairs.txt").write_text("2\t1\nAaron_Peirsol\t1\t2\nAaron_Peirsol\t1\tAbdullah_Gul\t1\n"
                                   "Abdullah_Gul\t1\t2\nAaron_Peirsol\t2\tAbdullah_Gul\t2\n", encoding="utf-8")
    config = load_config(TINY, ["iterations=1", f"eval.lfw_dir='{lfw.as_posix()}'"])
    result = fit(config, tiny_data, tmp_path / "run")
    assert result.lfw is not None and 0.0 <= result.lfw.report.accuracy <= 1.0
    assert np.load(default_cache_path(lfw / "pairs.txt", "pairs")).shape == (4, 112, 96, 3), "shared with eval"
    _, info = load_embedder(result.model_path)
    assert info.threshold == pytest.approx(result.lfw.app_threshold, abs=1e-6)
    assert info.lfw.endswith(f"(10-fold, {lfw.as_posix()}/pairs.txt)") and "placeholder" not in info.recipe


@pytest.mark.slow
def test_two_process_gloo_run_stops_and_resumes(tiny_data, tmp_path):
    """torchrun with 2 CPU processes (gloo): split batches, per-rank RNG states in one checkpoint, resume."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "training", "fit",
               "--config", str(TINY), "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--set", "iterations=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*command, "--stop-at", "2"], check=True, env=env, timeout=300)
    assert len(load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["rng"]) == 2
    subprocess.run([*command, "--resume"], check=True, env=env, timeout=300)
    assert [int(r["iteration"]) for r in metrics_rows(tmp_path / "run")] == [1, 2, 3, 4]
    assert load_embedder(tmp_path / "run" / MODEL_NAME)[1].architecture == "sphereface4"


@pytest.mark.parametrize("head, amp", [("asoftmax", False), ("sphereface2", False), ("sphereface2", True)])
def test_training_learns_to_tell_the_people_apart(tiny_data, tmp_path, head, amp):
    """Not just runs: loss falls and the embedder puts a person's images closer together than other people's
    (also under bfloat16 autocast on the CPU)."""
    out = tmp_path / "run"
    assert main(["fit", "--config", str(TINY), "--data", str(tiny_data), "--out", str(out),
                 "--set", f"head.name={head}", "--set", f"amp={str(amp).lower()}", "--set", "iterations=40", "--set", "optim.lr=0.01",
                 "--set", "augment.colour_p=0.0", "--set", "augment.gray_p=0.0", "--set", "ckpt_every=40"]) == 0
    losses = [float(r["loss"]) for r in metrics_rows(out)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
    model, _ = load_embedder(out / MODEL_NAME, "cpu")
    data = PreparedFaces(tiny_data)
    images = torch.stack([data[i][0] for i in range(len(data))])
    labels = np.array(data.labels)
    from sphereapp.core.vision.models import normalize_input

    with torch.no_grad():
        embeddings = torch.nn.functional.normalize(model(normalize_input(images)), dim=1).numpy()
    cosine = embeddings @ embeddings.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert cosine[same & off_diagonal].mean() > cosine[~same].mean() + 0.3


def _packed_and_unpacked(data: Path, tmp_path: Path) -> Path:
    """`data` through scripts/device_pack.py pack and unpack; returns the unpacked folder."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "device_pack.py"
    for action, source, target in (("pack", data, tmp_path / "packed"), ("unpack", tmp_path / "packed",
                                                                         tmp_path / "data")):
        subprocess.run([sys.executable, str(script), action, str(source), str(target)], check=True,
                       capture_output=True)
    return tmp_path / "data"


def test_device_pack_round_trip(tiny_data, tmp_path):
    """scripts/device_pack.py: crops travel as WebP and come back as prepared data fit can read."""
    original, unpacked = PreparedFaces(tiny_data), PreparedFaces(_packed_and_unpacked(tiny_data, tmp_path))
    assert unpacked.labels.tolist() == original.labels.tolist()
    colours = [np.load(folder / "crops.npy").mean(axis=(1, 2)) for folder in (tiny_data, tmp_path / "data")]
    assert np.abs(colours[0] - colours[1]).max() < 3, "each crop keeps its colour (lossy WebP smooths the noise)"


def test_device_pack_keeps_wide_crops_wide(tiny_data, tmp_path):
    """112x112 crops (`prepare --wide`, what a bank is built from) come back 112x112."""
    wide = tmp_path / "wide"
    shutil.copytree(tiny_data, wide)
    crops = np.load(wide / "crops.npy")
    np.save(wide / "crops.npy", np.pad(crops, ((0, 0), (0, 0), (8, 8), (0, 0)), mode="edge"))
    unpacked = _packed_and_unpacked(wide, tmp_path)
    assert np.load(unpacked / "crops.npy").shape == (len(crops), 112, 112, 3)


def test_weight_average_follows_the_polyak_rule_and_resumes_exactly(tiny_data, tmp_path):
    network = nn.Linear(3, 2)
    average = WeightAverage(network, decay=0.9)
    start = network.weight.detach().clone()
    with torch.no_grad():
        network.weight.add_(1.0)
    average.update(network)  # first update: decay warmed up to 1/10
    assert torch.allclose(average.network.weight, 0.1 * start + 0.9 * (start + 1.0))
    assert average.current_decay() == pytest.approx(2 / 11)

    config = load_config(TINY, ["iterations=4", "ckpt_every=100", "ema_decay=0.5"])
    straight = fit(config, tiny_data, tmp_path / "straight")
    fit(config, tiny_data, tmp_path / "split", stop_at=2)
    fit(config, tiny_data, tmp_path / "split", resume=True)
    a, b = (load_checkpoint(tmp_path / run / CHECKPOINT_NAME)["average"] for run in ("straight", "split"))
    assert a["updates"] == b["updates"] == 4
    for name, tensor in a["weights"].items():
        assert torch.equal(tensor, b["weights"][name]), name
    written, info = load_embedder(straight.model_path)  # the model written is the average (in fp16), not the last
    last = load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME)["model"]
    written = written.state_dict()
    assert all(torch.equal(written[name], tensor.half().float()) for name, tensor in a["weights"].items())
    assert any(not torch.equal(written[name], tensor.half().float()) for name, tensor in last.items())
    assert "weight average (decay 0.5)" in info.recipe
