"""The batched MTCNN cascade finds what facenet-pytorch's MTCNN finds: same boxes, scores and landmarks."""

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.media.video import VideoReader
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.mtcnn import cell_edges, crops, integral


@pytest.fixture(scope="module")
def reference_mtcnn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from facenet_pytorch import MTCNN

        return MTCNN(keep_all=True, post_process=False)


@pytest.mark.parametrize(("n", "size"), [(40, 24), (24, 24), (13, 24), (7, 48), (100, 48), (49, 48)])
def test_cell_edges_are_adaptive_average_pooling(n, size):
    line = torch.arange(float(n))[None, None, :]
    pooled = F.adaptive_avg_pool1d(line, size)[0, 0]
    start, stop = cell_edges(torch.tensor([5]), torch.tensor([5 + n]), size)
    means = torch.tensor([(a + b - 1) / 2 - 5 for a, b in zip(start[0].tolist(), stop[0].tolist())])
    torch.testing.assert_close(means, pooled)  # a mean of consecutive integers is the middle of the span


def test_crops_equal_facenet_per_box_area_resize():
    images = torch.rand(2, 3, 50, 70) * 255
    boxes = torch.tensor([[10.7, 5.2, 40.9, 33.0, 0.9], [-4.0, -8.0, 20.0, 30.0, 0.8], [60.0, 40.0, 90.0, 70.0, 0.7]])
    image_index = torch.tensor([0, 1, 1])
    cut = crops(integral(images.permute(0, 2, 3, 1)), boxes, image_index, 24)
    for k, (x1, y1, x2, y2) in enumerate([(10, 5, 40, 33), (1, 1, 20, 30), (60, 40, 70, 50)]):  # facenet's `pad`
        expected = F.interpolate(images[image_index[k], None, :, y1 - 1:y2, x1 - 1:x2], size=(24, 24), mode="area")
        torch.testing.assert_close(cut[k:k + 1], expected, rtol=1e-5, atol=1e-3)


def test_same_faces_as_facenet_pytorch_on_the_demo_clip(reference_mtcnn):
    with VideoReader(DEMO_VIDEO) as reader:
        frames = [frame.image for frame in itertools.islice(reader, 0, 120, 15)]
    height, width = frames[0].shape[:2]
    ours = FaceDetector().detect(frames)
    boxes, scores, points = reference_mtcnn.detect(np.stack(frames), landmarks=True)
    assert sum(len(d) for d in ours) >= 8
    for found, ref_boxes, ref_scores, ref_points in zip(ours, boxes, scores, points):
        order = np.argsort(-ref_scores, kind="stable")
        ref_boxes = ref_boxes[order].copy()
        ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clip(0, width)  # ours are clipped to the frame
        ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clip(0, height)
        np.testing.assert_allclose(found.boxes, ref_boxes, atol=1e-3)
        np.testing.assert_allclose(found.scores, ref_scores[order], atol=1e-5)
        np.testing.assert_allclose(found.landmarks, ref_points[order], atol=1e-3)
