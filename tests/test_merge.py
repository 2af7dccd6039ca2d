"""`sphereapp-train merge`: prepared folders -> one, people joined by name and by --same-person lines."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.cli import main
from training.data import PreparedFaces, read_list
from training.merge import merge
from training.prepare import BOXES_NAME, PrepareOptions, prepare


def prepared(root: Path, people: dict[str, int], seed: int) -> Path:
    """A prepared folder of aligned 112x96 noise crops: `people` name -> number of images."""
    rng = np.random.default_rng(seed)
    for name, count in people.items():
        (root / "images" / name).mkdir(parents=True)
        for k in range(count):
            crop = rng.integers(0, 256, (112, 96, 3), dtype=np.uint8)
            Image.fromarray(crop).save(root / "images" / name / f"{k}.png")
    prepare(root / "images", root / "prepared", PrepareOptions(aligned_globs=("*",)))
    return root / "prepared"


@pytest.fixture
def two_folders(tmp_path) -> tuple[Path, Path]:
    one = prepared(tmp_path / "one", {"glint_Ann": 2, "glint_Bob": 1, "glint_Cy": 2, "glint_Dan": 1}, seed=0)
    two = prepared(tmp_path / "two", {"Ann": 1, "glint_bob": 1}, seed=1)
    (tmp_path / "same.tsv").write_text("glint_Ann\tAnn\n", encoding="utf-8")
    (tmp_path / "exclude.txt").write_text("glint_Cy\n", encoding="utf-8")
    return one, two


def test_merge_joins_people_excludes_and_drops_single_images(two_folders, tmp_path):
    one, two = two_folders
    summary = merge([one, two], tmp_path / "all", tmp_path / "same.tsv", tmp_path / "exclude.txt", min_images=2)
    assert (summary["people"], summary["images"], summary["joined_people"]) == (2, 5, 2)
    assert summary["excluded"] == ["glint_Cy"] and summary["dropped_people"] == 1  # glint_Dan: one image
    entries = read_list(tmp_path / "all" / "list.tsv")
    assert [(e.identity, e.label) for e in entries] == [("Ann", 0)] * 3 + [("glint_Bob", 1)] * 2
    assert [e.path for e in entries] == ["one/images/glint_Ann/0.png", "one/images/glint_Ann/1.png",
                                         "two/images/Ann/0.png", "one/images/glint_Bob/0.png",
                                         "two/images/glint_bob/0.png"]
    assert all((Path(summary["source"]) / e.path).is_file() for e in entries)  # where `teacher` reads them
    crops = np.load(tmp_path / "all" / "crops.npy")
    for entry, crop in zip(entries, crops):
        assert np.array_equal(crop, np.asarray(Image.open(Path(summary["source"]) / entry.path)))
    assert np.load(tmp_path / "all" / BOXES_NAME).shape == (5, 4)
    assert PreparedFaces(tmp_path / "all").num_classes == 2


def test_merge_cli_errors(two_folders, tmp_path, capsys):
    one, two = two_folders
    assert main(["merge", str(tmp_path / "all"), str(one), str(two)]) == 0
    assert main(["merge", str(tmp_path / "all"), str(one)]) == 2  # DST already holds data
    assert main(["merge", str(tmp_path / "x"), str(tmp_path / "one" / "images")]) == 2  # not prepared
    assert main(["merge", str(tmp_path / "y"), str(one), "--min-images", "9"]) == 2  # nobody left
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "already holds" in lines[0] and "not prepared" in lines[1] and "9+" in lines[2]
    assert not (tmp_path / "y" / "summary.json").exists()
