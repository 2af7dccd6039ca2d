"""scripts/edited_clip.py: the edited-footage benchmark clip is built from the shared clips, with cuts."""

import numpy as np

from scripts.edited_clip import FPS, KINDS, SHOT_SECONDS, SIZE, main, plan_shots
from sphereapp.core.media.video import probe


def test_shots_fill_the_clip_with_cuts_of_every_kind():
    sources = {"a.mp4": 500, "b.mp4": 150}
    shots = plan_shots(sources, seconds=60, rng=np.random.default_rng(0))
    assert sum(s.frames for s in shots) == 60 * FPS
    assert {s.kind for s in shots} == set(KINDS)
    assert all(s.frames <= SHOT_SECONDS[1] * FPS and s.start + s.frames < sources[s.source] for s in shots)
    assert all(s.frames >= SHOT_SECONDS[0] * FPS for s in shots[:-1])  # only the last one is cut short


def test_the_clip_is_written_at_1080p(shared_data, tmp_path, capsys):
    out = tmp_path / "edited.mp4"
    assert main(["--out", str(out), "--seconds", "2", "--data", str(shared_data)]) == 0
    info = probe(out)
    assert (info.width, info.height) == SIZE and info.frame_count == 2 * FPS
    assert "shots" in capsys.readouterr().out
