"""`sphereapp-train bank build | add-teacher | screen | select`: the distillation bank's command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sphereapp.core.errors import InputError

DEFAULT_TEACHER_DIR = Path("../shared/teachers/mobilefacenet_ms1m")


def add_bank_parser(commands: argparse._SubParsersAction, positive_int) -> None:
    """Register `bank` and its four steps (the caller's `positive_int` argparse type checks counts)."""
    bank = commands.add_parser("bank", help="views + teacher targets for embedding distillation (needs '.[teacher]')",
                               description="Build a distillation bank from wide prepared folders, screen it "
                                           "against held-out people, and select what a run trains on.")
    steps = bank.add_subparsers(dest="step", required=True, metavar="STEP")

    build = steps.add_parser("build", help="render views of every crop and embed each with the teacher",
                             description="Render V views of every crop of the named prepared folders (prepare "
                                         "--wide) and store the MobileFaceNet teacher's embedding of each. Rerun "
                                         "with the same arguments to continue an interrupted build.")
    build.add_argument("out", type=Path, help="bank folder to write")
    build.add_argument("--source", action="append", required=True, metavar="NAME=DIR",
                       help="a prepared folder and the name the bank gives it (repeatable), e.g. lfw=.data/wide/lfw")
    build.add_argument("--teacher-dir", type=Path, default=DEFAULT_TEACHER_DIR,
                       help=f"folder with mobilefacenet.param/.bin (default: {DEFAULT_TEACHER_DIR})")
    build.add_argument("--views", type=positive_int, default=4, help="views per crop, at least 2 (default: 4)")
    build.add_argument("--seed", type=int, default=0, help="seed of the augmented views (default: 0)")
    build.add_argument("--threads", type=positive_int, default=2, help="teacher threads (default: 2)")
    build.set_defaults(run=_run_build)

    add = steps.add_parser("add-teacher", help="a second teacher's targets for a built bank (dlib)",
                           description="Embed the first --views views of every crop of a built bank with dlib's "
                                       "face descriptor, beside the bank's own teacher, for fit's "
                                       "distill.teachers. Rerun to continue an interrupted run.")
    add.add_argument("bank", type=Path)
    add.add_argument("--views", type=positive_int, default=2,
                     help="views to embed; later views take view 0's target (default: 2, as prepared and mirrored)")
    add.add_argument("--workers", type=positive_int, default=2, help="teacher processes, one core each (default: 2)")
    add.set_defaults(run=_run_add_teacher)

    screen = steps.add_parser("screen", help="list faces too close to held-out people (before a scored run)",
                              description="Write a TSV of the faces of the candidate sources whose nearest face of "
                                          "the held-out people (teacher, flip-fused) is above the teacher's "
                                          "threshold at FAR --far among those people; select --drop leaves out "
                                          "every person with such a face.")
    screen.add_argument("bank", type=Path)
    screen.add_argument("out", type=Path, help="TSV to write (source, path, identity, nearest, score)")
    screen.add_argument("--candidates", nargs="+", required=True, metavar="SOURCE", help="sources to screen")
    screen.add_argument("--against", required=True, metavar="SOURCE", help="the source of the held-out people")
    screen.add_argument("--people", type=Path, metavar="NAMES.txt",
                        help="only these people of --against (default: all of them)")
    screen.add_argument("--far", type=float, default=1e-5, help="false-accept rate of the threshold (default: 1e-5)")
    screen.add_argument("--threshold", type=float,
                        help="use this cosine threshold instead of measuring one at --far")
    screen.set_defaults(run=_run_screen)

    select = steps.add_parser("select", help="which faces a run trains on, and as whom",
                              description="Write a selection .npz (+ .json summary) for fit's distill.selection.")
    select.add_argument("bank", type=Path)
    select.add_argument("out", type=Path, help="selection .npz to write")
    select.add_argument("--labelled", nargs="+", required=True, metavar="SOURCE",
                        help="sources whose people become classes")
    select.add_argument("--unlabelled", nargs="*", default=[], metavar="SOURCE",
                        help="sources used for distillation only")
    select.add_argument("--exclude", type=Path, metavar="NAMES.txt", help="people to leave out entirely")
    select.add_argument("--same-person", type=Path, metavar="NAMES.tsv",
                        help="lines of names that are one person across sources (e.g. train/in_lfw_pairs.txt)")
    select.add_argument("--drop", type=Path, nargs="*", default=[], metavar="SCREENED.tsv",
                        help="outputs of 'bank screen': leave out every person with a face listed there")
    select.add_argument("--min-images", type=positive_int, default=2,
                        help="faces a person needs to be a class; others are distillation-only (default: 2)")
    select.add_argument("--drop-singletons", nargs="*", default=[], metavar="SOURCE",
                        help="leave out, rather than use unlabelled, these sources' people below --min-images")
    select.set_defaults(run=_run_select)


def _named_sources(pairs: list[str]) -> dict[str, Path]:
    sources = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"bad --source {pair!r}: expected NAME=DIR")
        if name in sources:
            raise InputError(f"--source {name} is given twice")
        sources[name] = Path(folder)
    return sources


def _run_build(args: argparse.Namespace) -> int:
    from training.bank import build_bank
    from training.teacher_mobilefacenet import MobileFaceNetTeacher

    sources = _named_sources(args.source)
    build_bank(args.out, sources, MobileFaceNetTeacher(args.teacher_dir, args.threads), args.views, args.seed)
    return 0


def _run_add_teacher(args: argparse.Namespace) -> int:
    from training.bank_teachers import add_teacher
    from training.teacher import DlibCropTeacher

    add_teacher(args.bank, DlibCropTeacher, args.views, args.workers)
    return 0


def _run_screen(args: argparse.Namespace) -> int:
    from training.bank import Bank
    from training.bank_select import screen

    result = screen(Bank.open(args.bank), args.candidates, args.against, args.people, args.far, args.out,
                    args.threshold)
    print(json.dumps(result))
    return 0


def _run_select(args: argparse.Namespace) -> int:
    from training.bank import Bank
    from training.bank_select import select

    bank = Bank.open(args.bank)
    selection, about = select(bank.rows, args.labelled, args.unlabelled, args.exclude, args.same_person, args.drop,
                              args.min_images, args.drop_singletons)
    selection.save(args.out, about)
    print(json.dumps(about))
    return 0
