"""`sphereapp-train export-onnx`: an embedder weights file as an ONNX model, checked against PyTorch.

The ONNX graph is the backbone alone: input `images` float32 (N, 3, 112, 96), RGB crops aligned to the
SphereFace template and already normalised as (x - 127.5) / 128 (`sphereapp.core.vision.models.normalize_input`);
output `embeddings` float32 (N, D), not L2-normalised (the app adds the flipped crop's embedding, then
normalises). N is a dynamic axis. The model file's info (architecture, threshold, model_id, ...) is copied
into the ONNX metadata_props.

torch 2.14's `torch.onnx.export` defaults to the dynamo exporter, which needs `onnxscript`; the legacy
TorchScript exporter (`dynamo=False`, deprecated but present) needs only `onnx` and handles this plain
conv/PReLU/linear network, so it is used here.
"""

from __future__ import annotations

import argparse
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sphereapp.core.errors import InputError, ModelFileError
from sphereapp.core.files import replacing
from sphereapp.core.vision.modelfile import ModelInfo, load_embedder
from sphereapp.core.vision.models.sphereface import INPUT_SIZE

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 9, 20  # the opsets torch's TorchScript exporter knows
INPUT_NAME, OUTPUT_NAME = "images", "embeddings"
INPUT_LAYOUT = "float32 (N,3,112,96) RGB aligned crops, normalised (x - 127.5) / 128"
CHECK_BATCH = 3
MIN_COSINE = 1.0 - 1e-3


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    """Register `export-onnx`."""
    p = commands.add_parser("export-onnx", help="export an embedder to ONNX (checked with onnxruntime if installed)",
                            description=f"Export the embedder backbone to ONNX: input '{INPUT_NAME}' "
                                        f"{INPUT_LAYOUT}, dynamic batch; output '{OUTPUT_NAME}' (N, D), not "
                                        "L2-normalised. The file is written only after it matches PyTorch "
                                        f"(cosine >= {MIN_COSINE} per row) when onnxruntime is installed.")
    p.add_argument("--weights", type=Path, required=True, help="embedder weights (.safetensors, .pt)")
    p.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default: {DEFAULT_OPSET})")
    p.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """CLI entry: export, check, say what was written."""
    model, info = load_embedder(args.weights, "cpu")
    worst = export_onnx(model, info, args.output, args.opset)
    if worst is None:
        print("onnxruntime not installed: skipped the check")
    else:
        print(f"onnxruntime check: worst cosine to PyTorch {worst:.6f} over {CHECK_BATCH} random inputs")
    print(f"wrote {args.output} ({info.architecture}, opset {args.opset}, input '{INPUT_NAME}' {INPUT_LAYOUT})")
    return 0


def export_onnx(model: nn.Module, info: ModelInfo, path: str | Path, opset: int = DEFAULT_OPSET) -> float | None:
    """Write `model` (float32, CPU) as ONNX to `path` atomically; returns the check's worst cosine (None: skipped).

    The file is exported to a temporary name beside `path`, checked with onnxruntime when it is installed,
    and renamed over `path` only when every row's cosine to PyTorch is >= MIN_COSINE.
    """
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InputError(f"--opset must be between {MIN_OPSET} and {MAX_OPSET}, got {opset}")
    if importlib.util.find_spec("onnx") is None:
        raise InputError("exporting to ONNX needs the 'onnx' package: pip install 'sphereapp[onnx]'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(path) as temporary:
            _export(model.eval(), temporary, opset)
            _add_metadata(temporary, info)
            worst = check_onnx(model, temporary)
            if worst is not None and worst < MIN_COSINE:
                raise ModelFileError(f"the ONNX export of '{info.architecture}' differs from PyTorch "
                                     f"(worst cosine {worst:.6f} < {MIN_COSINE}): nothing written")
    except OSError as error:
        raise ModelFileError(f"cannot write '{path}': {error.strerror or error}") from error
    return worst


def check_onnx(model: nn.Module, path: str | Path, seed: int = 0) -> float | None:
    """Worst per-row cosine between onnxruntime's and PyTorch's outputs on random inputs; None without onnxruntime."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    images = torch.randn(CHECK_BATCH, 3, *INPUT_SIZE, generator=torch.Generator().manual_seed(seed))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
    with torch.inference_mode():
        torch_out = model.eval()(images)
    cosines = F.cosine_similarity(torch.from_numpy(np.asarray(onnx_out)), torch_out, dim=1)
    return float(cosines.min())


def _export(model: nn.Module, path: Path, opset: int) -> None:
    """The legacy TorchScript exporter, batch axis dynamic (its deprecation warnings are expected and muted)."""
    example = torch.zeros(1, 3, *INPUT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})


def _add_metadata(path: Path, info: ModelInfo) -> None:
    """Copy the model file's info (and the input layout) into the ONNX file's metadata_props."""
    import onnx

    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {**info.to_metadata(), "input": INPUT_LAYOUT})
    onnx.save(proto, str(path))
