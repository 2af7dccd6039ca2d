"""The live driver without Qt: frames recognised one at a time as a player asks for them, named by track."""

import json

import numpy as np
import pytest

from sphereapp.core.drivers.file import run_video
from sphereapp.core.drivers.live import LiveRecognizer
from sphereapp.core.media.video import Frame, VideoReader
from sphereapp.core.recognition.recognizer import Recognizer
from sphereapp.core.recognition.speed import Speed

from fakes import GALLERY, ColourEmbedder, TemplateFaceDetector, colour_recognizer
from media_files import write_clip

FPS = 10.0  # FOLLOW_GAP_S = 0.5 s: 5 frames


class SearchingDetector(TemplateFaceDetector):
    """TemplateFaceDetector that also searches near expected faces (finding what a scan would) and logs which frames
    it scanned and which it searched (the frame number is the image's blue value)."""

    def __init__(self):
        super().__init__()
        self.scanned, self.searched = [], []

    def detect(self, images):
        self.scanned += [int(image[0, 0, 2]) for image in images]
        return super().detect(images)

    def detect_near(self, images, expected):
        self.searched += [int(image[0, 0, 2]) for image in images]
        return super().detect(images)


def frame(index: int, green: int = 0) -> Frame:
    """A red frame that holds its own number; a little `green` changes its face's scores (not enough for a cut)."""
    return Frame(index, index / FPS, np.full((112, 96, 3), (200, green, index), np.uint8))


def live(scan_every: int = 4, embed_every: int = 2):
    detector, embedder = SearchingDetector(), ColourEmbedder()
    player = LiveRecognizer(Recognizer(detector, embedder, GALLERY, 0.9), FPS, scan_every, embed_every)
    return player, detector, embedder


def test_frames_played_on_are_mostly_searched_and_keep_their_embeddings():
    player, detector, embedder = live(scan_every=4, embed_every=2)
    shown = [player.show(frame(k), 0.9) for k in range(8)]
    assert all(s.ran_networks for s in shown)
    assert detector.scanned == [0, 4] and detector.searched == [1, 2, 3, 5, 6, 7]
    assert embedder.batches == [1, 0] * 4  # the followed face is embedded on every 2nd frame
    assert [s.result.faces[0].identity for s in shown] == [0] * 8
    assert {s.result.faces[0].track for s in shown} == {0}


def test_a_frame_shown_again_runs_no_network_and_keeps_its_tracks():
    player, detector, _ = live()
    for k in range(3):
        player.show(frame(k, green=15 * k), 0.9)
    again = player.show(frame(2, green=30), 0.5)  # another threshold for the same frame
    assert not again.ran_networks and detector.scanned + detector.searched == [0, 1, 2]
    face = again.result.faces[0]
    assert not np.allclose(face.track_scores, face.scores)  # still named from three frames of evidence


def fresh_track(shown) -> bool:
    """One frame of evidence: the face's track began with this frame."""
    [face] = shown.result.faces
    return np.array_equal(face.track_scores, face.scores)


def test_frames_skipped_within_the_gap_continue_and_a_jump_or_a_step_back_starts_again():
    shown = [0, 1, 2, 5, 10, 16, 15]  # 5: 3 frames on; 10: 5 frames (0.5 s) on; 16: 6 on (a seek); 15: a step back
    tracking, detector, _ = live(scan_every=8, embed_every=1)
    fresh = [fresh_track(tracking.show(frame(k, green=min(15 * k, 30)), 0.9)) for k in shown]
    assert fresh == [True, False, False, False, False, True, True]
    assert detector.searched == [1, 2, 5] and detector.scanned == [0, 10, 16, 15]  # searched up to 3 frames on
    reusing, _, embedder = live(scan_every=8, embed_every=8)
    for k in shown:
        reusing.show(frame(k), 0.9)
    assert embedder.batches == [1, 0, 0, 0, 0, 1, 1]


def test_a_scene_cut_is_scanned_and_embedded_again():
    player, detector, embedder = live(scan_every=8, embed_every=8)
    player.show(frame(0), 0.9)
    player.show(frame(1), 0.9)
    cut = player.show(Frame(2, 0.2, np.full((112, 96, 3), (0, 180, 2), np.uint8)), 0.9)  # red to green
    assert detector.scanned == [0, 2] and detector.searched == [1] and embedder.batches == [1, 0, 1]
    np.testing.assert_allclose(cut.result.faces[0].scores, [0, 1], atol=1e-3)  # its own embedding, not frame 1's


@pytest.mark.parametrize("embed_every", [1, 3])
def test_played_frame_after_frame_the_live_and_file_drivers_name_faces_alike(tmp_path, embed_every):
    colours = [(200, 0, 0)] * 6 + [(120, 110, 0)] * 3 + [(0, 0, 0)] * 2 + [(0, 180, 0)] * 6
    clip = write_clip(tmp_path / "in.mp4", colours)
    recognizer = colour_recognizer()
    run_video(clip, tmp_path / "out.mp4", recognizer, json_path=tmp_path / "log.json",
              speed=Speed(detect_every=1, embed_every=embed_every, scan_every=1))
    exported = [[(face["identity"], face["track"], face["similarity"]) for face in logged["faces"]]
                for logged in json.loads((tmp_path / "log.json").read_text())["frames"]]
    with VideoReader(clip) as reader:
        player = LiveRecognizer(recognizer, reader.info.fps, scan_every=1, embed_every=embed_every)
        shown = [player.show(f, recognizer.threshold).result for f in reader]
    names = [[(GALLERY.names[f.identity] if f.identity >= 0 else None, f.track, round(f.similarity, 4))
              for f in result.faces] for result in shown]
    assert names == exported
    assert {name for faces in names for name, *_ in faces} == {"Red", "Green", None}
