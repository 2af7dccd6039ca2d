"""`sphereapp-train eval lfw|pairs|openset`: score an embedder file (10-fold verification, open-set identification)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sphereapp.core.errors import InputError
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.device import resolve_device
from sphereapp.core.vision.embed import Embedder
from sphereapp.core.vision.modelfile import load_embedder, write_calibration
from training.evaluation.lfw import read_lfw_pairs
from training.evaluation.metrics import VerificationReport, plot_roc
from training.evaluation.openset import OpenSetReport, build_openset_split, pooled_openset_report
from training.evaluation.pairs import VerificationPairs, read_pairs_csv
from training.lfw_probe import PairsProbe, cached_crops, default_cache_path
from training.teacher_eval import add_lfw_teacher_parser, make_teacher, teacher_features


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
        sub.add_argument("--weights", type=Path, required=True, nargs="+", metavar="WEIGHTS",
                         help="embedder weights (.safetensors); several are scored on the same pairs")
        sub.add_argument("--json", type=Path, metavar="OUT.json",
                         help="write the report as JSON (several weights: {\"models\": [report, ...]})")
        sub.add_argument("--plot", type=Path, metavar="ROC.png",
                         help="draw the ROC curve, one per weights file (needs matplotlib)")
        sub.add_argument("--cache", type=Path, help="aligned-crop cache file (default: in the sphereapp data folder)")
        sub.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
        sub.set_defaults(run=run_eval)
    add_openset_parser(protocols)
    add_lfw_teacher_parser(protocols)


def add_openset_parser(protocols: argparse._SubParsersAction) -> None:
    """Register `eval openset`: LFW open-set identification (DIR@FAR, rank-1, recommended threshold)."""
    sub = protocols.add_parser(
        "openset", help="LFW open-set identification: DIR at FAR 0.1/1/10%%, rank-1, the app threshold",
        description="Gallery: one image (seeded pick) of every LFW person with 2+ images; probes: their other "
                    "images (known) and every person with 1 image (unknown). Embeddings are the app's "
                    "(flip-fused, L2-normalised), so the threshold at FAR 1%% can be used in the app.")
    sub.add_argument("--lfw", type=Path, required=True, help="LFW folder (<name>/<name>_NNNN.jpg)")
    scored = sub.add_mutually_exclusive_group(required=True)
    scored.add_argument("--weights", type=Path, help="embedder weights (.safetensors)")
    scored.add_argument("--teacher", choices=("dlib", "mobilefacenet"),
                        help="score a distillation teacher instead (the ceiling; needs '.[teacher]')")
    sub.add_argument("--teacher-dir", type=Path, default=Path("../shared/teachers/mobilefacenet_ms1m"),
                     help="MobileFaceNet's folder (default: ../shared/teachers/mobilefacenet_ms1m)")
    sub.add_argument("--json", type=Path, metavar="OUT.json", help="write the report as JSON")
    sub.add_argument("--plot", type=Path, metavar="DIR.png", help="draw DIR against FAR (needs matplotlib)")
    sub.add_argument("--into", type=Path, metavar="OUT.safetensors",
                     help="write the weights (unchanged, same model id) with this calibration: the threshold at "
                          "FAR 1%% as the recommended one and the FAR curve the app explains thresholds with; "
                          "may be WEIGHTS itself")
    sub.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    sub.add_argument("--draws", type=int, default=1, metavar="N",
                     help="pool N splits (seeds SEED..SEED+N-1): with --max-gallery, the threshold of a gallery of "
                          "that size rather than of one set of people (default: 1)")
    sub.add_argument("--max-gallery", type=int, metavar="N", help="use N known people drawn by the seed")
    sub.add_argument("--max-unknown", type=int, metavar="N", help="use N unknown people drawn by the seed")
    sub.add_argument("--max-probes-per-person", type=int, metavar="N", help="at most N known probes per person")
    sub.add_argument("--cache", type=Path, help="aligned-crop cache file (default: in the sphereapp data folder)")
    sub.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    sub.set_defaults(run=run_openset)


def run_openset(args: argparse.Namespace) -> int:
    if args.draws < 1:
        raise InputError("--draws must be at least 1")
    if args.teacher and args.into:
        raise InputError("--into writes a calibration into weights: it cannot go with --teacher")
    seeds = range(args.seed, args.seed + args.draws)
    splits = [build_openset_split(args.lfw, seed, args.max_gallery, args.max_unknown, args.max_probes_per_person)
              for seed in seeds]
    images = sorted({path for split in splits for path in split.gallery + split.probes})  # each embedded once
    row = {path: k for k, path in enumerate(images)}
    device = resolve_device(args.device)
    if args.teacher:
        fused = teacher_features(images, make_teacher(args.teacher, args.teacher_dir), FaceDetector(device=device), {})
        scored, model_id, name = Path(args.teacher), "", args.teacher
    else:
        model, info = load_embedder(args.weights, device)
        crops = cached_crops(images, args.cache or default_cache_path(args.lfw, "openset"), device)
        fused = Embedder(model, info, device, fp16=False, bf16=False).embed(crops)  # the app's flip fusion, float32
        scored, model_id, name = args.weights, info.model_id, info.architecture
    draws = []
    for split in splits:
        gallery, probes = (fused[[row[path] for path in paths]] for paths in (split.gallery, split.probes))
        draws.append((probes @ gallery.T, split.probe_labels))
    report = pooled_openset_report(draws)
    print_openset_report(report, scored)
    if args.json:
        data = report.to_dict() | {"seed": args.seed, "weights": str(scored), "model_id": model_id}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot_roc({name: report.curve}, args.plot, title="LFW open-set identification",
                 ylabel="detection and identification rate")
    if args.into:
        unknown = report.n_unknown // args.draws
        where = (f"LFW open-set of '{args.lfw.resolve().name}', " + (
            f"seed {args.seed}, {report.n_gallery} gallery people, {unknown} unknown probes" if args.draws == 1 else
            f"seeds {seeds[0]}-{seeds[-1]}, {report.n_gallery} gallery people, {unknown} unknown probes each"))
        written = write_calibration(args.weights, args.into, threshold=report.app_threshold,
                                    far_curve=report.far_curve, calibration=where)
        print(f"wrote {args.into}: threshold {written.threshold:.3f} (FAR 1%) and the FAR curve "
              f"({len(written.far_curve)} points, {where}); model id {written.model_id} unchanged")
    return 0


def print_openset_report(report: OpenSetReport, weights: Path) -> None:
    draws = f" x {report.draws} draws" if report.draws > 1 else ""
    rates = ", ".join(f"DIR@FAR={far}: {value:.4f}" for far, value in report.dir_at_far.items())
    print(
        f"{weights.name}: open-set ({report.n_gallery} gallery people{draws}, {report.n_known} known and "
        f"{report.n_unknown} unknown probes): rank-1 {report.rank1:.4f}; {rates}; "
        f"recommended app threshold (FAR 1%): {report.app_threshold:.3f}",
        file=sys.stdout,
    )


def run_eval(args: argparse.Namespace) -> int:
    if args.protocol == "lfw":
        pairs_file = args.pairs or args.lfw / "pairs.txt"
        pairs: VerificationPairs = read_lfw_pairs(pairs_file, args.lfw)
    else:
        pairs_file = args.pairs
        pairs = read_pairs_csv(pairs_file)
    cache = args.cache or default_cache_path(pairs_file, "pairs")
    device = resolve_device(args.device)
    models = [load_embedder(weights, device) for weights in args.weights]  # a bad file fails before any alignment
    probe = PairsProbe(pairs, cache, device)
    reports, curves = [], {}
    for weights, (model, info) in zip(args.weights, models):
        result = probe.evaluate(model)
        print_report(result.report, result.app_threshold, weights)
        data = json.loads(result.report.to_json())
        reports.append(data | {"weights": str(weights), "model_id": info.model_id,
                               "app_threshold": result.app_threshold})
        curves[str(weights) if len(args.weights) > 1 else info.architecture] = result.report
    if args.json:
        data = reports[0] if len(reports) == 1 else {"models": reports}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        title = f"{args.protocol.upper()} ROC: {len(pairs.same):,} pairs of '{pairs_file.parent.name}'"
        plot_roc(curves, args.plot, title=title)
    return 0


def print_report(report: VerificationReport, app_threshold: float, weights: Path) -> None:
    tar = ", ".join(f"TAR@FAR={far}: {value:.4f}" for far, value in report.tar_at_far.items())
    print(
        f"{weights.name}: accuracy {100 * report.accuracy:.2f}% ± {100 * report.std:.2f} (10-fold, {report.n_pairs} "
        f"pairs); {tar}; AUC {report.auc:.4f}; EER {report.eer:.4f}; best threshold {report.threshold:.3f} "
        f"(app's flip-fused cosine: {app_threshold:.3f})",
        file=sys.stdout,
    )
