"""Small helpers several test files share: the command line, output checks, geometry, paths."""

from pathlib import Path

import numpy as np

from sphereapp.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = REPO_ROOT / "configs" / "tiny_synthetic.toml"
# Test photos from the hikers video (ATTRIBUTION.md there): a small red-cap face, and a clear teal face beside a
# small false one. Not the demo gallery, which may change with the demo.
PHOTOS = Path(__file__).resolve().parent / "photos"
TINY_PEOPLE, TINY_IMAGES_EACH = 4, 6  # in the tiny_data fixture's folder


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `sphereapp` with these arguments; its exit code, stdout and stderr."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The one `sphereapp: error:` line in stderr."""
    lines = [line for line in err.splitlines() if line.startswith("sphereapp: error:")]
    assert len(lines) == 1, err
    return lines[0]


def only_files(folder: Path, *names: str) -> None:
    """Nothing but `names` in the folder: no output, no log, no temp file."""
    assert sorted(path.name for path in folder.iterdir()) == sorted(names)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def unit(vector) -> np.ndarray:
    """The vector scaled to length 1, as float32."""
    vector = np.asarray(vector, np.float32)
    return vector / np.linalg.norm(vector)
