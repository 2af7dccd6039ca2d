"""LFW pairs.txt and CSV pair readers, and pair evaluation with a fake feature extractor."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sphereapp.core.errors import InputError
from training.evaluation.lfw import evaluate_pairs, flip_concat_features, read_lfw_pairs
from training.evaluation.pairs import read_pairs_csv

# 2 folds x (2 same + 2 different pairs)
TINY_PAIRS = """2\t2
Ann\t1\t2
Bob\t1\t3
Ann\t1\tBob\t2
Cy\t1\tAnn\t2
Bob\t2\t3
Cy\t1\t2
Bob\t1\tCy\t2
Ann\t2\tCy\t1
"""


def make_images(root: Path, names: dict[str, int]) -> None:
    """Empty files in the LFW layout: names[name] images per person."""
    for name, count in names.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(1, count + 1):
            (root / name / f"{name}_{i:04d}.jpg").touch()


def assert_one_line_input_error(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.fixture
def tiny_lfw(tmp_path) -> Path:
    make_images(tmp_path, {"Ann": 2, "Bob": 3, "Cy": 2})
    pairs_txt = tmp_path / "pairs.txt"
    pairs_txt.write_text(TINY_PAIRS)
    return pairs_txt


def test_read_tiny_pairs(tiny_lfw):
    root = tiny_lfw.parent
    result = read_lfw_pairs(tiny_lfw)
    assert len(result) == 8
    assert result.pairs[0] == (root / "Ann" / "Ann_0001.jpg", root / "Ann" / "Ann_0002.jpg")
    assert result.pairs[3] == (root / "Cy" / "Cy_0001.jpg", root / "Ann" / "Ann_0002.jpg")
    np.testing.assert_array_equal(result.same, [1, 1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(result.folds, [0, 0, 0, 0, 1, 1, 1, 1])


def test_image_root_override(tiny_lfw, tmp_path):
    other = tmp_path / "images"
    make_images(other, {"Ann": 2, "Bob": 3, "Cy": 2})
    assert read_lfw_pairs(tiny_lfw, image_root=other).pairs[0][0] == other / "Ann" / "Ann_0001.jpg"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (TINY_PAIRS.replace("Bob\t1\t3\n", "Bob\t1\n"), ":3:"),
        (TINY_PAIRS.replace("Cy\t1\t2\n", "Cy\tone\t2\n"), ":7:"),
        ("ten\t300\n", ":1:"),
        (TINY_PAIRS.replace("2\t2\n", "3\t2\n"), "promises 3 x 4 pairs, found 8"),
        (TINY_PAIRS.replace("Bob\t2\t3", "Bob\t2\t9"), "Bob_0009.jpg"),
    ],
)
def test_bad_pairs_file_raises_one_line(tiny_lfw, text, fragment):
    tiny_lfw.write_text(text)
    with pytest.raises(InputError) as excinfo:
        read_lfw_pairs(tiny_lfw)
    assert_one_line_input_error(excinfo, fragment)


def test_missing_pairs_file(tmp_path):
    with pytest.raises(InputError) as excinfo:
        read_lfw_pairs(tmp_path / "nope.txt")
    assert_one_line_input_error(excinfo, "nope.txt")


@pytest.mark.data
def test_real_lfw_pairs(shared_data):
    result = read_lfw_pairs(shared_data / "lfw" / "pairs.txt")
    assert len(result) == 6000
    assert result.same.sum() == 3000
    np.testing.assert_array_equal(np.bincount(result.folds), [600] * 10)
    np.testing.assert_array_equal(result.same[:600], np.arange(600) < 300)  # each fold: 300 same, 300 different
    assert all(a.is_file() and b.is_file() for a, b in result.pairs)
    assert len({p for pair in result.pairs for p in pair}) == 7701


def identity_features(paths: list[Path], noise: float = 0.3) -> np.ndarray:
    """Fake extractor: a fixed random direction per person (folder name) plus per-image noise."""
    rng = np.random.default_rng(0)
    people = sorted({p.parent.name for p in paths})
    centers = dict(zip(people, rng.normal(size=(len(people), 16))))
    return np.stack([centers[p.parent.name] + noise * rng.normal(size=16) for p in paths])


def test_evaluate_pairs_embeds_each_image_once(tmp_path):
    people = [f"P{i}" for i in range(20)]
    same_pairs = [(tmp_path / p / "a.jpg", tmp_path / p / "b.jpg") for p in people]
    diff_pairs = [(tmp_path / p / "a.jpg", tmp_path / q / "b.jpg") for p, q in zip(people, people[1:] + people[:1])]
    pairs = same_pairs + diff_pairs
    same = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    folds = np.r_[np.arange(20) // 2, np.arange(20) // 2]
    calls = []

    def features_for(paths):
        calls.append(list(paths))
        return identity_features(paths)

    report = evaluate_pairs(pairs, same, folds, features_for, n_thresholds=2001)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == 40
    assert report.n_pairs == 40
    assert report.accuracy > 0.9
    assert report.auc > 0.95
    assert -1 < report.threshold < 1


def test_evaluate_pairs_rejects_wrong_feature_count(tmp_path):
    pairs = [(tmp_path / "a" / "1.jpg", tmp_path / "b" / "1.jpg")] * 2
    with pytest.raises(ValueError, match="shape"):
        evaluate_pairs(pairs, np.array([True, False]), np.array([0, 1]), lambda paths: np.ones((1, 4)))


def test_flip_concat_features():
    crops = np.zeros((2, 4, 3, 3), np.uint8)
    crops[:, :, 0] = 255  # left column bright; the flip moves it to the right

    def forward(x):
        return x[:, 0, :, 0].astype(np.float64)  # first row of the red channel, (N, 3)

    features = flip_concat_features(crops, forward)
    np.testing.assert_array_equal(features, [[255, 0, 0, 0, 0, 255]] * 2)


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "pairs.csv"
    path.write_text(text)
    return path


def test_read_pairs_csv_paths_and_folds(tmp_path):
    make_images(tmp_path / "img", {"A": 2, "B": 2})
    absolute = tmp_path / "img" / "B" / "B_0001.jpg"
    rows = ["img/A/A_0001.jpg,img/A/A_0002.jpg,1", f"img/A/A_0001.jpg,{absolute},0"] * 12
    result = read_pairs_csv(write_csv(tmp_path, "path1,path2,same\n" + "\n".join(rows) + "\n"))
    assert len(result) == 24
    assert result.pairs[0] == (tmp_path / "img/A/A_0001.jpg", tmp_path / "img/A/A_0002.jpg")
    assert result.pairs[1][1] == absolute
    np.testing.assert_array_equal(result.same, np.arange(24) % 2 == 0)
    expected = np.concatenate([np.full(len(c), k) for k, c in enumerate(np.array_split(np.arange(24), 10))])
    np.testing.assert_array_equal(result.folds, expected)
    assert np.bincount(result.folds).tolist() == [3, 3, 3, 3, 2, 2, 2, 2, 2, 2]


GOOD_ROWS = "\n".join(["a.jpg,b.jpg,1", "a.jpg,c.jpg,0"] * 5) + "\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD_ROWS, "header"),
        ("first,second,same\n" + GOOD_ROWS, "header"),
        ("path1,path2,same\n" + GOOD_ROWS + "a.jpg,b.jpg,yes\n", ":12:"),
        ("path1,path2,same\n" + GOOD_ROWS + "a.jpg,b.jpg\n", ":12:"),
        ("path1,path2,same\n" + GOOD_ROWS + ",b.jpg,1\n", ":12:"),
        ("path1,path2,same\na.jpg,b.jpg,1\na.jpg,c.jpg,0\n", "too few"),
        ("path1,path2,same\n" + GOOD_ROWS.replace(",0", ",1"), "both"),
        ("path1,path2,same\n" + GOOD_ROWS + "a.jpg,zzz.jpg,0\n", "zzz.jpg"),
    ],
)
def test_bad_csv_raises_one_line(tmp_path, text, fragment):
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).touch()
    with pytest.raises(InputError) as excinfo:
        read_pairs_csv(write_csv(tmp_path, text))
    assert_one_line_input_error(excinfo, fragment)


def test_lfw_conditions_shrinks_probes_like_a_small_face():
    """scripts/lfw_conditions.py small: a crop of a face with eyes E px apart keeps its size but loses detail."""
    spec = importlib.util.spec_from_file_location("lfw_conditions", Path(__file__).resolve().parents[1] / "scripts"
                                                  / "lfw_conditions.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    crops = np.random.default_rng(0).integers(0, 256, (3, 112, 96, 3), dtype=np.uint8)
    assert script.shrink(crops, script.TEMPLATE_EYE_DISTANCE) is crops
    small = script.shrink(crops, 8.0)
    assert small.shape == crops.shape and small.dtype == np.uint8
    assert small.astype(float).std() < 0.5 * crops.astype(float).std()  # 22x26 px of noise, blown up: smooth
    assert abs(small.astype(float).mean() - crops.astype(float).mean()) < 3


def test_lfw_holdout_writes_the_folds_people_pairs_and_an_unseen_lfw_tree(tmp_path):
    """scripts/lfw_holdout.py: fold 2 of a 2-fold pairs.txt -> its people, its pairs in 10 folds, and links to
    the people training never sees."""
    lfw = tmp_path / "lfw"
    images = {"A": 2, "B": 1, "C": 3, "D": 2, "E": 1}  # fold 1 names A and B; fold 2 names C, D and E
    for name, count in images.items():
        (lfw / name).mkdir(parents=True)
        for k in range(1, count + 1):
            (lfw / name / f"{name}_{k:04d}.jpg").write_bytes(b"")
    fold1 = ["A\t1\t2"] * 10 + ["A\t1\tB\t1"] * 10
    fold2 = [f"C\t1\t{k % 2 + 2}" for k in range(10)] + [f"D\t{k % 2 + 1}\tE\t1" for k in range(10)]
    (lfw / "pairs.txt").write_text("\n".join(["2\t10", *fold1, *fold2]) + "\n", encoding="utf-8")
    script = Path(__file__).resolve().parents[1] / "scripts" / "lfw_holdout.py"
    subprocess.run([sys.executable, str(script), str(lfw), str(tmp_path / "out"), "--fold", "2"], check=True,
                   capture_output=True)
    assert (tmp_path / "out" / "people.txt").read_text(encoding="utf-8").split() == ["C", "D", "E"]
    pairs = read_lfw_pairs(tmp_path / "out" / "pairs.txt")  # an LFW-layout folder of its own
    assert len(pairs) == 20 and list(pairs.folds) == [k for k in range(10) for _ in range(2)]
    assert list(pairs.same) == [True, False] * 10
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["B", "C", "D", "E"]  # not A
