"""index_video's snapshots of the people found so far (what the app's people panel shows while indexing runs), on a
clip of plain colours with the fake detector and colour embedder: Red, then a blue stranger, then Green."""

import pytest

from sphereapp.core.drivers.index import index_video
from sphereapp.core.index.report import VideoIndex
from sphereapp.core.recognition.speed import EVERY_FRAME

from fakes import colour_recognizer
from media_files import write_clip

COLOURS = [(200, 0, 0)] * 20 + [(0, 0, 0)] * 8 + [(0, 0, 200)] * 20 + [(0, 0, 0)] * 8 + [(0, 180, 0)] * 20  # 25 fps


def people_of(index: VideoIndex) -> list[tuple]:
    """What a row of the panel shows of each person (the thumbnail aside)."""
    return [(p.label, p.tracks, p.faces, p.seconds, p.appearances) for p in index.people]


def test_snapshots_grow_while_indexing_and_the_last_one_is_the_final_index(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", COLOURS)
    snapshots: list[VideoIndex] = []
    final = index_video(clip, colour_recognizer(), speed=EVERY_FRAME, batch_size=4, on_people=snapshots.append,
                        people_every=0)
    assert [p.label for p in final.people] == ["Red", "Unknown 1", "Green"] and not final.partial
    assert len(snapshots) == len(COLOURS)  # people_every=0: after every frame
    assert all(s.partial and s.duration == final.duration for s in snapshots)  # strips keep the video's scale
    until = [s.indexed_until for s in snapshots]
    assert until == sorted(until) and until[-1] == pytest.approx(final.duration)
    seen = [[p.label for p in s.people] for s in snapshots]
    assert seen[0] == [] and seen[10] == ["Red"] and seen[40] == ["Red", "Unknown 1"]  # people appear as they come
    faces = [sum(p.faces for p in s.people) for s in snapshots]
    assert faces == sorted(faces) and faces[-1] == 60
    assert people_of(snapshots[-1]) == people_of(final)


def test_snapshots_come_every_people_every_seconds_of_video(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", COLOURS)
    snapshots: list[VideoIndex] = []
    index_video(clip, colour_recognizer(), speed=EVERY_FRAME, batch_size=4, on_people=snapshots.append,
                people_every=1.0)
    assert [round(s.indexed_until, 2) for s in snapshots] == [1.04, 2.04, 3.04]  # after the frames at 1, 2 and 3 s
    assert [[p.label for p in s.people] for s in snapshots] == [["Red"], ["Red", "Unknown 1"],
                                                                ["Red", "Unknown 1", "Green"]]
