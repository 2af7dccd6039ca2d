"""MobileFaceNet distillation teacher (ncnn): embeddings of real faces, `eval lfw-teacher|openset --teacher`, and the
messages when ncnn or the model files are missing."""

import sys
from pathlib import Path

import numpy as np
import pytest

from sphereapp.core.errors import SphereappError
from sphereapp.core.vision.detect import FaceDetector
from training.cli import main
from training.teacher_eval import teacher_features
from training.teacher_mobilefacenet import MobileFaceNetTeacher

PEOPLE = ("Aaron_Peirsol", "Abdullah_Gul", "Adam_Sandler")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def teacher_dir(shared_data) -> Path:
    pytest.importorskip("ncnn")
    folder = shared_data.parent / "teachers" / "mobilefacenet_ms1m"
    if not (folder / "mobilefacenet.param").is_file():
        pytest.skip("the MobileFaceNet teacher files are not in ../shared/teachers")
    return folder


def test_same_person_is_closer_than_different_people(teacher_dir, shared_data):
    paths = [shared_data / "lfw" / name / f"{name}_{k:04d}.jpg" for name in PEOPLE for k in (1, 2)]
    facts: dict = {}
    embeddings = teacher_features(paths, MobileFaceNetTeacher(teacher_dir, threads=1), FaceDetector(), facts)
    assert embeddings.shape == (6, 128) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    scores = embeddings @ embeddings.T
    same = [scores[2 * i, 2 * i + 1] for i in range(3)]
    different = [scores[i, j] for i in range(6) for j in range(6) if i // 2 != j // 2]
    assert min(same) > max(different) and facts["images"] == 6 and facts["no_face_found"] == 0


def test_wrong_crop_size_is_refused(teacher_dir):
    with pytest.raises(ValueError, match="112, 112"):
        MobileFaceNetTeacher(teacher_dir).embed(np.zeros((1, 112, 96, 3), np.uint8))


def test_missing_files_and_missing_ncnn_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(SphereappError, match="mobilefacenet.param"):
        MobileFaceNetTeacher(tmp_path)
    (tmp_path / "mobilefacenet.param").write_text("")
    (tmp_path / "mobilefacenet.bin").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "ncnn", None)
    with pytest.raises(SphereappError, match=r"pip install '\.\[teacher\]'"):
        MobileFaceNetTeacher(tmp_path)


def test_openset_cannot_write_a_calibration_for_a_teacher(capsys, tmp_path):
    code = main(["eval", "openset", "--lfw", str(tmp_path), "--teacher", "mobilefacenet",
                 "--into", str(tmp_path / "x.safetensors")])
    assert code == 2 and "--into" in capsys.readouterr().err
