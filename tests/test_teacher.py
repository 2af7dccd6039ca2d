"""dlib distillation teacher: descriptors of real faces, the `teacher` command (resume, alignment with list.tsv),
the `eval lfw-teacher` protocol, and the install hint when dlib is missing."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import training.teacher_targets as targets_module
from sphereapp.core.errors import SphereappError
from sphereapp.core.vision.detect import Detections
from training.cli import main
from training.data import ListEntry, read_list, write_list
from training.evaluation import VerificationPairs
from training.prepare import BOXES_NAME
from training.teacher import DlibTeacher, dlib_rectangle_box, embed_files, face_boxes, fallback_box
from training.teacher_eval import subsample_pairs
from training.teacher_targets import centred

PEOPLE = ("Aaron_Peirsol", "Abdullah_Gul", "Adam_Sandler")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def teacher() -> DlibTeacher:
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    return DlibTeacher()


@pytest.fixture(scope="module")
def detector():
    from sphereapp.core.vision.detect import FaceDetector

    return FaceDetector()


@pytest.fixture(scope="module")
def prepared(shared_data, tmp_path_factory, teacher) -> Path:
    """3 people x 2 LFW images prepared by `sphereapp-train prepare` (with boxes.npy)."""
    root = tmp_path_factory.mktemp("teacher")
    for name in PEOPLE:
        (root / "src" / name).mkdir(parents=True)
        for number in (1, 2):
            shutil.copy(shared_data / "lfw" / name / f"{name}_{number:04d}.jpg", root / "src" / name)
    assert main(["prepare", str(root / "src"), str(root / "data"), "--device", "cpu", "--workers", "1"]) == 0
    return root / "data"


class NoFaceDetector:
    """Detector fake that never finds a face, counting the images it was asked about."""

    def __init__(self):
        self.seen = 0

    def detect(self, images):
        self.seen += len(images)
        return [Detections.empty() for _ in images]


def test_same_person_is_closer_than_different_people(teacher, detector, shared_data):
    lfw = shared_data / "lfw"
    paths = [lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg",
             lfw / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg", lfw / "Adam_Sandler" / "Adam_Sandler_0001.jpg"]
    embeddings, fallbacks = embed_files(paths, teacher, detector, workers=1)
    assert embeddings.shape == (4, 128) and embeddings.dtype == np.float32 and fallbacks == 0
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    cos = embeddings @ embeddings.T
    assert cos[0, 1] > max(cos[0, 2], cos[0, 3], cos[1, 2], cos[1, 3]) + 0.05


def test_dlib_rectangle_is_the_square_hog_box():
    box = dlib_rectangle_box(np.array([10, 20, 110, 150], np.float32))
    side = box[2:] - box[:2]
    assert side[0] == pytest.approx(side[1]) == pytest.approx(104)
    assert (box[:2] + box[2:]) / 2 == pytest.approx([62, 92.54])  # shifted right 2% of 100, down 5.8% of 130


def test_known_boxes_are_kept_and_faceless_images_fall_back():
    images = [np.zeros((100, 80, 3), np.uint8), np.zeros((112, 112, 3), np.uint8)]
    known = np.array([[1, 2, 30, 40], [np.nan] * 4], np.float32)
    detector = NoFaceDetector()
    boxes, fallbacks = face_boxes(images, known, detector)
    assert detector.seen == 1 and fallbacks == 1
    assert np.array_equal(boxes[0], known[0])
    assert boxes[1] == pytest.approx(fallback_box((112, 112))) and boxes[1][3] == pytest.approx(112)


def test_teacher_command_writes_rows_aligned_with_list(prepared, teacher, detector, tmp_path):
    out = tmp_path / "raw.npy"
    assert main(["teacher", str(prepared), str(out), "--no-center", "--workers", "1", "--device", "cpu"]) == 0
    raw = np.load(out)
    entries = read_list(prepared / "list.tsv")
    assert raw.shape == (len(entries), 128) == (6, 128) and raw.dtype == np.float32
    source = Path(json.loads((prepared / "summary.json").read_text())["source"])
    boxes = np.load(prepared / BOXES_NAME)
    assert np.isfinite(boxes).all()
    for k in (0, 3, 5):
        direct, _ = embed_files([source / entries[k].path], teacher, detector, boxes[k:k + 1], workers=1)
        assert np.allclose(raw[k], direct[0], atol=1e-5)
    cos = raw @ raw.T
    labels = np.array([e.label for e in entries])
    same = (labels[:, None] == labels[None]) & ~np.eye(6, dtype=bool)
    assert cos[same].min() > cos[labels[:, None] != labels[None]].max()

    assert main(["teacher", str(prepared), "--workers", "1", "--device", "cpu"]) == 0
    default = prepared / "teacher_dlib.npy"
    expected, mean = centred(raw)
    assert np.allclose(np.load(default), expected, atol=1e-5)
    assert np.allclose(json.loads(default.with_suffix(".json").read_text())["mean"], mean, atol=1e-6)


def test_interrupted_teacher_run_resumes(prepared, teacher, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(targets_module, "CHUNK", 2)
    real_embed, calls = targets_module.embed_files, []

    def embed_then_stop(paths, *args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(paths))
        return real_embed(paths, *args)

    monkeypatch.setattr(targets_module, "embed_files", embed_then_stop)
    out = tmp_path / "teacher.npy"
    with pytest.raises(KeyboardInterrupt):
        targets_module.write_teacher_embeddings(prepared, out, targets_module.TeacherOptions(workers=1))
    assert not out.exists()
    calls.clear()
    monkeypatch.setattr(targets_module, "embed_files", lambda paths, *args: calls.append(len(paths)) or
                        real_embed(paths, *args))
    targets_module.write_teacher_embeddings(prepared, out, targets_module.TeacherOptions(workers=1))
    assert calls == [2]  # the 4 rows done before the interruption were not embedded again
    assert not list(tmp_path.glob(".*partial*"))
    straight = targets_module.write_teacher_embeddings(prepared, tmp_path / "straight.npy",
                                                       targets_module.TeacherOptions(workers=1))
    assert np.allclose(np.load(out), np.load(straight), atol=1e-5)
    capsys.readouterr()
    targets_module.write_teacher_embeddings(prepared, out, targets_module.TeacherOptions(workers=1))
    assert "nothing to do" in capsys.readouterr().out


def test_lfw_teacher_eval_on_a_small_pair_list(teacher, shared_data, tmp_path, capsys):
    lines = ["2\t2"]
    for first, second in (("Aaron_Peirsol", "Abdullah_Gul"), ("Adam_Sandler", "Abdullah_Gul")):
        lines += [f"{first}\t1\t2", f"{second}\t1\t2", f"{first}\t1\t{second}\t1", f"{first}\t2\t{second}\t2"]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = tmp_path / "report.json"
    assert main(["eval", "lfw-teacher", "--lfw", str(shared_data / "lfw"), "--pairs", str(tmp_path / "pairs.txt"),
                 "--device", "cpu", "--workers", "1", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["n_pairs"] == 8 and data["images"] == 6 and data["no_face_found"] == 0
    assert data["auc"] == 1.0 and data["accuracy"] >= 0.75
    assert "s/image" in capsys.readouterr().out


def test_subsample_keeps_both_classes_of_every_fold():
    same = np.tile(np.repeat([True, False], 5), 3)
    pairs = VerificationPairs([(Path(f"a{i}"), Path(f"b{i}")) for i in range(30)], same, np.repeat([0, 1, 2], 10))
    small = subsample_pairs(pairs, 4)
    assert [p[0].name for p in small.pairs] == ["a0", "a1", "a5", "a6", "a10", "a11", "a15", "a16", "a20", "a21",
                                                "a25", "a26"]
    assert list(small.folds) == [0] * 4 + [1] * 4 + [2] * 4 and small.same.sum() == 6


def test_missing_dlib_names_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(SphereappError, match=r"pip install '\.\[teacher\]'"):
        DlibTeacher()
    (tmp_path / "src" / "A").mkdir(parents=True)
    write_list(tmp_path / "list.tsv", [ListEntry(0, "A/0.jpg", 0, "A")])
    (tmp_path / "summary.json").write_text(json.dumps({"source": str(tmp_path / "src")}), encoding="utf-8")
    assert main(["teacher", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs dlib" in err[0] and "'.[teacher]'" in err[0]
