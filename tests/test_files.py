import numpy as np
import pytest

from sphereapp.core.files import replacing, save_npy


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.npy"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npy"]


def test_a_finished_write_replaces_the_file(tmp_path):
    target = tmp_path / "model.npy"
    target.write_text("old")
    with replacing(target) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".npy" and temporary.name.startswith(".")
        temporary.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npy"]


def test_save_npy_writes_exactly_the_given_name(tmp_path):
    target = tmp_path / "crops.cache"  # no .npy suffix: np.save on a path would write crops.cache.npy
    save_npy(target, np.arange(6, dtype=np.uint8))
    assert np.load(target).tolist() == list(range(6))
    assert [p.name for p in tmp_path.iterdir()] == ["crops.cache"]
