"""`sphereapp index` and `sphereapp gallery add-from-index` on the demo clip (a seeded random model: mechanics only,
never recognition quality), and their one-line errors."""

import csv
import json

import pytest

from sphereapp.commands import DEMO_GALLERY, DEMO_VIDEO
from sphereapp.core.identities.store import GalleryStore

from helpers import error_line, run_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, untrained_model_file):
    """The demo clip indexed once with every output."""
    out = tmp_path_factory.mktemp("index")
    from sphereapp.cli import main

    code = main([str(a) for a in ("index", DEMO_VIDEO, "--gallery", DEMO_GALLERY, "--model", untrained_model_file,
                                  "--json", out / "i.json", "-o", out / "r.html", "--csv", out / "a.csv",
                                  "--threshold", "0.9")])
    assert code == 0
    return out


def test_index_writes_json_html_and_csv_that_agree(indexed):
    data = json.loads((indexed / "i.json").read_text())
    assert set(data) == {"video", "duration", "model", "threshold", "people"} and data["threshold"] == 0.9
    assert 3.0 < data["duration"] < 4.0 and data["people"]
    unknown = [p["label"] for p in data["people"] if not p["known"]]
    assert unknown == [f"Unknown {k}" for k in range(1, len(unknown) + 1)]  # numbered by first appearance
    for person in data["people"]:
        assert (person["name"] is None) != person["known"] and person["faces"] > 0
        assert person["known"] == (person["label"] in ("Hiker in red cap", "Hiker in teal"))
        assert person["thumbnail"].startswith("data:image/jpeg;base64,")
        assert all(0 <= a["start"] < a["end"] <= data["duration"] + 0.05 for a in person["appearances"])
    with (indexed / "a.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(p["appearances"]) for p in data["people"])
    page = (indexed / "r.html").read_text()
    assert page.count('class="person ') == len(data["people"])


def test_a_person_of_the_index_can_be_enrolled(indexed, tmp_path, capsys, untrained_model_file):
    store = tmp_path / "g.sqlite"
    code, out, _ = run_cli(capsys, "gallery", "add-from-index", indexed / "i.json", "Unknown 1", "Ada Lovelace",
                           "--gallery", store, "--model", untrained_model_file)
    assert code == 0 and "enrolled Ada Lovelace" in out
    with GalleryStore(store) as gallery:
        (identity,) = gallery.identities()
    assert identity.name == "Ada Lovelace" and "Unknown 1" in identity.source


def test_index_errors_are_one_line(indexed, tmp_path, capsys, untrained_model_file):
    code, _, err = run_cli(capsys, "gallery", "add-from-index", indexed / "i.json", "Unknown 99", "X",
                           "--gallery", tmp_path / "g.sqlite", "--model", untrained_model_file)
    assert code == 2 and "Unknown 1" in error_line(err)
    code, _, err = run_cli(capsys, "gallery", "add-from-index", tmp_path / "none.json", "Unknown 1", "X",
                           "--gallery", tmp_path / "g.sqlite", "--model", untrained_model_file)
    assert code == 2 and "does not exist" in error_line(err)
    code, _, err = run_cli(capsys, "index", tmp_path / "missing.mp4", "--model", untrained_model_file)
    assert code == 2
    code, _, err = run_cli(capsys, "index", DEMO_VIDEO, "--json", tmp_path / "no" / "i.json",
                           "--model", untrained_model_file)
    assert code == 2 and "does not exist" in error_line(err)
    assert not (tmp_path / "g.sqlite").exists()
