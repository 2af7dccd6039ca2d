"""Embedder (flip fusion, batching, validation) and model files (safetensors round trip, ids, safe loading, errors)."""

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sphereapp.core.errors import ModelFileError
from sphereapp.core.vision import modelfile
from sphereapp.core.vision.embed import Embedder
from sphereapp.core.vision.modelfile import (
    UNCALIBRATED_THRESHOLD,
    ModelInfo,
    compute_model_id,
    load_embedder,
    save_embedder,
)
from sphereapp.core.vision.models import build_model, normalize_input

from fakes import RunsAShellCommand

SMALL_EMBEDDING = 32  # keeps fc5 (and the files) small
INFO = ModelInfo("sphereface4", SMALL_EMBEDDING, 0.42, "random weights", recipe="none", lfw="n/a")


def make_model(seed: int = 0, architecture: str = "sphereface4", embedding_size: int = SMALL_EMBEDDING):
    torch.manual_seed(seed)
    return build_model(architecture, embedding_size=embedding_size)


def make_crops(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 112, 96, 3), dtype=np.uint8)


def make_embedder(batch_size: int = 64, embedding_size: int = SMALL_EMBEDDING) -> Embedder:
    info = replace(INFO, embedding_size=embedding_size)
    return Embedder(make_model(embedding_size=embedding_size), info, "cpu", batch_size=batch_size, bf16=False)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def assert_one_line_error(path: Path, *fragments: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as raised:
        load_embedder(path, "cpu")
    message = str(raised.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message
    return raised.value


@pytest.fixture
def saved(tmp_path) -> tuple[Path, torch.nn.Module, ModelInfo]:
    """A model saved with fp16 weights, the model itself and the info save_embedder returned."""
    model = make_model()
    path = tmp_path / "model.safetensors"
    return path, model, save_embedder(path, model, INFO)


def rewrite(source: Path, target: Path, **metadata_changes: str | None) -> Path:
    """Copy a model file's tensors with changed metadata (None removes a key)."""
    with safe_open(source, framework="pt") as file:
        metadata = dict(file.metadata())
    for key, value in metadata_changes.items():
        if value is None:
            metadata.pop(key)
        else:
            metadata[key] = value
    save_file(load_file(source), target, metadata=metadata)
    return target


# ---- Embedder ----


def test_embeddings_are_normalised_float32_rows():
    embeddings = make_embedder().embed(make_crops(3))
    assert embeddings.shape == (3, SMALL_EMBEDDING) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    assert cosine(embeddings[:1], embeddings[1:2])[0] < 0.9999  # different faces, different embeddings


def test_embedding_size_follows_the_model():
    assert make_embedder(embedding_size=512).embed(make_crops(2)).shape == (2, 512)


def test_sphereface20_embeds_two_crops():
    model = make_model(architecture="sphereface20", embedding_size=512)
    embedder = Embedder(model, replace(INFO, architecture="sphereface20", embedding_size=512), "cpu")
    embeddings = embedder.embed(make_crops(2))
    assert embeddings.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)


def test_flip_fusion_is_the_normalised_sum_and_flip_invariant():
    embedder = make_embedder()
    crops = make_crops(3)
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    with torch.inference_mode():
        plain = embedder.model(normalize_input(torch.from_numpy(crops)))
        flipped = embedder.model(normalize_input(torch.from_numpy(mirrored)))
    assert not torch.allclose(F.normalize(plain), F.normalize(flipped), atol=1e-3)  # the net alone is not invariant
    expected = F.normalize(plain + flipped).numpy()
    np.testing.assert_allclose(embedder.embed(crops), expected, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(crops[:, :, ::-1]), embedder.embed(crops), atol=1e-5)  # a view


def test_batching_does_not_change_the_result():
    crops = make_crops(5)
    np.testing.assert_allclose(make_embedder(batch_size=2).embed(crops), make_embedder().embed(crops), atol=1e-5)


def test_empty_input_gives_an_empty_matrix():
    embeddings = make_embedder().embed(np.zeros((0, 112, 96, 3), np.uint8))
    assert embeddings.shape == (0, SMALL_EMBEDDING) and embeddings.dtype == np.float32


@pytest.mark.parametrize(
    "crops",
    [
        np.zeros((2, 112, 96, 3), np.float32),
        np.zeros((2, 112, 112, 3), np.uint8),
        np.zeros((112, 96, 3), np.uint8),
        [np.zeros((112, 96, 3), np.uint8)],
    ],
    ids=["float", "112x112", "unbatched", "list"],
)
def test_wrong_crops_are_refused(crops):
    with pytest.raises(ValueError, match="uint8 crops of shape"):
        make_embedder().embed(crops)


def test_embedder_puts_the_model_in_eval_mode_and_fp16_only_on_cuda():
    model = make_model().train()
    embedder = Embedder(model, INFO, "cpu", fp16=True)
    assert not embedder.model.training
    assert embedder.fp16 is False and embedder.device == torch.device("cpu")
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(model, INFO, "cpu", batch_size=0)


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no bfloat16 kernels")
def test_cpu_bfloat16_embeddings_match_float32():
    model = make_model(architecture="sphereface20", embedding_size=512)
    info = replace(INFO, architecture="sphereface20", embedding_size=512)
    fast, exact = Embedder(model, info, "cpu"), Embedder(model, info, "cpu", bf16=False)
    assert fast.bf16 and not exact.bf16
    crops = make_crops(4)
    assert cosine(fast.embed(crops), exact.embed(crops)).min() > 0.999


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_embeddings_match_float32():
    crops = make_crops(4)
    half = Embedder(make_model(), INFO, "cuda")
    full = Embedder(make_model(), INFO, "cuda", fp16=False)
    assert half.fp16 and not full.fp16
    assert cosine(half.embed(crops), full.embed(crops)).min() > 0.999
    np.testing.assert_allclose(full.embed(crops), make_embedder().embed(crops), atol=1e-4)


def test_from_file_gives_the_same_embeddings_as_the_saved_model(saved):
    path, model, _ = saved
    crops = make_crops(4)
    original = Embedder(model, INFO, "cpu").embed(crops)
    loaded = Embedder.from_file(path, "cpu", batch_size=3)
    assert loaded.info.architecture == "sphereface4" and loaded.batch_size == 3
    assert cosine(loaded.embed(crops), original).min() > 0.9995  # fp16 weights on disk
    np.testing.assert_allclose(loaded.embed(crops), original, atol=5e-3)


# ---- model files ----


def test_save_writes_fp16_tensors_and_the_info_as_metadata(saved):
    path, _, info = saved
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        dtypes = {file.get_tensor(name).dtype for name in file.keys()}
    assert dtypes == {torch.float16}
    assert metadata["architecture"] == "sphereface4" and metadata["embedding_size"] == str(SMALL_EMBEDDING)
    assert float(metadata["threshold"]) == 0.42 and metadata["model_id"] == info.model_id
    assert len(info.model_id) == 16 and int(info.model_id, 16) >= 0


def test_the_info_describes_itself_one_fact_a_line(saved):
    info = saved[2]
    lines = info.describe().splitlines()
    assert lines[0] == f"sphereface4, {SMALL_EMBEDDING}-d embedding, model id {info.model_id}"
    assert lines[-1] == "Recommended threshold: 0.420 (not calibrated)" and all(lines)
    calibrated = replace(info, far_curve=((0.3, 0.5), (0.42, 0.01)), calibration="LFW open-set, a test", lfw="")
    assert calibrated.describe().splitlines()[-1] == (
        "Recommended threshold: 0.420 (\u22481% of strangers accepted; measured on LFW open-set, a test)")
    assert not any(line.startswith("Verification") for line in calibrated.describe().splitlines())


def test_load_round_trip_restores_info_and_float32_weights(saved):
    path, model, info = saved
    loaded, loaded_info = load_embedder(path, torch.device("cpu"))
    assert loaded_info == info and replace(loaded_info, model_id="") == INFO
    assert not loaded.training
    for name, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32 and tensor.device.type == "cpu"
        torch.testing.assert_close(tensor, model.state_dict()[name].half().float(), rtol=0, atol=0)


def test_model_id_is_stable_and_tracks_the_weights(saved, tmp_path):
    path, _, info = saved
    loaded, loaded_info = load_embedder(path, "cpu")
    assert save_embedder(tmp_path / "again.safetensors", loaded, loaded_info).model_id == info.model_id
    assert save_embedder(tmp_path / "fp32.safetensors", loaded, loaded_info, fp16=False).model_id != info.model_id
    assert save_embedder(tmp_path / "other.safetensors", make_model(seed=1), INFO).model_id != info.model_id
    assert compute_model_id(load_file(path)) == info.model_id


def test_fp32_save_round_trip_is_exact(tmp_path):
    model = make_model()
    path = tmp_path / "fp32.safetensors"
    save_embedder(path, model, INFO, fp16=False)
    loaded, _ = load_embedder(path, "cpu")
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name])


