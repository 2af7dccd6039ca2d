"""Open-set identification: metrics against brute force on synthetic scores, the seeded split, the CLI."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open

from training.cli import main
from training.evaluation.openset import (
    best_matches,
    build_openset_split,
    detection_identification_rate,
    far_threshold,
    openset_curve,
    openset_report,
    pooled_openset_report,
)


def synthetic_scores(seed: int, n_gallery: int = 6, n_known: int = 40, n_unknown: int = 50):
    """Scores rounded to 0.05 so that ties happen; known probes lean towards their own identity."""
    rng = np.random.default_rng(seed)
    labels = np.r_[rng.integers(n_gallery, size=n_known), np.full(n_unknown, -1)]
    scores = rng.uniform(-0.2, 0.6, size=(labels.size, n_gallery))
    known = labels >= 0
    scores[np.flatnonzero(known), labels[known]] += rng.uniform(0.0, 0.5, size=n_known)
    return np.round(scores / 0.05) * 0.05, labels


def brute_force_dir_at_far(scores, labels, target):
    """Best DIR over every candidate threshold (each score, +-inf) whose FAR <= target, by explicit loops."""
    best_dir = 0.0
    for t in [-np.inf, np.inf, *np.unique(scores)]:
        false_accepts = sum(max(row) >= t for row, label in zip(scores, labels) if label < 0)
        if false_accepts / np.sum(labels < 0) > target:
            continue
        hits = sum(max(row) >= t and int(np.argmax(row)) == label for row, label in zip(scores, labels) if label >= 0)
        best_dir = max(best_dir, hits / np.sum(labels >= 0))
    return best_dir


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("target", [0.001, 0.02, 0.1, 0.3])
def test_dir_at_far_matches_brute_force(seed, target):
    scores, labels = synthetic_scores(seed)
    report = openset_report(scores, labels, fars=(target,))
    assert report.dir_at_far[f"{target:g}"] == pytest.approx(brute_force_dir_at_far(scores, labels, target))
    best, _ = best_matches(scores, labels)
    far_at_threshold = np.mean(best[labels < 0] >= report.threshold_at_far[f"{target:g}"])
    assert far_at_threshold <= target


def test_rank1_and_sizes():
    scores, labels = synthetic_scores(7)
    report = openset_report(scores, labels)
    expected = np.mean([np.argmax(row) == label for row, label in zip(scores, labels) if label >= 0])
    assert report.rank1 == pytest.approx(expected)
    assert (report.n_gallery, report.n_known, report.n_unknown) == (6, 40, 50)
    assert set(report.dir_at_far) == {"0.001", "0.01", "0.1"}
    assert report.app_threshold == report.threshold_at_far["0.01"]


def test_far_threshold_is_the_unknowns_quantile():
    unknown = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    assert 0.8 < far_threshold(unknown, 0.1) <= 0.9 + 1e-12  # one false accept allowed: 0.9 only
    assert far_threshold(unknown, 0.05) > 0.9  # none allowed
    assert far_threshold(np.array([0.5, 0.5, 0.5, 0.1]), 0.5) > 0.5  # ties: accepting 0.5 would give FAR 0.75
    assert far_threshold(unknown, 1.0) == -np.inf


def test_dir_requires_score_and_right_identity():
    best = np.array([0.9, 0.9, 0.4])
    correct = np.array([True, False, True])
    assert detection_identification_rate(best, correct, 0.5) == pytest.approx(1 / 3)
    assert detection_identification_rate(best, correct, 0.3) == pytest.approx(2 / 3)


def test_curve_is_monotone_and_ends_at_rank1_and_full_far():
    scores, labels = synthetic_scores(3)
    best, correct = best_matches(scores, labels)
    known = labels >= 0
    far, dir_, thresholds = openset_curve(best[known], correct[known], best[~known])
    assert far[0] == dir_[0] == 0 and thresholds[0] == np.inf
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(dir_) >= 0) and np.all(np.diff(thresholds) < 0)
    assert far[-1] == 1.0 and dir_[-1] == pytest.approx(np.mean(correct[known]))


def make_tree(root, counts):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(1, count + 1):
            (root / name / f"{name}_{i:04d}.jpg").write_bytes(b"")


def test_split_is_seeded_and_keeps_unknowns_out_of_the_gallery(tmp_path):
    make_tree(tmp_path, {"A": 3, "B": 2, "C": 5, "D": 1, "E": 1, "F": 1})
    split = build_openset_split(tmp_path, seed=1)
    assert [p.parent.name for p in split.gallery] == ["A", "B", "C"]
    assert split.n_known == 2 + 1 + 4 and split.n_unknown == 3
    assert not set(split.gallery) & set(split.probes)
    for path, label in zip(split.probes, split.probe_labels):
        assert (label < 0) == (path.parent.name in "DEF")
        if label >= 0:
            assert split.gallery[label].parent == path.parent
    again = build_openset_split(tmp_path, seed=1)
    assert again.gallery == split.gallery and again.probes == split.probes
    picks = {tuple(build_openset_split(tmp_path, seed=s).gallery) for s in range(10)}
    assert len(picks) > 1, "the seed chooses the gallery images"


def test_split_limits(tmp_path):
    make_tree(tmp_path, {"A": 3, "B": 2, "C": 5, "D": 1, "E": 1, "F": 1})
    split = build_openset_split(tmp_path, seed=0, max_gallery=2, max_unknown=1, max_probes_per_person=1)
    assert len(split.gallery) == 2 and split.n_known == 2 and split.n_unknown == 1


def test_pooled_draws_are_one_report_over_all_their_probes():
    draws = [synthetic_scores(seed) for seed in (1, 2, 3)]
    pooled = pooled_openset_report(draws, fars=(0.01, 0.1))
    scores, labels = np.concatenate([d[0] for d in draws]), np.concatenate([d[1] for d in draws])
    together = openset_report(scores, labels, fars=(0.01, 0.1))  # same gallery size: the rows simply stack
    assert pooled.threshold_at_far == together.threshold_at_far and pooled.dir_at_far == together.dir_at_far
    assert (pooled.n_known, pooled.n_unknown, pooled.draws, pooled.far_curve) == (120, 150, 3, together.far_curve)
    assert pooled.far_curve != openset_report(*draws[0]).far_curve  # not just the first draw
    with pytest.raises(ValueError, match="one gallery size"):
        pooled_openset_report([draws[0], synthetic_scores(4, n_gallery=5)])


def test_openset_cli_on_a_few_lfw_people(shared_data, tmp_path, untrained_model_file, one_torch_thread, capsys):
    out, plot = tmp_path / "openset.json", tmp_path / "dir.png"
    args = ["eval", "openset", "--lfw", str(shared_data / "lfw"), "--weights", str(untrained_model_file),
            "--max-gallery", "2", "--max-unknown", "3", "--max-probes-per-person", "2",
            "--cache", str(tmp_path / "crops.npy"), "--json", str(out), "--device", "cpu"]
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(plot)]
    except ImportError:
        plot = None
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["dir_at_far"]) == {"0.001", "0.01", "0.1"}
    assert report["n_gallery"] == 2 and report["n_unknown"] == 3 and 2 <= report["n_known"] <= 4
    assert 0.0 <= report["rank1"] <= 1.0
    assert "recommended app threshold (FAR 1%)" in capsys.readouterr().out
    assert plot is None or plot.is_file()


def test_openset_into_writes_the_calibration_keeping_the_weights(shared_data, tmp_path, untrained_model_file,
                                                                 one_torch_thread, capsys):
    from sphereapp.core.vision.modelfile import load_embedder

    weights = tmp_path / "model.safetensors"
    shutil.copyfile(untrained_model_file, weights)
    before = stored_tensors(weights)
    _, original = load_embedder(weights)
    out = tmp_path / "openset.json"
    args = ["eval", "openset", "--lfw", str(shared_data / "lfw"), "--weights", str(weights), "--max-gallery", "2",
            "--max-unknown", "40", "--max-probes-per-person", "1", "--cache", str(tmp_path / "crops.npy"),
            "--json", str(out), "--device", "cpu", "--into", str(weights)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    _, info = load_embedder(weights)
    assert info.model_id == original.model_id and f"model id {info.model_id} unchanged" in capsys.readouterr().out
    assert info.threshold == report["app_threshold"] and info.threshold != original.threshold
    assert [list(point) for point in info.far_curve] == report["far_curve"] and len(info.far_curve) > 5
    assert info.far_curve[0][1] == 1.0 and info.far_curve[-1][1] == 1 / 40
    assert info.calibration == "LFW open-set of 'lfw', seed 0, 2 gallery people, 40 unknown probes"
    after = stored_tensors(weights)
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert after[name].dtype == tensor.dtype and torch.equal(after[name], tensor)


def test_openset_draws_pool_several_seeded_galleries(shared_data, tmp_path, untrained_model_file, one_torch_thread,
                                                    capsys):
    from sphereapp.core.vision.modelfile import load_embedder

    out, calibrated = tmp_path / "openset.json", tmp_path / "calibrated.safetensors"
    args = ["eval", "openset", "--lfw", str(shared_data / "lfw"), "--weights", str(untrained_model_file),
            "--max-gallery", "2", "--max-unknown", "3", "--max-probes-per-person", "1", "--seed", "4", "--draws", "3",
            "--cache", str(tmp_path / "crops.npy"), "--json", str(out), "--device", "cpu", "--into", str(calibrated)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert (report["n_gallery"], report["n_known"], report["n_unknown"], report["draws"]) == (2, 6, 9, 3)
    assert "2 gallery people x 3 draws" in capsys.readouterr().out
    _, info = load_embedder(calibrated)
    assert info.threshold == report["app_threshold"]
    assert info.calibration == "LFW open-set of 'lfw', seeds 4-6, 2 gallery people, 3 unknown probes each"
    assert main(args[:-2] + ["--draws", "0"]) == 2  # one clear line, no traceback
    assert "--draws must be at least 1" in capsys.readouterr().err


def stored_tensors(path):
    with safe_open(path, framework="pt") as file:
        return {name: file.get_tensor(name) for name in file.keys()}
