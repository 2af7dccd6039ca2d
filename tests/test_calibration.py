"""Threshold meaning: the FAR curve lookup, its points from open-set scores, and the curve in model files."""

import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sphereapp.core.errors import ModelFileError
from sphereapp.core.vision import modelfile
from sphereapp.core.vision.calibration import check_far_curve, describe_threshold, far_at
from sphereapp.core.vision.modelfile import ModelInfo, load_embedder, save_embedder, write_calibration
from sphereapp.core.vision.models import build_model
from training.evaluation.openset import FAR_CURVE_POINTS, far_curve_points

CURVE = ((0.1, 1.0), (0.3, 0.1), (0.5, 0.01))


def test_far_at_is_exact_at_points_log_interpolated_between_and_clamped():
    assert far_at(CURVE, 0.3) == pytest.approx(0.1)
    assert far_at(CURVE, 0.4) == pytest.approx(np.sqrt(0.1 * 0.01))  # halfway in log(FAR)
    assert far_at(CURVE, -0.2) == pytest.approx(1.0)
    assert far_at(CURVE, 0.9) == pytest.approx(0.01)


def test_threshold_descriptions():
    assert describe_threshold(CURVE, 0.5) == "\u22481% of strangers accepted"
    assert describe_threshold(CURVE, 0.4) == "\u22483.2% of strangers accepted"
    assert describe_threshold(CURVE, 0.0) == "\u2248100% of strangers accepted"
    assert describe_threshold(CURVE, 0.51) == "<1% of strangers accepted"  # past the last measured point
    assert describe_threshold((), 0.4) == "not calibrated"


@pytest.mark.parametrize("points", [
    [(0.5, 0.1), (0.4, 0.05)],  # thresholds fall
    [(0.1, 0.1), (0.2, 0.5)],  # FAR rises
    [(0.1, 0.0)],  # FAR 0 cannot be measured
    [(0.1, 1.5)],
    [(0.1, float("nan"))],
    [[1]],
    "abc",
    5,
])
def test_bad_curves_are_refused(points):
    with pytest.raises(ValueError, match="far_curve"):
        check_far_curve(points)


@pytest.mark.parametrize("rounding", [None, 0.01])  # 0.01: many ties
def test_curve_points_are_exact_monotone_and_few(rounding):
    unknown = np.random.default_rng(0).normal(0.2, 0.1, 2000)
    if rounding:
        unknown = np.round(unknown / rounding) * rounding
    points = far_curve_points(unknown)
    assert len(points) <= FAR_CURVE_POINTS and check_far_curve(points)
    assert points[0] == (unknown.min(), 1.0) and points[-1][0] == unknown.max()
    for threshold, far in points:
        assert far == np.mean(unknown >= threshold)
    assert points[-1][1] < 0.002  # down to the last few unknowns


def small_model():
    torch.manual_seed(0)
    return build_model("sphereface4", embedding_size=8)


INFO = ModelInfo("sphereface4", 8, 0.42, "random weights")


def test_curve_round_trips_through_a_model_file_and_old_files_have_none(tmp_path):
    calibrated = ModelInfo("sphereface4", 8, 0.42, "random weights", far_curve=CURVE, calibration="somewhere")
    save_embedder(tmp_path / "c.safetensors", small_model(), calibrated)
    _, info = load_embedder(tmp_path / "c.safetensors")
    assert info.far_curve == CURVE and info.calibration == "somewhere"
    save_embedder(tmp_path / "plain.safetensors", small_model(), INFO)
    tensors = {}
    with safe_open(tmp_path / "plain.safetensors", framework="pt") as file:
        metadata = file.metadata()
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    old = {key: value for key, value in metadata.items() if key not in ("far_curve", "calibration")}
    save_file(tensors, tmp_path / "old.safetensors", metadata=old)  # as written before calibration existed
    _, info = load_embedder(tmp_path / "old.safetensors")
    assert (info.far_curve, info.calibration, info.threshold) == ((), "", 0.42)


def test_bad_curve_metadata_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    save_embedder(path, small_model(), INFO)
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata() | {"far_curve": json.dumps([[0.5, 0.1], [0.4, 0.2]])}
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    save_file(tensors, path, metadata=metadata)
    with pytest.raises(ModelFileError, match="bad metadata .*far_curve") as refused:
        load_embedder(path)
    assert "\n" not in str(refused.value)


def stored_tensors(path):
    with safe_open(path, framework="pt") as file:
        return {name: file.get_tensor(name) for name in file.keys()}


@pytest.mark.parametrize("in_place", [False, True])
def test_write_calibration_keeps_the_tensors_bit_for_bit(tmp_path, in_place):
    source = tmp_path / "m.safetensors"
    saved = save_embedder(source, small_model(), INFO)
    before = stored_tensors(source)
    target = source if in_place else tmp_path / "calibrated.safetensors"
    written = write_calibration(source, target, threshold=0.37, far_curve=CURVE, calibration="LFW open-set, seed 0")
    assert written.model_id == saved.model_id
    _, info = load_embedder(target)
    assert (info.threshold, info.far_curve, info.calibration, info.model_id) == (
        0.37, CURVE, "LFW open-set, seed 0", saved.model_id)
    after = stored_tensors(target)
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert after[name].dtype == tensor.dtype and torch.equal(after[name], tensor)
    assert sorted(os.listdir(tmp_path)) == sorted({source.name, target.name})  # no temp file left


def test_write_calibration_refuses_other_targets_and_leaves_the_file_on_failure(tmp_path, monkeypatch):
    source = tmp_path / "m.safetensors"
    save_embedder(source, small_model(), INFO)
    original = source.read_bytes()
    with pytest.raises(ModelFileError, match="must end in .safetensors"):
        write_calibration(source, tmp_path / "m.pt", threshold=0.3, far_curve=CURVE, calibration="x")
    with pytest.raises(ModelFileError, match="file not found"):
        write_calibration(tmp_path / "none.safetensors", source, threshold=0.3, far_curve=CURVE, calibration="x")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(modelfile, "serialize", full_disk)
    with pytest.raises(ModelFileError, match="No space left"):
        write_calibration(source, source, threshold=0.3, far_curve=CURVE, calibration="x")
    assert source.read_bytes() == original and os.listdir(tmp_path) == ["m.safetensors"]
