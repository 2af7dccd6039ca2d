"""What each `sphereapp` subcommand does (argument parsing lives in cli.py)."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from tqdm import tqdm

from sphereapp.core.drivers.file import RunSummary, run_video
from sphereapp.core.drivers.index import index_video
from sphereapp.core.errors import InputError
from sphereapp.core.identities.enrol import Enroller, add_enrolment, open_gallery
from sphereapp.core.identities.gallery import Gallery
from sphereapp.core.identities.store import GalleryStore, default_gallery_path
from sphereapp.core.index.report import INDEX_WRITERS, decode_data_uri, find_person, read_index
from sphereapp.core.locations import shipped_path, user_models_dir
from sphereapp.core.media.video import probe
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import Speed
from sphereapp.core.vision.calibration import describe_threshold
from sphereapp.core.vision.catalog import installed_models
from sphereapp.core.vision.components import Components, load_components

log = logging.getLogger("sphereapp")

DEMO_VIDEO = shipped_path("demo", "hikers_4s.mp4")
DEMO_GALLERY = shipped_path("demo", "gallery")


def check_output_path(path: str | Path) -> Path:
    """Fail before any work when an output file cannot be created."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {path}: folder {parent} is not writable")
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a folder")
    return path


def check_positive(**values: int) -> None:
    """InputError naming the first option (as --option-name) whose value is below 1."""
    for name, value in values.items():
        if value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


def speed_from(args: argparse.Namespace) -> Speed:
    """The speed setting of `--detect-every`, `--embed-every` and `--scan-every`."""
    return Speed(args.detect_every, args.embed_every, args.scan_every)


def components_from(args: argparse.Namespace, detect_max_side: int | None = None) -> Components:
    return load_components(args.model, args.device, args.min_face_size, detect_max_side)


def load_gallery(spec: str | None, components: Components) -> Gallery:
    """The gallery to match against: a folder of photos, a store file, or the user's default store."""
    enroller = Enroller(components.detector, components.embedder)
    path = Path(spec) if spec else default_gallery_path()
    if spec is None and not path.is_file():  # no one enrolled yet: not an error
        gallery = Gallery.empty(components.embedder.info.embedding_size)
    else:
        gallery = open_gallery(path, enroller, components.embedder)
    if not gallery.names:
        log.warning("the gallery is empty: every face will be marked unknown (add people: sphereapp gallery add)")
    else:
        log.info("gallery: %d people (%s)", len(gallery.names), ", ".join(gallery.names))
    return gallery


def annotate_video(
    video: str | Path, output: Path, components: Components, gallery: Gallery, threshold: float | None, **options
) -> RunSummary:
    """Run the pipeline with a progress bar and report what it did."""
    info = components.embedder.info
    threshold = info.threshold if threshold is None else threshold
    measured = f", on {info.calibration}" if info.far_curve else ""
    log.info("threshold: %.3f (cosine; %s%s)", threshold, describe_threshold(info.far_curve, threshold), measured)
    recognizer = Recognizer(components.detector, components.embedder, gallery, threshold)
    total = probe(video).frame_count
    with tqdm(total=total, unit="frame", desc="annotating", dynamic_ncols=True, leave=False) as bar:
        def progress(done: int, _total: int | None) -> None:
            if bar.n == 0:
                log.debug("first %d frames annotated", done)  # with -v: the time to the first frames
            bar.update(done - bar.n)

        summary = run_video(video, output, recognizer, model_name=components.model_name, progress=progress, **options)
    log.info(
        "wrote %s: %d frames at %.1f fps; %d faces, %d recognised, %d unknown%s",
        output, summary.frames, summary.fps, summary.faces, summary.recognised, summary.faces - summary.recognised,
        f"; skipped {summary.skipped_packets} corrupt packets" if summary.skipped_packets else "",
    )
    if summary.named:
        log.info("named: %s", ", ".join(f"{name} on {count} faces" for name, count in summary.named.items()))
    return summary


def run(args: argparse.Namespace) -> int:
    probe(args.video)  # a missing or unreadable video is reported before the models load
    check_positive(batch_size=args.batch_size)
    speed = speed_from(args)
    output = check_output_path(args.output)
    json_path = check_output_path(args.json) if args.json else None
    components = components_from(args, args.detect_max_side)
    gallery = load_gallery(args.gallery, components)
    annotate_video(
        args.video, output, components, gallery, args.threshold,
        batch_size=args.batch_size, json_path=json_path, show_scores=not args.no_scores,
        tracking=not args.no_tracking, speed=speed,
    )
    return 0


def demo(args: argparse.Namespace) -> int:
    if not DEMO_VIDEO.is_file():
        raise InputError(f"demo clip missing: {DEMO_VIDEO} (reinstall sphereapp: the package is incomplete)")
    output = check_output_path(args.output)
    components = components_from(args)
    gallery = load_gallery(str(DEMO_GALLERY), components)
    annotate_video(DEMO_VIDEO, output, components, gallery, None)
    print(output)
    return 0


