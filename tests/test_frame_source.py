"""gui/frame_source.py: random access to video frames (forward decoding, keyframe seeks, cache, the end)."""

import numpy as np

from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.media.video import VideoReader
from sphereapp.gui.frame_source import FrameSource


def test_any_order_of_requests_gives_the_sequentially_decoded_frames():
    with VideoReader(DEMO_VIDEO) as reader:
        reference = list(reader)
    source = FrameSource(DEMO_VIDEO, cache_bytes=4 * reference[0].image.nbytes)  # the cache holds 4 frames
    # step, short jump (decode forward), long jump (keyframe seek), back (cache, then seek), to the end
    for index in (0, 1, 2, 20, 100, 99, 50, 3, len(reference) - 1, 0):
        frame = source.frame(index)
        assert frame.index == index
        np.testing.assert_array_equal(frame.image, reference[index].image)
    source.close()


def test_past_the_end_gives_the_last_frame_and_learns_the_length():
    source = FrameSource(DEMO_VIDEO)
    last = source.info.frame_count - 1
    assert source.last_index is None
    assert source.frame(last + 40).index == last and source.last_index == last
    assert source.frame(10_000).index == last
    assert source.frame(-5).index == 0
    source.close()
