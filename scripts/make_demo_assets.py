"""Rebuild sphereapp/assets/demo/ from ../shared/data/video/hikers_walking_640x480.mp4 (CC BY 2.0, Peter Stevens).

The clip is 3.5 s from a keyframe, stream-copied (no re-encode, audio kept): the stretch where both hikers of the
gallery face the camera in turn. The two gallery photos are face crops (with margin) from frames just before and
just after the clip, so the demo recognises people from moments it never saw.
Usage: python scripts/make_demo_assets.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np
from PIL import Image

from sphereapp.core.media.video import VideoReader
from sphereapp.core.vision.detect import FaceDetector

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "sphereapp" / "assets" / "demo"
CLIP_START_FRAME = 90  # a keyframe (the source has one every 30 frames): the hiker in teal walks out, the red cap in
CLIP_SECONDS = 3.5  # frames 90-194
# (file stem = gallery name, frame index, which face: the largest one in that frame)
GALLERY_FRAMES = {"Hiker_in_teal": 70, "Hiker_in_red_cap": 195}


def cut_clip(source: Path, target: Path, start_frame: int, seconds: float) -> None:
    """Copy the video and audio packets of `seconds` from keyframe `start_frame` into a new MP4 (no re-encoding),
    every timestamp shifted so that the clip starts at 0."""
    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "+faststart"}) as dst:
        start = start_frame / float(src.streams.video[0].average_rate)
        streams = [s for s in src.streams if s.type in ("video", "audio")]
        mapping = {s.index: dst.add_stream_from_template(s) for s in streams}
        first_video = True
        for packet in src.demux(streams):
            if packet.dts is None or packet.pts is None:
                continue
            if not start - 1e-3 <= float(packet.pts * packet.time_base) < start + seconds - 1e-3:
                continue
            if packet.stream.type == "video" and first_video:
                if not packet.is_keyframe:
                    raise SystemExit(f"frame {start_frame} of {source.name} is not a keyframe: pick one that is")
                first_video = False
            shift = round(start / packet.time_base)
            packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
            packet.stream = mapping[packet.stream.index]
            dst.mux(packet)


def face_photo(image: np.ndarray, box: np.ndarray, margin: float = 0.8) -> Image.Image:
    """A portrait-like crop: the face box grown by `margin` of its size on every side."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    left, top = max(0, int(x1 - margin * w)), max(0, int(y1 - margin * h))
    right, bottom = min(image.shape[1], int(x2 + margin * w)), min(image.shape[0], int(y2 + margin * h))
    return Image.fromarray(image[top:bottom, left:right])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    source = args.data / "video" / "hikers_walking_640x480.mp4"
    (DEMO / "gallery").mkdir(parents=True, exist_ok=True)
    cut_clip(source, DEMO / "hikers_4s.mp4", CLIP_START_FRAME, CLIP_SECONDS)

    detector = FaceDetector()
    wanted = {index: name for name, index in GALLERY_FRAMES.items()}
    with VideoReader(source) as reader:
        for frame in reader:
            if frame.index in wanted:
                faces = detector.detect([frame.image])[0]
                areas = (faces.boxes[:, 2] - faces.boxes[:, 0]) * (faces.boxes[:, 3] - faces.boxes[:, 1])
                photo = face_photo(frame.image, faces.boxes[int(np.argmax(areas))])
                photo.save(DEMO / "gallery" / f"{wanted[frame.index]}.jpg", quality=92)
            if frame.index >= max(wanted):
                break
    print(f"wrote {DEMO}")


if __name__ == "__main__":
    main()
