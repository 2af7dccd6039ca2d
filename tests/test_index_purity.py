"""scripts/index_purity.py: reading hand-written ground truth and scoring groups against it (no video needed)."""

import numpy as np
import pytest

from scripts.index_purity import read_truth, score, track_at
from sphereapp.core.errors import InputError
from sphereapp.core.index.people import IndexedFace


def test_purity_is_the_majority_share_and_splits_count_groups():
    figures = score([("Unknown 1", "ann"), ("Unknown 1", "ann"), ("Unknown 1", "bob"), ("Unknown 2", "ann"),
                     ("Unknown 3", "bob")])
    assert figures["groups"]["Unknown 1"] == {"faces": 3, "majority": "ann", "purity": 0.6667,
                                              "people": {"ann": 2, "bob": 1}}
    assert figures["groups"]["Unknown 3"]["purity"] == 1.0
    assert {p: e["splits"] for p, e in figures["people"].items()} == {"ann": 2, "bob": 2}
    assert figures["mean_purity"] == pytest.approx((2 / 3 + 1 + 1) / 3, abs=1e-4) and figures["mean_splits"] == 2
    assert score([])["mean_purity"] is None


def test_a_point_goes_to_the_smallest_box_that_contains_it():
    def face(track, box):
        return IndexedFace(track, None, 0.0, np.zeros(4), np.array(box, float), np.zeros((5, 2)))

    faces = [face(1, [0, 0, 100, 100]), face(2, [40, 40, 60, 60])]
    assert track_at(faces, 50, 50) == 2 and track_at(faces, 10, 10) == 1 and track_at(faces, 150, 10) is None


def test_truth_rows_skip_comments_and_bad_rows_are_one_line_errors(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("# by hand\nframe,x,y,person\n12,30.5,40,ann\n", encoding="utf-8")
    assert [(f.frame, f.x, f.person) for f in read_truth(path)] == [(12, 30.5, "ann")]
    path.write_text("frame,x,y,person\n12,thirty,40,ann\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 2"):
        read_truth(path)
    with pytest.raises(InputError, match="cannot read"):
        read_truth(tmp_path / "missing.csv")
