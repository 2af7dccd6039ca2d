"""`sphereapp-train prepare`: detection + alignment of real faces, faceless images, exclusions, resume."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import training.prepare as prepare_module
from sphereapp.core.errors import InputError
from training.cli import main
from training.data import PreparedFaces, read_list
from training.prepare import PrepareOptions, normalise_name, prepare, read_exclusions

PEOPLE = ("Aaron_Peirsol", "Abdullah_Gul", "Adam_Sandler")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def face_tree(shared_data, tmp_path) -> Path:
    """3 people x 2 real LFW images, a blank image, and one person to be excluded."""
    src = tmp_path / "src"
    for name in PEOPLE:
        (src / name).mkdir(parents=True)
        for number in (1, 2):
            shutil.copy(shared_data / "lfw" / name / f"{name}_{number:04d}.jpg", src / name)
    Image.fromarray(np.full((160, 160, 3), 128, np.uint8)).save(src / PEOPLE[1] / "blank.jpg")
    (src / "cfp_001_Al_Pacino").mkdir()
    shutil.copy(shared_data / "lfw" / "Al_Pacino" / "Al_Pacino_0001.jpg", src / "cfp_001_Al_Pacino")
    (tmp_path / "exclude.txt").write_text("cfp_001_Al_Pacino\tAl_Pacino\n", encoding="utf-8")
    return src


def options(tmp_path: Path) -> PrepareOptions:
    return PrepareOptions(exclude=tmp_path / "exclude.txt", device="cpu", workers=1)


def test_prepare_detects_aligns_and_skips_faceless(face_tree, tmp_path):
    summary = prepare(face_tree, tmp_path / "out", options(tmp_path))
    assert (summary["people"], summary["images"], summary["skipped_faceless"]) == (3, 6, 1)
    assert summary["excluded"] == ["cfp_001_Al_Pacino"] and summary["excluded_people"] == 1
    entries = read_list(tmp_path / "out" / "list.tsv")
    assert [(e.identity, e.label) for e in entries] == [(name, label) for label, name in enumerate(PEOPLE)
                                                        for _ in range(2)]
    assert not any("blank" in e.path for e in entries)
    crops = np.load(tmp_path / "out" / "crops.npy")
    assert crops.shape == (6, 112, 96, 3) and crops.dtype == np.uint8
    # An aligned face fills the crop: no black border from warping outside the image, and real texture.
    assert all(crop.std() > 25 and (crop.sum(axis=2) == 0).mean() < 0.05 for crop in crops)
    boxes = np.load(tmp_path / "out" / prepare_module.BOXES_NAME)  # the chosen face in each 160x160 source image
    assert boxes.shape == (6, 4) and boxes.dtype == np.float32
    assert (boxes >= 0).all() and (boxes <= 160).all() and (boxes[:, 2:] - boxes[:, :2] > 50).all()
    assert (np.abs((boxes[:, :2] + boxes[:, 2:]) / 2 - 80) < 20).all()  # LFW faces are centred
    assert len(PreparedFaces(tmp_path / "out")) == 6
    assert not (tmp_path / "out" / prepare_module.WORK_DIR).exists()


def test_interrupted_prepare_resumes_without_redoing_work(face_tree, tmp_path, monkeypatch):
    straight = prepare(face_tree, tmp_path / "straight", options(tmp_path))
    monkeypatch.setattr(prepare_module, "CHUNK", 2)
    read_rgb, reads = prepare_module.read_rgb, []

    def failing_read(path):
        if len(reads) == 4:
            raise KeyboardInterrupt
        reads.append(path)
        return read_rgb(path)

    monkeypatch.setattr(prepare_module, "read_rgb", failing_read)
    with pytest.raises(KeyboardInterrupt):
        prepare(face_tree, tmp_path / "split", options(tmp_path))
    assert (tmp_path / "split" / prepare_module.WORK_DIR).is_dir()
    assert not (tmp_path / "split" / "summary.json").exists()

    monkeypatch.setattr(prepare_module, "read_rgb", lambda path: reads.append(path) or read_rgb(path))
    resumed = prepare(face_tree, tmp_path / "split", options(tmp_path))
    assert len(reads) == 7  # the 4 images before the interruption were not read again
    assert {k: resumed[k] for k in ("people", "images", "skipped_faceless")} == \
        {k: straight[k] for k in ("people", "images", "skipped_faceless")}
    split_crops = np.load(tmp_path / "split" / "crops.npy").astype(int)
    # MTCNN batches of another size may move a landmark by a hair: allow 1-2 grey levels.
    assert np.abs(split_crops - np.load(tmp_path / "straight" / "crops.npy")).max() <= 2
    assert (tmp_path / "split" / "list.tsv").read_text() == (tmp_path / "straight" / "list.tsv").read_text()


def test_rerun_of_finished_job_and_other_input(face_tree, tmp_path, capsys):
    first = prepare(face_tree, tmp_path / "out", options(tmp_path))
    assert prepare(face_tree, tmp_path / "out", options(tmp_path)) == first
    assert "nothing to do" in capsys.readouterr().out
    with pytest.raises(InputError, match="other input"):
        prepare(face_tree, tmp_path / "out", PrepareOptions(device="cpu"))  # without the exclusion


def test_aligned_folders_are_centre_cropped(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    exact = rng.integers(0, 256, (112, 96, 3), dtype=np.uint8)
    for folder, image in (("glint_A", big), ("glint_B", exact)):
        (tmp_path / "src" / folder).mkdir(parents=True)
        Image.fromarray(image).save(tmp_path / "src" / folder / "0.png")
    summary = prepare(tmp_path / "src", tmp_path / "out", PrepareOptions(aligned_globs=("glint_*",)))
    assert summary["aligned_input_images"] == 2
    crops = np.load(tmp_path / "out" / "crops.npy")
    assert np.array_equal(crops[0], big[:, 8:104]) and np.array_equal(crops[1], exact)
    assert np.isnan(np.load(tmp_path / "out" / prepare_module.BOXES_NAME)).all()  # aligned input: no box


def test_exclusion_names_are_normalised(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("# comment\ncfp_006_Adam_Sandler\tAdam Sandler\n\nGeorge_W_Bush\n", encoding="utf-8")
    assert read_exclusions(path) == {"cfp_006_adam_sandler", "adam_sandler", "george_w_bush"}
    assert normalise_name("George W Bush") == "george_w_bush"


def test_prepare_cli_errors(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "does not exist" in lines[0] and "no images" in lines[1]
