"""`sphereapp-train export-onnx`: a SphereFace-4 exported with a dynamic batch, run by onnxruntime."""

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sphereapp.core.vision.modelfile import load_embedder
from training import export
from training.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")
onnx = pytest.importorskip("onnx")


def test_export_matches_torch_on_any_batch(untrained_model_file, tmp_path, capsys):
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    assert main(["export-onnx", "--weights", str(untrained_model_file), "-o", str(out), "--opset", "17"]) == 0
    assert "worst cosine" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"], "no temporary file is left"

    model, info = load_embedder(untrained_model_file)
    images = torch.randn(5, 3, 112, 96, generator=torch.Generator().manual_seed(1))  # not the exported batch of 1
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (embeddings,) = session.run(["embeddings"], {"images": images.numpy()})
    with torch.inference_mode():
        expected = model(images)
    assert embeddings.shape == (5, 512)
    assert F.cosine_similarity(torch.from_numpy(embeddings), expected, dim=1).min() > 1 - 1e-4
    np.testing.assert_allclose(embeddings, expected.numpy(), rtol=1e-3, atol=1e-4 * float(expected.abs().max()))

    proto = onnx.load(str(out))
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["model_id"] == info.model_id and metadata["architecture"] == "sphereface4"
    assert float(metadata["threshold"]) == info.threshold
    assert proto.opset_import[0].version == 17


def test_export_without_onnxruntime_skips_the_check(untrained_model_file, tmp_path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "onnxruntime" else find_spec(name, *args))
    out = tmp_path / "model.onnx"
    assert main(["export-onnx", "--weights", str(untrained_model_file), "-o", str(out)]) == 0
    assert "onnxruntime not installed: skipped the check" in capsys.readouterr().out
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_failed_check_writes_nothing(untrained_model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(export, "check_onnx", lambda model, path: 0.5)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous")
    assert main(["export-onnx", "--weights", str(untrained_model_file), "-o", str(out)]) == 2
    assert "worst cosine 0.500000" in capsys.readouterr().err
    assert out.read_bytes() == b"previous" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("arguments, message", [(["--opset", "99"], "--opset must be between"),
                                                 (["--weights", "missing.safetensors"], "file not found")])
def test_bad_arguments_fail_in_one_line(untrained_model_file, tmp_path, capsys, arguments, message):
    argv = ["export-onnx", "--weights", str(untrained_model_file), "-o", str(tmp_path / "m.onnx"), *arguments]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())
