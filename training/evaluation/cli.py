"""`sphereapp-train eval lfw|pairs`: score an embedder file with the 10-fold verification protocol."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sphereapp.core.device import resolve_device
from sphereapp.core.modelfile import load_embedder
from training.evaluation.lfw import read_lfw_pairs
from training.evaluation.metrics import VerificationReport, plot_roc
from training.evaluation.pairs import VerificationPairs, read_pairs_csv
from training.lfw_probe import PairsProbe
from training.teacher_eval import add_lfw_teacher_parser


def add_eval_parser(commands: argparse._SubParsersAction) -> None:
    """Register `eval` with its `lfw` and `pairs` protocols."""
    parser = commands.add_parser("eval", help="verification accuracy of a weights file (LFW or any pair list)",
                                 description="10-fold verification: threshold chosen on 9 folds, accuracy on the "
                                             "10th (wy1iu/sphereface evaluation.m).")
    protocols = parser.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    lfw = protocols.add_parser("lfw", help="LFW View 2 (pairs.txt, 6,000 pairs)")
    lfw.add_argument("--lfw", type=Path, required=True, help="LFW folder (<name>/<name>_NNNN.jpg)")
    lfw.add_argument("--pairs", type=Path, help="pairs.txt (default: LFW_DIR/pairs.txt)")
    pairs = protocols.add_parser("pairs", help="any CSV of image pairs (header path1,path2,same)")
    pairs.add_argument("--pairs", type=Path, required=True, help="CSV file: path1,path2,same (1/0)")
    for sub in (lfw, pairs):
        sub.add_argument("--weights", type=Path, required=True, help="embedder weights (.safetensors)")
        sub.add_argument("--json", type=Path, metavar="OUT.json", help="write the report as JSON")
        sub.add_argument("--plot", type=Path, metavar="ROC.png", help="draw the ROC curve (needs matplotlib)")
        sub.add_argument("--cache", type=Path, help="aligned-crop cache file (default: beside the pair list)")
        sub.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
        sub.set_defaults(run=run_eval)
    add_lfw_teacher_parser(protocols)


def run_eval(args: argparse.Namespace) -> int:
    if args.protocol == "lfw":
        pairs_file = args.pairs or args.lfw / "pairs.txt"
        pairs: VerificationPairs = read_lfw_pairs(pairs_file, args.lfw)
    else:
        pairs_file = args.pairs
        pairs = read_pairs_csv(pairs_file)
    cache = args.cache or pairs_file.with_name(f".{pairs_file.stem}.crops112x96.npy")
    device = resolve_device(args.device)
    model, info = load_embedder(args.weights, device)
    result = PairsProbe(pairs, cache, device).evaluate(model)
    report = result.report
    print_report(report, result.app_threshold, args.weights)
    if args.json:
        data = json.loads(report.to_json())
        data.update(weights=str(args.weights), model_id=info.model_id, app_threshold=result.app_threshold)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot_roc({info.architecture: report}, args.plot, title=f"{args.protocol.upper()} ROC")
    return 0


def print_report(report: VerificationReport, app_threshold: float, weights: Path) -> None:
    tar = ", ".join(f"TAR@FAR={far}: {value:.4f}" for far, value in report.tar_at_far.items())
    print(
        f"{weights.name}: accuracy {100 * report.accuracy:.2f}% ± {100 * report.std:.2f} (10-fold, {report.n_pairs} "
        f"pairs); {tar}; AUC {report.auc:.4f}; EER {report.eer:.4f}; best threshold {report.threshold:.3f} "
        f"(app's flip-fused cosine: {app_threshold:.3f})",
        file=sys.stdout,
    )
