"""Pack prepared training data small enough to carry to the GPU machine, and unpack it there.

The device tool carries at most 64 MiB with the working tree (the shipped weights alone are 45 MB), so the
crops (112x96, or 112x112 from `prepare --wide`) travel as WebP (quality 90: 10 MiB for the 4,592 112x96 benchmark
crops, mean error 1.5 grey levels, below the training augmentation's colour jitter) with list.tsv, summary.json
and the teacher embeddings.

    python scripts/device_pack.py pack .data/bench .data/device/bench
    python scripts/device_pack.py unpack .data/device/bench /tmp/bench      # on the device machine
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from sphereapp.core.files import replacing
from training.data import CROPS_NAME, LIST_NAME, SUMMARY_NAME

PACKED_NAME = "crops.webp.npz"
QUALITY = 90
BESIDE = (LIST_NAME, SUMMARY_NAME)  # copied as they are, with every teacher_*.npy / .json


def pack(data_dir: Path, out_dir: Path) -> int:
    """Write out_dir/crops.webp.npz (bytes + offsets) and copies of the small files; returns its size."""
    crops = np.load(data_dir / CROPS_NAME, mmap_mode="r")
    encoded = []
    for crop in crops:
        ok, data = cv2.imencode(".webp", np.ascontiguousarray(crop[:, :, ::-1]), [cv2.IMWRITE_WEBP_QUALITY, QUALITY])
        if not ok:
            raise RuntimeError("OpenCV cannot encode WebP")
        encoded.append(data.ravel())
    offsets = np.cumsum([0] + [len(data) for data in encoded])
    out_dir.mkdir(parents=True, exist_ok=True)
    with replacing(out_dir / PACKED_NAME) as temporary, temporary.open("xb") as handle:
        np.savez(handle, data=np.concatenate(encoded), offsets=offsets, shape=np.array(crops.shape[1:]))
    for path in _small_files(data_dir):
        shutil.copyfile(path, out_dir / path.name)
    return sum(path.stat().st_size for path in out_dir.iterdir())


def unpack(packed_dir: Path, data_dir: Path) -> int:
    """Decode the crops back into data_dir/crops.npy beside the small files; returns the number of crops."""
    with np.load(packed_dir / PACKED_NAME) as packed:
        data, offsets, shape = packed["data"], packed["offsets"], tuple(packed["shape"].tolist())
    data_dir.mkdir(parents=True, exist_ok=True)
    count = len(offsets) - 1
    with replacing(data_dir / CROPS_NAME) as temporary:
        crops = np.lib.format.open_memmap(temporary, "w+", np.uint8, (count, *shape))
        for i in range(count):
            crops[i] = cv2.imdecode(data[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)[:, :, ::-1]
        crops.flush()
        del crops
    for path in _small_files(packed_dir):
        shutil.copyfile(path, data_dir / path.name)
    return count


def _small_files(folder: Path) -> list[Path]:
    return [folder / name for name in BESIDE if (folder / name).is_file()] + sorted(folder.glob("teacher_*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    if args.action == "pack":
        print(f"{args.target}: {pack(args.source, args.target) / 2**20:.1f} MiB")
    else:
        print(f"{args.target}: {unpack(args.source, args.target)} crops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