def test_save_is_atomic(saved, monkeypatch):
    path, model, _ = saved
    before = path.read_bytes()

    def fail_to_rename(source, target):
        assert Path(source).stat().st_size > 0  # the new weights were written, beside the target
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(modelfile.os, "replace", fail_to_rename)
    with pytest.raises(ModelFileError, match="Read-only file system"):
        save_embedder(path, make_model(seed=3), INFO)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_saved_file_gets_the_usual_permissions(saved):
    umask = os.umask(0)
    os.umask(umask)
    assert saved[0].stat().st_mode & 0o777 == 0o666 & ~umask


def test_saving_a_model_that_does_not_fit_its_info_is_refused(tmp_path):
    path = tmp_path / "wrong.safetensors"
    with pytest.raises(ModelFileError, match="do not fit sphereface20"):
        save_embedder(path, make_model(), replace(INFO, architecture="sphereface20"))
    assert not path.exists()


def test_missing_file(tmp_path):
    assert_one_line_error(tmp_path / "nope.safetensors", "not found")


@pytest.mark.parametrize("content", [b"", os.urandom(2000), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      "])
def test_bytes_that_are_not_safetensors(tmp_path, content):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(content)
    assert_one_line_error(path, "not a valid safetensors file")


def test_truncated_file(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[:-100])
    assert_one_line_error(path, "not a valid safetensors file")


def test_flipped_tensor_byte_is_detected(saved):
    path = saved[0]
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert_one_line_error(path, "corrupt")


def test_missing_metadata_keys(saved, tmp_path):
    path = rewrite(saved[0], tmp_path / "bare.safetensors", architecture=None, threshold=None)
    assert_one_line_error(path, "not a sphereapp embedder", "architecture", "threshold")


def test_malformed_metadata_value(saved, tmp_path):
    assert_one_line_error(rewrite(saved[0], tmp_path / "bad.safetensors", threshold="high"), "threshold 'high'")


def test_unknown_architecture(saved, tmp_path):
    path = rewrite(saved[0], tmp_path / "unknown.safetensors", architecture="resnet50")
    assert_one_line_error(path, "unknown architecture 'resnet50'", "sphereface20")


def test_tensor_names_that_do_not_fit_the_architecture(saved, tmp_path):
    path = rewrite(saved[0], tmp_path / "deeper.safetensors", architecture="sphereface20")
    assert_one_line_error(path, "do not fit sphereface20", "missing stages.")


def test_tensor_shapes_that_do_not_fit_the_embedding_size(saved, tmp_path):
    path = rewrite(saved[0], tmp_path / "wider.safetensors", embedding_size="64")
    assert_one_line_error(path, "fc5.weight is (32, 21504) not (64, 21504)")


def test_plain_state_dict_in_a_pt_file(tmp_path):
    model = make_model()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    loaded, info = load_embedder(path, "cpu")
    assert info.architecture == "sphereface4" and info.embedding_size == SMALL_EMBEDDING
    assert info.threshold == UNCALIBRATED_THRESHOLD and len(info.model_id) == 16
    assert all(torch.equal(t, model.state_dict()[name]) for name, t in loaded.state_dict().items())


def test_pt_checkpoint_with_info(tmp_path):
    model = make_model(embedding_size=512)
    path = tmp_path / "checkpoint.pth"
    info = replace(INFO, embedding_size=512, threshold=0.27)
    torch.save({"state_dict": model.state_dict(), "info": info.to_metadata()}, path)
    assert replace(load_embedder(path, "cpu")[1], model_id="") == info


def test_pt_state_dict_of_an_unknown_network(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"fc5.weight": torch.zeros(8, 10), "conv.weight": torch.zeros(3)}, path)
    assert_one_line_error(path, "fit none of the architectures")


def test_pt_garbage_bytes(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"definitely not a pickle")
    assert_one_line_error(path, "not a PyTorch weights file")


def test_pickled_code_in_a_pt_file_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"fc5.weight": torch.zeros(2, 2), "payload": RunsAShellCommand(marker)}, path)
    assert_one_line_error(path, "never unpickled")
    assert not marker.exists()
