"""LFW verification under the app's conditions: what the mirror image buys, and how small a face can be.

  flip   - 10-fold accuracy and TAR@FAR=1e-3 of the paper's concat(f(x), f(flip x)), the app's f(x) + f(flip x),
           and f(x) alone (twice as fast to embed);
  small  - one face of each pair (the probe) shrunk so that its eyes are E px apart and blown back up to 112x96,
           as aligning a small face in a video frame does (bilinear), the other left sharp (the gallery photo):
           accuracy over the first --folds folds, and at the model's threshold the share of true pairs accepted
           (TAR) and of strangers accepted (FAR). Landmarks stay exact, so real small faces, whose landmarks are
           noisier, do somewhat worse.

    python scripts/lfw_conditions.py flip --model sphereapp/assets/sphereface20.safetensors
    python scripts/lfw_conditions.py small --model sphereapp/assets/sphereface20.safetensors --eyes 4 6 8 12 24 35.2

Uses the aligned-crop cache of `sphereapp-train eval lfw` (made on first use).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from sphereapp.core.vision.align import CROP_SIZE, TEMPLATE_112x96
from sphereapp.core.vision.embed import Embedder
from sphereapp.core.vision.modelfile import load_embedder
from training.evaluation.lfw import evaluate_pairs, read_lfw_pairs
from training.evaluation.metrics import cosine_scores, verification_report
from training.lfw_probe import PairsProbe, default_cache_path

DEFAULT_LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw"
TEMPLATE_EYE_DISTANCE = float(np.linalg.norm(TEMPLATE_112x96[1] - TEMPLATE_112x96[0]))  # 35.2 px


def shrink(crops: np.ndarray, eyes: float) -> np.ndarray:
    """Aligned crops as they come out of a face whose eyes are `eyes` px apart: area-downscaled by
    eyes / 35.2, then bilinearly back to 112x96."""
    factor = eyes / TEMPLATE_EYE_DISTANCE
    if factor >= 1.0:
        return crops
    height, width = CROP_SIZE
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.stack([cv2.resize(cv2.resize(crop, small, interpolation=cv2.INTER_AREA), (width, height),
                                interpolation=cv2.INTER_LINEAR) for crop in crops])


def flip_report(probe: PairsProbe, model: torch.nn.Module) -> dict:
    """Accuracy (%) and TAR@FAR=1e-3 of the three ways to use the mirror image."""
    plain, mirrored = probe.embeddings(model)
    row = probe.row
    report = {}
    for name, features in (("concat (paper)", np.concatenate([plain, mirrored], axis=1)),
                           ("sum (app)", plain + mirrored), ("no mirror image", plain)):
        result = evaluate_pairs(probe.pairs.pairs, probe.pairs.same, probe.pairs.folds,
                                lambda paths, f=features: f[[row[p] for p in paths]])
        report[name] = {"accuracy": round(100 * result.accuracy, 2), "std": round(100 * result.std, 2),
                        "tar_at_far_1e-3": round(result.tar_at_far["0.001"], 4)}
        print(f"{name:16s} {result.accuracy:.2%} ± {result.std:.2%}, TAR@FAR=1e-3 {result.tar_at_far['0.001']:.3f}",
              flush=True)
    return report


def small_report(probe: PairsProbe, embedder: Embedder, eyes: list[float], folds: int) -> dict:
    """Accuracy (%) and TAR/FAR at the model's threshold with the probe of each pair at each eye distance."""
    pairs = probe.pairs
    chosen = np.flatnonzero(pairs.folds < folds)
    row = probe.row
    gallery = embedder.embed(probe.crops[[row[pairs.pairs[k][0]] for k in chosen]])
    probes = probe.crops[[row[pairs.pairs[k][1]] for k in chosen]]
    same, threshold = pairs.same[chosen], embedder.info.threshold
    rows = []
    for distance in eyes:
        scores = cosine_scores(gallery, embedder.embed(shrink(probes, distance)))
        result = verification_report(scores, same, pairs.folds[chosen])
        tar, far = float((scores[same] >= threshold).mean()), float((scores[~same] >= threshold).mean())
        rows.append({"eyes_px": distance, "accuracy": round(100 * result.accuracy, 2),
                     "std": round(100 * result.std, 2), "tar": round(tar, 4), "far": round(far, 4)})
        print(f"eyes {distance:5.1f} px: {result.accuracy:.2%} ± {result.std:.2%}; at {threshold:.3f}: "
              f"TAR {tar:.3f}, FAR {far:.4f}", flush=True)
    return {"threshold": threshold, "folds": folds, "pairs": int(len(chosen)), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["flip", "small"])
    parser.add_argument("--model", type=Path, required=True, help="embedder weights (.safetensors)")
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="LFW folder with pairs.txt")
    parser.add_argument("--eyes", type=float, nargs="+", default=[4, 5, 6, 8, 10, 12, 16, 24, TEMPLATE_EYE_DISTANCE],
                        metavar="PX", help="probe eye distances for `small`")
    parser.add_argument("--folds", type=int, default=4, help="folds of pairs.txt used by `small` (2-10)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 2 <= args.folds <= 10:
        parser.error("--folds must be between 2 and 10")
    if not (args.lfw / "pairs.txt").is_file():
        print(f"error: no pairs.txt in {args.lfw}", file=sys.stderr)
        return 2
    device = torch.device("cpu")
    pairs_file = args.lfw / "pairs.txt"
    probe = PairsProbe(read_lfw_pairs(pairs_file, args.lfw), default_cache_path(pairs_file, "pairs"), device)
    if args.what == "flip":
        report = flip_report(probe, load_embedder(args.model, device)[0])
    else:
        report = small_report(probe, Embedder.from_file(args.model, device), args.eyes, args.folds)
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), args.what: report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
