"""`sphereapp-train`: prepare training data, fit a model, evaluate it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sphereapp.core.errors import SphereappError
from sphereapp.core.memory import reuse_large_blocks
from training.bank_cli import add_bank_parser

EXIT_USAGE = 2
EXAMPLES = """examples:
  sphereapp-train prepare ../shared/data/train data/small --exclude ../shared/data/train/in_lfw_pairs.txt \\
      --aligned-glob 'glint_*'
  sphereapp-train fit --config configs/small_sphereface20_asoftmax.toml --data data/small --out runs/small
  sphereapp-train fit --config configs/small_sphereface20_asoftmax.toml --data data/small --out runs/small --resume
  sphereapp-train teacher data/small        # dlib teacher embeddings for distillation (pip install '.[teacher]')
  sphereapp-train merge data/all data/small data/lfw --same-person ../shared/data/train/in_lfw_pairs.txt \
      --min-images 2                        # one training set of several prepared folders
  sphereapp-train export-onnx --weights runs/small/embedder.safetensors -o sphereface20.onnx
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a user-facing failure prints one line to stderr and returns 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    reuse_large_blocks()  # activations and batches: reused heap blocks, not fresh zeroed pages each step
    try:
        return args.run(args)
    except SphereappError as error:
        print(f"sphereapp-train {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the prepare, fit, eval, export-onnx, teacher, merge and bank subcommands."""
    parser = argparse.ArgumentParser(
        prog="sphereapp-train", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Prepare face training data, train SphereFace embedders, evaluate them.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare(commands)
    _add_fit(commands)
    _add_eval(commands)
    _add_export(commands)
    _add_teacher(commands)
    _add_merge(commands)
    add_bank_parser(commands, _positive_int)
    return parser


def _add_prepare(commands) -> None:
    p = commands.add_parser("prepare", help="detect and align a folder-per-person image tree into training crops",
                            description="Detect (MTCNN), align to 112x96 and store SRC/<person>/<images> in DST "
                                        "(crops.npy, list.tsv, summary.json). Rerun with the same arguments to "
                                        "continue an interrupted run.")
    p.add_argument("src", type=Path, help="folder with one sub-folder of images per person")
    p.add_argument("dst", type=Path, help="output folder")
    p.add_argument("--exclude", type=Path, metavar="NAMES.txt",
                   help="leave out people named in this file (one per line; tab-separated columns each count, "
                        "e.g. train/in_lfw_pairs.txt)")
    p.add_argument("--aligned-112x112", action="store_true",
                   help="every image is an aligned 112x112 (insightface) or 112x96 crop: centre-crop, no detection")
    p.add_argument("--aligned-glob", action="append", default=[], metavar="GLOB",
                   help="like --aligned-112x112 for person folders matching GLOB (repeatable), e.g. 'glint_*'")
    p.add_argument("--device", default="auto", help="detector device: auto, cpu, cuda (default: auto)")
    p.add_argument("--workers", type=_positive_int, default=2, help="image-decoding threads (default: 2)")
    p.add_argument("--min-face-size", type=_positive_int, default=20,
                   help="smallest face to detect, pixels (default: 20)")
    p.add_argument("--wide", action="store_true",
                   help="store 112x112 insightface crops (the 112x96 crop plus 8 px each side) instead of 112x96: "
                        "what the MobileFaceNet teacher reads; training still sees the central 112x96")
    p.set_defaults(run=_run_prepare)


def _add_fit(commands) -> None:
    p = commands.add_parser("fit", help="train an embedder on prepared crops",
                            description="Train per a TOML config; writes checkpoint.pt, metrics.csv and, at the "
                                        "end, embedder.safetensors to --out.")
    p.add_argument("--config", type=Path, required=True, help="TOML config (see configs/)")
    p.add_argument("--data", type=Path, help="prepared data folder (default: data.train_dir of the config)")
    p.add_argument("--out", type=Path, required=True, help="output folder for checkpoints, logs and the model")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value, e.g. --set data.batch_size=64 (repeatable; TOML values)")
    p.add_argument("--stop-at", type=_positive_int, metavar="N",
                   help="stop with a checkpoint after N iterations (continue later with --resume)")
    p.set_defaults(run=_run_fit)


def _add_eval(commands) -> None:
    from training.evaluation.cli import add_eval_parser

    add_eval_parser(commands)


def _add_export(commands) -> None:
    from training.export import add_export_parser

    add_export_parser(commands)


def _add_teacher(commands) -> None:
    from training.teacher_targets import add_teacher_parser

    add_teacher_parser(commands, _positive_int)


def _add_merge(commands) -> None:
    from training.merge import add_merge_parser

    add_merge_parser(commands, _positive_int)


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _run_prepare(args: argparse.Namespace) -> int:
    from training.prepare import PrepareOptions, prepare

    options = PrepareOptions(exclude=args.exclude, device=args.device, workers=args.workers,
                             aligned_112x112=args.aligned_112x112, aligned_globs=tuple(args.aligned_glob),
                             min_face_size=args.min_face_size, crop_width=112 if args.wide else 96)
    prepare(args.src, args.dst, options)
    return 0


def _run_fit(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.fit import fit

    config = load_config(args.config, args.overrides)
    fit(config, args.data, args.out, resume=args.resume, stop_at=args.stop_at)
    return 0
