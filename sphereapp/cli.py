"""`sphereapp` command line: run, index, demo, gallery, models, bench; without a command it opens the desktop app."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sphereapp import __version__
from sphereapp.core.errors import SphereappError
from sphereapp.core.memory import reuse_large_blocks
from sphereapp.core.recognition.speed import Speed

log = logging.getLogger("sphereapp")

COMMANDS = ("run", "index", "demo", "gallery", "models", "bench")
APP_USAGE = "sphereapp [VIDEO] [--gallery FILE] [--model WEIGHTS]"


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="WEIGHTS",
                        help="embedder weights: a .safetensors file, or the name of a model in your models folder "
                        "('sphereapp models' lists them); default: the shipped model")
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto = CUDA when available (default)"
    )
    parser.add_argument("--min-face-size", type=int, default=20, metavar="PX", help="smallest face to detect (px)")


def add_speed_options(parser: argparse.ArgumentParser) -> None:
    default = Speed()
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="frames per detection batch")
    parser.add_argument("--detect-max-side", type=int, metavar="PX",
                        help="detect on frames downscaled to this longer side (faster on large videos)")
    parser.add_argument("--detect-every", type=int, default=default.detect_every, metavar="K",
                        help="detect faces on every K-th frame and interpolate them in between; 1 = every frame "
                        f"(slower; default: {default.detect_every})")
    parser.add_argument("--embed-every", type=int, default=default.embed_every, metavar="N",
                        help="embed a face followed from detection to detection on every N-th one and keep its "
                        f"embedding in between; 1 = every detection (slower; default: {default.embed_every})")
    parser.add_argument("--scan-every", type=int, default=default.scan_every, metavar="S",
                        help="search whole frames for faces on every S-th detection and only near the faces found "
                        f"there on the others; 1 = whole frames every time (slower; default: {default.scan_every})")


def add_gallery_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--gallery", metavar="PATH", help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sphereapp",
        description="Open-set face recognition in video with SphereFace: every face boxed in its person's colour, "
        "or marked unknown.",
        epilog=f"Without a COMMAND, sphereapp opens the desktop app: {APP_USAGE}",
    )
    parser.add_argument("--version", action="version", version=f"sphereapp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="annotate a video against a gallery", description="Annotate a video: "
                         "box every face in its person's colour or as unknown, and write an H.264 video.")
    run.add_argument("video", help="input video (any format FFmpeg reads)")
    add_gallery_option(run, "gallery store (.sqlite) or a folder of photos, one per person (file name = name); "
                       "default: your gallery")
    run.add_argument("-o", "--output", required=True, help="annotated output video (.mp4)")
    run.add_argument("--threshold", type=float, help="cosine score needed to name a face (default: the model's)")
    run.add_argument("--json", metavar="LOG.json", help="also write every face of every frame as JSON")
    add_speed_options(run)
    run.add_argument("--no-scores", action="store_true", help="draw names without scores")
    run.add_argument("--no-tracking", action="store_true",
                     help="name each frame's faces on their own instead of from their track's recent frames")
    add_model_options(run)

    index = sub.add_parser("index", help="who is in a video, and when: a people index (JSON, HTML, CSV)",
                           description="Recognise and track every face, then list the people of the video: gallery "
                           "people by name, and unknown faces grouped across the whole video as 'Unknown 1..N' (by "
                           "first appearance), each with screen time, appearances and their best face.")
    index.add_argument("video", help="input video (any format FFmpeg reads)")
    add_gallery_option(index, "gallery store (.sqlite) or a folder of photos, one per person (file name = name); "
                       "default: your gallery")
    index.add_argument("--json", metavar="INDEX.json", help="write the index as JSON (thumbnails embedded)")
    index.add_argument("-o", "--output", metavar="REPORT.html",
                       help="write a self-contained HTML report with a timeline strip per person")
    index.add_argument("--csv", metavar="APPEARANCES.csv", help="write one row per appearance")
    index.add_argument("--threshold", type=float,
                       help="cosine score needed to name a face and to join unknown tracks (default: the model's)")
    add_speed_options(index)
    add_model_options(index)

    demo = sub.add_parser("demo", help="annotate the bundled demo clip (no data needed)",
                          description="Annotate the bundled 4-second clip against a two-person gallery made from "
                          "other moments of the same video.")
    demo.add_argument("-o", "--output", default="sphereapp-demo.mp4", help="output video (default: %(default)s)")
    add_model_options(demo)

    gallery = sub.add_parser("gallery", help="enrol, list and remove people", description="Manage the gallery.")
    gallery_sub = gallery.add_subparsers(dest="gallery_command", metavar="ACTION", required=True)
    add = gallery_sub.add_parser("add", help="enrol a person from one photo")
    add.add_argument("name", help="the person's name (use quotes for spaces)")
    add.add_argument("image", help="a photo with the person's face (largest face is used)")
    add_gallery_option(add, "gallery store file (default: your gallery)")
    add_model_options(add)
    from_index = gallery_sub.add_parser("add-from-index", help="enrol a person of a people index by their best face",
                                        description="Enrol the best face of one person of a `sphereapp index` "
                                        "JSON file, e.g. sphereapp gallery add-from-index i.json 'Unknown 3' 'Ada'.")
    from_index.add_argument("index", help="people index written by sphereapp index --json")
    from_index.add_argument("label", help="the person's label in the index, e.g. 'Unknown 3'")
    from_index.add_argument("name", help="the name to enrol them under")
    add_gallery_option(from_index, "gallery store file (default: your gallery)")
    add_model_options(from_index)
    listing = gallery_sub.add_parser("list", help="list enrolled people")
    add_gallery_option(listing, "gallery store file (default: your gallery)")
    remove = gallery_sub.add_parser("remove", help="remove a person")
    remove.add_argument("name")
    add_gallery_option(remove, "gallery store file (default: your gallery)")
    rename = gallery_sub.add_parser("rename", help="rename a person")
    rename.add_argument("old")
    rename.add_argument("new")
    add_gallery_option(rename, "gallery store file (default: your gallery)")

    sub.add_parser("models", help="list the installed models and which one is the default",
                   description="List the shipped model and those in your models folder ($SPHEREAPP_HOME/models, or "
                   "the user data folder's models/), with what each file says about itself. Copy a .safetensors "
                   "file there to use it as --model NAME.")

    bench = sub.add_parser("bench", help="frames/s of sphereapp against the naive facenet-pytorch loop",
                           description="Measure decode-only, the naive per-frame/per-face loop and sphereapp's "
                           "pipeline on the same clip at each height; print frames/s and ratios.")
    bench.add_argument("video", nargs="?", help="input video (default: the bundled demo clip)")
    bench.add_argument("--heights", type=int, nargs="+", default=[360], metavar="PX",
                       help="frame heights to rescale the clip to (default: 360)")
    bench.add_argument("--frames", type=int, default=60, metavar="N", help="frames to measure (default: 60)")
    bench.add_argument("--repeat", type=int, default=1, metavar="N",
                       help="run each path N times, taking turns, and report the median (default: 1)")
    bench.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    bench.add_argument("--profile", action="store_true",
                       help="also print the time of each pipeline stage (decode, scan, embed, encode, ...) on each "
                       "of its threads, and the start-up time")
    add_speed_options(bench)
    add_model_options(bench)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sphereapp", usage=APP_USAGE,
        description=f"Open the desktop app. Commands ({', '.join(COMMANDS)}): see sphereapp --help.",
    )
    parser.add_argument("video", nargs="?", help="a video to open")
    add_gallery_option(parser, "gallery store file (.sqlite) to show and edit; default: your gallery")
    parser.add_argument("--model", metavar="WEIGHTS", help="embedder weights for this session (default: the settings')")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    return parser


def opens_app(argv: Sequence[str]) -> bool:
    """No COMMAND (nor --help/--version) first: `sphereapp`, `sphereapp VIDEO`, `sphereapp --gallery G` open the app."""
    rest = [arg for arg in argv if arg not in ("-v", "--verbose")]
    return not rest or rest[0] not in (*COMMANDS, "-h", "--help", "--version")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    app = opens_app(argv)
    parser = build_app_parser() if app else build_parser()
    args, unknown = parser.parse_known_args(argv) if app else (parser.parse_args(argv), [])
    if app and args.video and not Path(args.video).exists():
        parser.error(f"'{args.video}' is neither a video file nor a command ({', '.join(COMMANDS)})")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # -v stamps each line with the milliseconds since start-up (logging's clock starts when this module imports it).
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(relativeCreated)6.0f ms  %(message)s" if args.verbose else "%(message)s")
    reuse_large_blocks()  # frames and MTCNN's pyramid levels: reused heap blocks, not fresh zeroed pages each call
    try:
        if app:
            from sphereapp.gui.app import main as run_app

            return run_app(args.video, args.gallery, args.model)
        from sphereapp import commands

        handler = {"run": commands.run, "index": commands.index, "demo": commands.demo, "gallery": commands.gallery,
                   "models": commands.models, "bench": commands.bench}[args.command]
        return handler(args)
    except SphereappError as error:
        print(f"sphereapp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sphereapp: interrupted; nothing was written", file=sys.stderr)
        return 130
