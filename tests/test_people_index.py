"""The people of a video: known people by name, unknown tracks grouped, screen time, appearances, best face."""

import numpy as np
import pytest

from sphereapp.core.index.people import IndexedFace, PeopleIndexer, face_quality, thumbnail

from index_samples import FPS, FRONTAL, face, feed, near, random_unit, sample_index, textured


def test_known_people_by_name_and_unknown_tracks_grouped_by_likeness():
    stranger, other, ada = random_unit(1), random_unit(2), random_unit(3)
    frames: dict[int, list[IndexedFace]] = {}
    for i in range(0, 10):  # the stranger (track 1), Ada (track 2)
        frames[i] = [face(1, near(stranger, i)), face(2, near(ada, 100 + i), "Ada", 0.7)]
    for i in range(30, 40):  # after a cut: the stranger again (track 3) beside someone else (track 4)
        frames[i] = [face(3, near(stranger, 200 + i)), face(4, near(other, 300 + i))]
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    people = indexer.people()
    assert [p.label for p in people] == ["Ada", "Unknown 1", "Unknown 2"]  # first appearance; known first on ties
    by_label = {p.label: p for p in people}
    assert by_label["Unknown 1"].tracks == (1, 3) and by_label["Unknown 2"].tracks == (4,)
    assert by_label["Ada"].known and not by_label["Unknown 1"].known
    assert by_label["Ada"].mean_score == pytest.approx(0.7)
    assert by_label["Unknown 1"].seconds == pytest.approx(2.0) and by_label["Unknown 1"].faces == 20
    assert [(a.start, a.end) for a in by_label["Unknown 1"].appearances] == [(0.0, 1.0), (3.0, 4.0)]


def test_an_unknown_track_that_looks_like_a_known_person_joins_them_but_names_never_merge():
    ada, bob = random_unit(21), random_unit(22)
    frames: dict[int, list[IndexedFace]] = {}
    for i in range(0, 10):  # Ada named (track 1), Bob named (track 2)
        frames[i] = [face(1, near(ada, i), "Ada", 0.6), face(2, near(bob, 20 + i), "Bob", 0.6)]
    for i in range(30, 40):  # Ada turned aside, below the threshold (track 3); Bob named again (track 4)
        frames[i] = [face(3, near(ada, 40 + i), None, 0.2), face(4, near(bob, 60 + i), "Bob", 0.6)]
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    people = indexer.people()
    assert [(p.label, p.tracks) for p in people] == [("Ada", (1, 3)), ("Bob", (2, 4))]
    assert people[0].mean_score == pytest.approx(0.6)  # her name's score, not the turned track's best to anyone

    twin = {i: [face(5, near(ada, i), "Ada", 0.6), face(6, near(ada, 80 + i), None, 0.2)] for i in range(10)}
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, twin)  # a look-alike on screen with Ada is someone else
    assert [(p.label, p.tracks) for p in indexer.people()] == [("Ada", (5,)), ("Unknown 1", (6,))]
    bob_alike = {i: [face(7, near(ada, i), "Ada", 0.6)] for i in range(10)}
    bob_alike.update({i: [face(8, near(ada, i), "Bob", 0.6)] for i in range(20, 30)})
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, bob_alike)  # the gallery's two names stay two people, however alike their tracks
    assert [(p.label, p.tracks) for p in indexer.people()] == [("Ada", (7,)), ("Bob", (8,))]


def test_tracks_on_screen_together_are_never_one_person():
    twin = random_unit(5)
    frames = {i: [face(1, near(twin, i, 0.01)), face(2, near(twin, 50 + i, 0.01))] for i in range(5)}
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    assert sorted(p.tracks for p in indexer.people()) == [(1,), (2,)]


def test_short_gaps_join_appearances_and_screen_time_counts_frames():
    me = random_unit(7)
    frames = {i: [face(1, near(me, i))] for i in list(range(0, 5)) + list(range(12, 15)) + list(range(40, 42))}
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    (person,) = indexer.people()
    assert [(a.start, a.end) for a in person.appearances] == [(0.0, 1.5), (4.0, 4.2)]  # a 0.7 s gap joins
    assert person.seconds == pytest.approx(1.0)


def test_a_track_is_named_by_what_it_was_mostly_called():
    ada = random_unit(9)
    frames = {i: [face(1, near(ada, i), "Ada" if i >= 2 else None, 0.6)] for i in range(6)}
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    assert [p.label for p in indexer.people()] == ["Ada"]


