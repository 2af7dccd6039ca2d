"""Class-sharded SphereFace2 on 2 gloo processes equals the unsharded head on the gathered batch."""

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sphereapp.core.errors import InputError
from training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from training.config import load_config
from training.heads.sphereface2 import SphereFace2
from training.heads.sphereface2_sharded import ShardedSphereFace2, class_shard

from helpers import TINY

WORLD, FEAT, CLASSES, ROWS = 2, 8, 7, 5  # 7 classes: uneven slices of 4 and 3; 5 rows per rank
PARAMS = {"alpha": 0.7, "r": 30.0, "m": 0.4, "t": 3.0, "lw": 50.0}
LR, MOMENTUM = 0.5, 0.9
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(WORLD * ROWS, FEAT, generator=generator)
    labels = torch.randint(0, CLASSES, (WORLD * ROWS,), generator=generator)
    labels[:3] = torch.tensor([0, 3, 6])  # first and last class of each slice appear
    return features, labels


def _sgd(head: torch.nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(head.parameters(), lr=LR, momentum=MOMENTUM)


def _worker(rank: int, folder: str) -> None:
    """One rank: forward/backward/SGD step, gather the states, reload a fresh head from them."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=WORLD)
    try:
        features, labels = _inputs()
        rows = slice(rank * ROWS, (rank + 1) * ROWS)
        torch.manual_seed(0)
        head = ShardedSphereFace2(FEAT, CLASSES, **PARAMS)
        initial_weight = head.weight.detach().clone()
        optimizer = _sgd(head)
        local_features = features[rows].clone().requires_grad_()
        output = head(local_features, labels[rows])
        output.loss.backward()
        optimizer.step()
        record = {"classes": head.classes, "initial_weight": initial_weight, "loss": output.loss.detach(),
                  "features_grad": local_features.grad, "weight_grad": head.weight.grad,
                  "bias_grad": head.bias.grad, "predicted": output.predicted,
                  "full_states": head.full_states(optimizer)}
        if rank == 0:
            torch.save(record["full_states"], f"{folder}/full.pt")
        dist.barrier()
        torch.manual_seed(123)  # a fresh head with other weights takes its slice of the saved states
        fresh = ShardedSphereFace2(FEAT, CLASSES, **PARAMS)
        fresh_optimizer = _sgd(fresh)
        head_state, optimizer_state = fresh.local_states(*torch.load(f"{folder}/full.pt"), fresh_optimizer)
        fresh.load_state_dict(head_state)
        fresh_optimizer.load_state_dict(optimizer_state)
        record.update(reloaded_weight=fresh.weight.detach(), reloaded_bias=fresh.bias.detach(),
                      reloaded_momentum=fresh_optimizer.state[fresh.weight]["momentum_buffer"])
        torch.save(record, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_class_shard_covers_every_class_once():
    for classes, world in [(7, 2), (10, 3), (4, 4), (5, 1)]:
        shards = [class_shard(classes, rank, world) for rank in range(world)]
        assert [c for s in shards for c in range(classes)[s]] == list(range(classes))
        assert max(s.stop - s.start for s in shards) - min(s.stop - s.start for s in shards) <= 1


def test_sharded_head_equals_unsharded_on_two_processes(tmp_path):
    features, labels = _inputs()
    torch.manual_seed(0)
    head = SphereFace2(FEAT, CLASSES, **PARAMS)
    initial_weight = head.weight.detach().clone()
    optimizer = _sgd(head)
    features.requires_grad_()
    output = head(features, labels)
    output.loss.backward()
    optimizer.step()
    momentum = optimizer.state[head.weight]["momentum_buffer"]

    # fork: the workers inherit the imports done so far (spawn would import torch and torch._dynamo twice)
    mp.start_processes(_worker, args=(str(tmp_path),), nprocs=WORLD, join=True, start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=False) for rank in range(WORLD)]

    assert [r["classes"] for r in ranks] == [slice(0, 4), slice(4, 7)]
    for rank, record in enumerate(ranks):
        rows, classes = slice(rank * ROWS, (rank + 1) * ROWS), record["classes"]
        torch.testing.assert_close(record["initial_weight"], initial_weight[:, classes], rtol=0, atol=0)
        torch.testing.assert_close(record["loss"], output.loss.detach(), **TOL)
        # DDP averages the backbone's gradients over ranks: each rank's features carry WORLD x dL/df.
        torch.testing.assert_close(record["features_grad"], WORLD * features.grad[rows], **TOL)
        torch.testing.assert_close(record["weight_grad"], head.weight.grad[:, classes], **TOL)
        torch.testing.assert_close(record["bias_grad"], head.bias.grad, **TOL)
        assert torch.equal(record["predicted"], output.logits.argmax(1)[rows])
        torch.testing.assert_close(record["reloaded_weight"], head.weight.detach()[:, classes], **TOL)
        torch.testing.assert_close(record["reloaded_bias"], head.bias.detach(), **TOL)
        torch.testing.assert_close(record["reloaded_momentum"], momentum[:, classes], **TOL)

    full_head_state, full_optimizer_state = ranks[0]["full_states"]
    assert ranks[1]["full_states"] is None
    torch.testing.assert_close(full_head_state["weight"], head.weight.detach(), **TOL)
    assert full_optimizer_state["state"][0]["momentum_buffer"].shape == (FEAT, CLASSES)
    torch.testing.assert_close(full_optimizer_state["state"][0]["momentum_buffer"], momentum, **TOL)


@pytest.mark.slow
def test_sharded_torchrun_fit_matches_unsharded(tiny_data, tmp_path):
    """2 gloo processes: a sharded run (stopped and resumed) ends with the unsharded DDP run's checkpoint."""
    def run(out: str, *extra: str) -> dict:
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(WORLD), "-m", "training",
                   "fit", "--config", str(TINY), "--data", str(tiny_data), "--out", str(tmp_path / out),
                   "--set", "iterations=4", "--set", 'head.name="sphereface2"', *extra]
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
        return load_checkpoint(tmp_path / out / CHECKPOINT_NAME)

    plain = run("plain")
    run("sharded", "--set", "head.shard_classes=true", "--stop-at", "2")
    sharded = run("sharded", "--set", "head.shard_classes=true", "--resume")
    assert sharded["iteration"] == plain["iteration"] == 4
    # float32 sums in another order drift by ~1e-4 of a tensor's scale over 4 steps; a wrong gradient scale
    # (e.g. the features' gradient without the world-size factor) fails this.
    momenta = {f"momentum {i}": (sharded["optimizer"]["state"][i]["momentum_buffer"], state["momentum_buffer"])
               for i, state in plain["optimizer"]["state"].items()}
    pairs = {f"{part}.{name}": (sharded[part][name], tensor) for part in ("model", "head")
             for name, tensor in plain[part].items()}
    for name, (actual, expected) in {**pairs, **momenta}.items():
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-3 * float(expected.abs().max()) + 1e-7, msg=name)


def test_sharding_needs_the_sphereface2_head():
    with pytest.raises(InputError, match="head.shard_classes needs"):
        load_config(TINY, ["head.shard_classes=true"])  # the tiny config trains A-Softmax
    assert load_config(TINY, ["head.shard_classes=true", 'head.name="sphereface2"']).head.shard_classes
