"""Pipeline logic with fake detector/embedder: batching, scores kept per face, live re-labelling, JSON records."""

import json
import threading
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from sphereapp.core.drivers.file import frame_log, run_video
from sphereapp.core.files import write_json_atomic
from sphereapp.core.media.annotate import UNKNOWN_COLOR
from sphereapp.core.media.video import Frame, VideoReader
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.results import FaceResult, FrameResult, label_faces
from sphereapp.core.recognition.reuse import EmbeddingReuse
from sphereapp.core.recognition.speed import EVERY_FRAME, Speed

from fakes import GALLERY, ColourEmbedder, TemplateFaceDetector, colour_recognizer
from media_files import write_clip


def frame(index, colour):
    return Frame(index, index / 25, np.full((112, 96, 3), colour, np.uint8))


def test_recognise_batches_frames_and_names_faces():
    detector, embedder = TemplateFaceDetector(), ColourEmbedder()
    recognizer = Recognizer(detector, embedder, GALLERY, threshold=0.9)
    frames = [frame(0, (200, 0, 0)), frame(1, (0, 0, 0)), frame(2, (0, 180, 0)), frame(3, (0, 0, 200))]
    results = recognizer.recognise(frames)
    assert detector.calls == [4] and embedder.batches == [3]  # one detector call, one embedding batch
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [len(r.faces) for r in results] == [1, 0, 1, 1]
    assert results[0].faces[0].identity == 0 and results[2].faces[0].identity == 1
    assert results[3].faces[0].identity == -1  # blue: not in the gallery
    np.testing.assert_allclose(results[0].faces[0].scores, [1.0, 0.0], atol=1e-3)
    labels = recognizer.labels(results[3])
    assert labels[0].name is None and labels[0].color == UNKNOWN_COLOR
    assert recognizer.labels(results[0])[0].name == "Red"


def test_recognise_with_reuse_embeds_a_followed_face_every_nth_time_and_after_a_cut():
    embedder = ColourEmbedder()
    recognizer, reuse = Recognizer(TemplateFaceDetector(), embedder, GALLERY, threshold=0.9), EmbeddingReuse(every=3)
    frames = [frame(k, (200, 0, 0)) for k in range(4)] + [frame(k, (0, 180, 0)) for k in (4, 5)]
    results = recognizer.recognise(frames[:3], reuse)
    results += recognizer.recognise(frames[3:], reuse, cuts=[False, True, False])  # red to green at frame 4
    assert embedder.batches == [1, 2]  # frame 0; frame 3 (its embedding was 3 keyframes old) and frame 4 (a cut)
    assert [r.faces[0].identity for r in results] == [0, 0, 0, 0, 1, 1]


def test_label_faces_threshold_is_inclusive_and_relabels():
    face = FaceResult(np.zeros(4), 0.9, np.zeros((5, 2)), np.array([0.2, 0.5], np.float32))
    [named] = label_faces([face], threshold=0.5)
    assert (named.identity, named.similarity) == (1, 0.5)
    [unknown] = label_faces([named], threshold=0.6)
    assert unknown.identity == -1 and unknown.similarity == 0.5
    assert named.identity == 1 and face.identity == -1 and np.isnan(face.similarity)  # results are never changed


def test_results_are_immutable():
    face = FaceResult(np.zeros(4), 0.9, np.zeros((5, 2)), np.zeros(0, np.float32))
    result = FrameResult(0, 0.0, [face])
    assert result.faces == (face,)  # a list given is kept as a tuple
    with pytest.raises(FrozenInstanceError):
        face.identity = 3
    with pytest.raises(FrozenInstanceError):
        result.faces = ()


def test_empty_gallery_means_unknown_without_score():
    [face] = label_faces([FaceResult(np.zeros(4), 0.9, np.zeros((5, 2)), np.zeros(0, np.float32))], threshold=0.1)
    assert face.identity == -1 and np.isnan(face.similarity)
    record = frame_log(type("R", (), {"index": 0, "time": 0.0, "faces": [face]})(), [])
    assert record["faces"][0]["identity"] is None and record["faces"][0]["similarity"] is None


def test_write_json_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "log.json"
    write_json_atomic(target, {"a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


@pytest.mark.parametrize(("every", "embed_every"), [(1, 1), (3, 1), (1, 4)])
def test_run_video_names_every_frame_with_threads_and_stride(tmp_path, every, embed_every):
    speed = Speed(detect_every=every, embed_every=embed_every, scan_every=1)
    clip = write_clip(tmp_path / "in.mp4", [(200, 0, 0)] * 10 + [(0, 0, 0)] * 2 + [(0, 180, 0)] * 10)
    detector, embedder = TemplateFaceDetector(), ColourEmbedder()
    summary = run_video(clip, tmp_path / "out.mp4", Recognizer(detector, embedder, GALLERY, 0.9),
                        batch_size=4, json_path=tmp_path / "log.json", speed=speed)
    names = [[f["identity"] for f in frame["faces"]] for frame in json.loads((tmp_path / "log.json").read_text())["frames"]]
    assert summary.frames == len(names) == 22
    assert names[:9] == [["Red"]] * 9 and names[-8:] == [["Green"]] * 8
    assert sum(detector.calls) == (22 if every == 1 else 10)  # 0, 3, 6, 9 | cut | 10, 11 | cut | 12, 15, 18, 21
    assert sum(embedder.batches) == {1: 20, 3: 8, 4: 6}[every * embed_every]  # embed_every 4: 3 of 10 + 3 of 10
    with VideoReader(tmp_path / "out.mp4") as reader:
        assert sum(1 for _ in reader) == 22


def test_cancel_leaves_no_output_and_no_threads(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", [(200, 0, 0)] * 30)
    threads = threading.active_count()
    calls = iter(range(100))
    with pytest.raises(KeyboardInterrupt):
        run_video(clip, tmp_path / "out.mp4", colour_recognizer(), speed=EVERY_FRAME,
                  should_stop=lambda: next(calls) == 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    assert threading.active_count() == threads


def test_run_video_returns_freed_memory_every_trim_period(tmp_path, monkeypatch):
    from sphereapp.core.drivers import file as file_driver

    trims = []
    monkeypatch.setattr(file_driver, "TRIM_EVERY", 5)
    monkeypatch.setattr(file_driver, "release_free_memory", lambda: trims.append(1))
    clip = write_clip(tmp_path / "in.mp4", [(200, 0, 0)] * 12)
    run_video(clip, tmp_path / "out.mp4", colour_recognizer(), batch_size=4, speed=EVERY_FRAME)
    assert len(trims) == 2  # after frames 5 and 10