def test_the_best_face_is_large_sharp_and_frontal():
    image = textured()
    turned = FRONTAL.copy()
    turned[2, 0] = 58  # the nose near the right eye: a turned head
    big = face_quality(image, np.array([10, 10, 110, 118]), FRONTAL)
    assert big > face_quality(image, np.array([10, 10, 40, 46]), FRONTAL)
    assert big > face_quality(image, np.array([10, 10, 110, 118]), turned)
    assert big > face_quality(np.full_like(image, 128), np.array([10, 10, 110, 118]), FRONTAL)  # flat: not sharp
    assert thumbnail(image, np.array([10, 10, 50, 60])).shape[0] == 160


def test_index_json_csv_and_html_hold_every_person(tmp_path):
    from sphereapp.core.index.report import decode_data_uri, read_index, render_html, write_csv, write_json

    index = sample_index()
    write_json(tmp_path / "index.json", index)
    data = read_index(tmp_path / "index.json")
    assert [p["label"] for p in data["people"]] == ["Ada", "Unknown 1"]
    unknown = data["people"][1]
    assert unknown["name"] is None and unknown["known"] is False and unknown["faces"] == 15
    assert unknown["appearances"] == [{"start": 0.0, "end": 1.0}, {"start": 4.0, "end": 4.5}]
    assert decode_data_uri(unknown["thumbnail"]).shape[0] == 160
    write_csv(tmp_path / "a.csv", index)
    assert (tmp_path / "a.csv").read_text().splitlines() == [
        "label,name,known,start,end", "Ada,Ada,1,0.0,1.0", "Unknown 1,,0,0.0,1.0", "Unknown 1,,0,4.0,4.5"]
    page = render_html(index)
    assert page.count('class="person ') == 2 and page.count("<span style=") == 3 and "data:image/jpeg" in page


def test_bad_index_files_are_one_line_errors(tmp_path):
    from sphereapp.core.errors import InputError
    from sphereapp.core.index.report import decode_data_uri, find_person, read_index

    with pytest.raises(InputError, match="does not exist"):
        read_index(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="cannot read"):
        read_index(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"frames": []}')
    with pytest.raises(InputError, match="not a sphereapp people index"):
        read_index(tmp_path / "other.json")
    with pytest.raises(InputError, match="Unknown 1"):
        find_person({"people": [{"label": "Unknown 1"}]}, "Unknown 7")
    with pytest.raises(InputError, match="data URI"):
        decode_data_uri("faces/1.jpg")


def test_the_html_report_renders_in_a_real_browser(tmp_path):
    from scripts.screenshot_report import find_browser, screenshot
    from sphereapp.core.index.report import write_html

    if find_browser() is None:
        pytest.skip("no chromium (apt-get install chromium)")
    write_html(tmp_path / "r.html", sample_index())
    screenshot(tmp_path / "r.html", tmp_path / "r.png", 900, 400)
    import cv2

    shot = cv2.imread(str(tmp_path / "r.png"))
    assert shot.shape[:2] == (400, 900)
    rows = shot[120:400].reshape(-1, 3)
    assert (np.abs(rows.astype(int) - [180, 119, 31]).sum(axis=1) < 40).sum() > 500  # Ada's blue strip (BGR)
    assert shot.std() > 20  # thumbnails and text, not a blank page


def test_tracks_too_short_to_be_faces_are_left_out():
    frames = {i: [face(1, random_unit(20))] for i in range(4)}
    frames.update({i: [face(2, random_unit(21))] for i in range(10, 16)})
    indexer = PeopleIndexer(1 / FPS, threshold=0.5)
    feed(indexer, frames)
    assert [p.tracks for p in indexer.people()] == [(2,)]
    everything = PeopleIndexer(1 / FPS, threshold=0.5, min_faces=1)
    feed(everything, frames)
    assert len(everything.people()) == 2


def test_naming_a_person_of_the_index_changes_only_that_row():
    from sphereapp.core.errors import InputError
    from sphereapp.core.index.naming import name_person

    index = sample_index()
    named = name_person(index, "Unknown 1", "  Grace Hopper ")
    assert [(p.label, p.name, p.known) for p in named.people] == [("Ada", "Ada", True),
                                                                  ("Grace Hopper", "Grace Hopper", True)]
    assert named.people[1].appearances == index.people[1].appearances and named.people[0] is index.people[0]
    assert index.people[1].label == "Unknown 1"  # the index it came from is unchanged
    with pytest.raises(InputError, match="already one of the people"):
        name_person(index, "Unknown 1", "Ada")
    with pytest.raises(InputError, match="its people are: Ada, Unknown 1"):
        name_person(index, "Unknown 7", "Grace")
    with pytest.raises(InputError, match="name is empty"):
        name_person(index, "Unknown 1", " ")