def index(args: argparse.Namespace) -> int:
    """Who is in the video and when: a people index as a summary, and as JSON / HTML / CSV when asked."""
    probe(args.video)
    check_positive(batch_size=args.batch_size)
    speed = speed_from(args)
    outputs = {kind: check_output_path(path) for kind, path in (("json", args.json), ("html", args.output),
                                                                ("csv", args.csv)) if path}
    components = components_from(args, args.detect_max_side)
    gallery = load_gallery(args.gallery, components)
    threshold = components.embedder.info.threshold if args.threshold is None else args.threshold
    recognizer = Recognizer(components.detector, components.embedder, gallery, threshold)
    with tqdm(total=probe(args.video).frame_count, unit="frame", desc="indexing", dynamic_ncols=True,
              leave=False) as bar:
        result = index_video(args.video, recognizer, model_name=components.model_name, speed=speed,
                             batch_size=args.batch_size, progress=lambda done, _total: bar.update(done - bar.n))
    for kind, path in outputs.items():
        INDEX_WRITERS[f".{kind}"](path, result)
        log.info("wrote %s", path)
    known = sum(person.known for person in result.people)
    print(f"{Path(args.video).name}: {len(result.people)} people ({known} known, {len(result.people) - known} "
          f"unknown) in {result.duration:.1f} s")
    for person in result.people:
        print(f"  {person.label}: {person.seconds:.1f} s on screen, {len(person.appearances)} appearance(s), "
              f"first at {person.appearances[0].start:.1f} s, mean score {person.mean_score:.2f}")
    if not outputs:
        log.info("add --json INDEX.json, -o REPORT.html or --csv APPEARANCES.csv to keep the index")
    return 0


def gallery(args: argparse.Namespace) -> int:
    path = Path(args.gallery) if args.gallery else default_gallery_path()
    if args.gallery_command in ("add", "add-from-index"):
        components = components_from(args)
        enroller = Enroller(components.detector, components.embedder)
        if args.gallery_command == "add":
            enrolment, source = enroller.enrol_image(args.image), str(args.image)
        else:
            person = find_person(read_index(args.index), args.label)
            source = f"{args.index} ({args.label})"
            enrolment = enroller.enrol_picture(decode_data_uri(person.get("thumbnail", "")),
                                               f"the best face of '{args.label}'")
        with GalleryStore(path) as store:
            identity, warnings = add_enrolment(store, args.name, enrolment, components.embedder, source)
        for warning in warnings:
            log.warning("%s: %s", source, warning)
        print(f"enrolled {identity.name} in {path}")
        return 0
    if not path.exists():
        raise InputError(f"gallery not found: {path}")
    with GalleryStore(path) as store:
        if args.gallery_command == "list":
            identities = store.identities()
            for identity in identities:
                color = "#{:02x}{:02x}{:02x}".format(*identity.color)
                print(f"{identity.name}\t{color}\t{identity.source}")
            log.info("%d people in %s", len(identities), path)
        elif args.gallery_command == "remove":
            store.remove(args.name)
            print(f"removed {args.name}")
        elif args.gallery_command == "rename":
            store.rename(args.old, args.new)
            print(f"renamed {args.old} to {args.new}")
    return 0


def models(args: argparse.Namespace) -> int:
    """Print each installed model with what its file says; the default first."""
    installed = installed_models()
    print(f"models folder: {user_models_dir()}")
    if not installed:
        print("no model is installed: copy a .safetensors model into the models folder, or pass --model FILE")
    for model in installed:
        print(f"\n{model.name}{'  (default)' if model.is_default else ''}\n  file: {model.path}")
        if model.info is None:
            print(f"  unreadable: {model.problem}")
            continue
        info = model.info
        facts = [("architecture", f"{info.architecture}, {info.embedding_size}-d, id {info.model_id or 'unknown'}"),
                 ("trained on", info.training_data), ("LFW", info.lfw),
                 ("threshold", f"{info.threshold:.3f} ({describe_threshold(info.far_curve, info.threshold)})"),
                 ("licence", info.licence or "not stated in the file")]
        print("\n".join(f"  {label}: {value}" for label, value in facts if value))
    return 0


def bench(args: argparse.Namespace) -> int:
    from sphereapp.benchmark import NAIVE_INSTALL, bench as measure, environment, format_table, write_report
    from sphereapp.profiling import format_profile

    video = Path(args.video) if args.video else DEMO_VIDEO
    if not video.is_file():
        raise InputError(f"video not found: {video}")
    check_positive(frames=args.frames, repeat=args.repeat, batch_size=args.batch_size)
    speed = speed_from(args)
    if any(height < 16 for height in args.heights):
        raise InputError("every --heights value must be at least 16")
    json_path = check_output_path(args.json) if args.json else None
    started = time.perf_counter()
    components = components_from(args, args.detect_max_side)
    startup = time.perf_counter() - started
    rows = measure(video, components, args.heights, args.frames, args.repeat, args.profile,
                   batch_size=args.batch_size, speed=speed)
    env = environment(components)
    detection = f"--detect-max-side {args.detect_max_side}" if args.detect_max_side else "(full-size detection)"
    print(f"{video.name}; {env['device']}, {env['torch_threads']} torch threads; sphereapp with --batch-size "
          f"{args.batch_size} --detect-every {speed.detect_every} --embed-every {speed.embed_every} "
          f"--scan-every {speed.scan_every} {detection}; frames/s (higher is better)"
          + (f", medians of {args.repeat} runs" if args.repeat > 1 else ""))
    print(format_table(rows))
    if rows and rows[0].naive_fps is None:
        print(f"naive loop not measured: facenet-pytorch is not installed ({NAIVE_INSTALL})")
    if args.profile:
        for row in rows:
            print(f"\n{format_profile(row.profile, f'sphereapp at {row.width}x{row.height}')}")
        print(f"\nstart-up: {startup:.2f} s to load the model and the detector (before any frame)")
    if json_path:
        write_report(json_path, rows, env, video, startup if args.profile else None)
    return 0
