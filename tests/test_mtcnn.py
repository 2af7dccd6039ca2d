"""sphereapp's MTCNN: its networks load the shipped weights, its box arithmetic and suppression do what MTCNN's
reference code does, and the batched cascade finds the faces it always found (and facenet-pytorch's, when that is
installed to compare with)."""

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sphereapp.commands import DEMO_VIDEO
from sphereapp.core.media.video import VideoReader
from sphereapp.core.vision.detect import FaceDetector
from sphereapp.core.vision.mtcnn import cell_edges, crops, cumulative_sums, integral, pyramid_level
from sphereapp.core.vision.mtcnn_boxes import batched_nms, batched_nms_min, candidate_boxes, regress, square
from sphereapp.core.vision.mtcnn_nets import CeilMaxPool, load_mtcnn

# Frames 0, 45 and 90 of the demo clip: boxes x1, y1, x2, y2 and score, best first, as facenet-pytorch 2.5.3's
# cascade (and this one before it had its own networks) found them.
DEMO_FACES = {
    0: [(554.03, 62.08, 592.23, 113.12, 0.99996), (335.54, 96.93, 385.87, 164.59, 0.98718)],
    45: [(372.90, 102.14, 398.13, 130.80, 0.90754)],
    90: [(463.24, 76.83, 507.50, 127.84, 0.99987), (330.95, 88.45, 348.03, 109.32, 0.99463)],
}


@pytest.fixture(scope="module")
def demo_frames() -> dict[int, np.ndarray]:
    with VideoReader(DEMO_VIDEO) as reader:
        return {frame.index: frame.image for frame in itertools.islice(reader, 0, 120, 15)}


@pytest.fixture(scope="module")
def facenet():
    """facenet-pytorch's detect_face module (the reference), or a skip when it is not installed."""
    pytest.importorskip("facenet_pytorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from facenet_pytorch.models.utils import detect_face
    return detect_face


# --- networks ------------------------------------------------------------------------------------------

def test_networks_load_the_shipped_weights_and_give_mtcnn_outputs():
    pnet, rnet, onet = load_mtcnn(torch.device("cpu"))
    regression, probability = pnet(torch.zeros(2, 3, 12, 12))
    assert regression.shape == (2, 4, 1, 1) and probability.shape == (2, 2, 1, 1)
    regression, probability = rnet(torch.zeros(5, 3, 24, 24))
    assert regression.shape == (5, 4) and probability.shape == (5, 2)
    regression, landmarks, probability = onet(torch.zeros(5, 3, 48, 48))
    assert regression.shape == (5, 4) and landmarks.shape == (5, 10) and probability.shape == (5, 2)
    torch.testing.assert_close(probability.sum(dim=1), torch.ones(5))
    assert not any(net.training for net in (pnet, rnet, onet))


# --- box arithmetic ------------------------------------------------------------------------------------

def test_candidate_boxes_map_pnet_cells_back_to_input_pixels():
    probability = torch.zeros(2, 5, 6)
    probability[1, 2, 3] = 0.9  # image 1, output row 2, column 3
    regression = torch.arange(2 * 4 * 5 * 6, dtype=torch.float32).view(2, 4, 5, 6)
    boxes, image_index = candidate_boxes(regression, probability, scale=0.5, threshold=0.6)
    # window x from 2 * 3 to 2 * 3 + 12 at scale 0.5: floor((6 + 1) / 0.5) = 14 .. floor(18 / 0.5) = 36
    torch.testing.assert_close(boxes[0, :5], torch.tensor([14.0, 10.0, 36.0, 32.0, 0.9]))
    torch.testing.assert_close(boxes[0, 5:], regression[1, :, 2, 3])
    assert image_index.tolist() == [1]


def test_regress_moves_by_the_inclusive_box_size_and_square_keeps_the_centre():
    boxes = torch.tensor([[10.0, 20.0, 19.0, 24.0, 0.8]])  # 10 x 5 pixels counted inclusively
    moved = regress(boxes, torch.tensor([[0.1, -0.2, 0.0, 0.4]]))
    torch.testing.assert_close(moved, torch.tensor([[11.0, 19.0, 19.0, 26.0, 0.8]]))
    squared = square(torch.tensor([[10.0, 20.0, 20.0, 24.0, 0.8]]))
    torch.testing.assert_close(squared, torch.tensor([[10.0, 17.0, 20.0, 27.0, 0.8]]))


def test_nms_drops_boxes_overlapping_a_better_one_in_the_same_image_only():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 8], [0, 0, 10, 10], [20, 20, 30, 30]])
    scores = torch.tensor([0.5, 0.9, 0.7, 0.6])
    image_index = torch.tensor([0, 0, 1, 0])
    # box 0 overlaps box 1 by IoU 0.8: dropped at 0.5, kept at 0.9; box 2 is in another image
    assert batched_nms(boxes, scores, image_index, 0.5).tolist() == [1, 2, 3]
    assert batched_nms(boxes, scores, image_index, 0.9).tolist() == [1, 2, 3, 0]
    # "Min": intersection over the smaller box, (10+1) x (8+1) pixels of the (11 x 11) box: 1.0 > 0.7
    assert batched_nms_min(boxes, scores, torch.zeros(4, dtype=torch.long), 0.7).tolist() == [1, 3]
    assert batched_nms(boxes[:0], scores[:0], image_index[:0], 0.5).tolist() == []


def random_boxes(generator: torch.Generator, count: int, images: int, whole: bool):
    """Overlapping boxes with repeated scores (ties) spread over `images` images, whole-pixel or not."""
    corner = torch.rand(count, 2, generator=generator) * 200
    size = 5 + torch.rand(count, 2, generator=generator) * 40
    boxes = torch.cat([corner, corner + size], dim=1)
    boxes = boxes.floor() if whole else boxes
    scores = (torch.rand(count, generator=generator) * 20).floor() / 20
    return boxes, scores, torch.randint(images, (count,), generator=generator)


@pytest.mark.parametrize(("count", "whole"), [(50, False), (900, False), (3000, True)])
def test_nms_keeps_what_torchvision_keeps_best_first(count, whole):
    ops = pytest.importorskip("torchvision.ops")
    generator = torch.Generator().manual_seed(count)
    for threshold in (0.5, 0.7):
        boxes, scores, image_index = random_boxes(generator, count, 8, whole)
        kept = batched_nms(boxes, scores, image_index, threshold)
        expected = ops.batched_nms(boxes, scores, image_index, threshold)
        assert torch.equal(scores[kept], scores[expected]) and set(kept.tolist()) == set(expected.tolist())
        if count <= 1000:  # above, torchvision sorts each image's kept boxes anew and orders equal scores at random
            assert torch.equal(kept, expected)  # below, in the same order: equal scores by index


def test_box_arithmetic_equals_facenet_pytorchs(facenet):
    generator = torch.Generator().manual_seed(0)
    boxes, scores, image_index = random_boxes(generator, 400, 4, whole=False)
    boxes = torch.cat([boxes, scores[:, None]], dim=1)
    offsets = torch.rand(400, 4, generator=generator) - 0.5
    assert torch.equal(regress(boxes, offsets), facenet.bbreg(boxes.clone(), offsets))
    assert torch.equal(square(boxes), facenet.rerec(boxes.clone()))
    assert torch.equal(batched_nms_min(boxes[:, :4], scores, image_index, 0.7),
                       facenet.batched_nms_numpy(boxes[:, :4], scores, image_index, 0.7, "Min"))
    regression, probability = torch.rand(3, 4, 30, 40, generator=generator), torch.rand(3, 30, 40, generator=generator)
    for ours, theirs in zip(candidate_boxes(regression, probability, 0.37, 0.6),
                            facenet.generateBoundingBox(regression, probability, 0.37, 0.6)):
        assert torch.equal(ours, theirs)


# --- the cascade ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", [2, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_ceil_max_pool_is_max_pool2d_value_for_value(kernel, layout):
    generator = torch.Generator().manual_seed(kernel)
    for height, width in itertools.product(range(kernel, 12), range(kernel, 9)):
        x = torch.randn(2, 3, height, width, generator=generator).contiguous(memory_format=layout)
        expected = F.max_pool2d(x, kernel, 2, ceil_mode=True)
        pooled = CeilMaxPool(kernel)(x)
        assert pooled.shape == expected.shape and torch.equal(pooled, expected), (height, width)


def reference_integral(images: np.ndarray) -> np.ndarray:
    summed = np.zeros((images.shape[0], images.shape[1] + 1, images.shape[2] + 1, images.shape[3]), np.int64)
    summed[:, 1:, 1:] = images.astype(np.int64).cumsum(1).cumsum(2)
    return summed


def test_integral_images_by_opencv_and_by_cumulative_sums_are_exact():
    images = torch.randint(0, 256, (3, 37, 53, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    expected = reference_integral(images.numpy())
    strided = images.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)  # the same pixels, not C-contiguous
    for summed in (integral(images), integral(strided), cumulative_sums(images, torch.int32)):
        assert summed.dtype == torch.int32
        np.testing.assert_array_equal(summed.numpy(), expected)


def test_integral_image_widens_to_int64_where_an_images_sum_overflows_int32():
    side = 2903  # 2903**2 * 255 > 2**31 - 1
    white = torch.full((1, side, side, 3), 255, dtype=torch.uint8)
    for summed in (integral(white), cumulative_sums(white, torch.int64)):
        assert summed.dtype == torch.int64 and int(summed[0, -1, -1, 0]) == side * side * 255


@pytest.mark.parametrize(("n", "size"), [(40, 24), (24, 24), (13, 24), (7, 48), (100, 48), (49, 48)])
def test_cell_edges_are_adaptive_average_pooling(n, size):
    line = torch.arange(float(n))[None, None, :]
    pooled = F.adaptive_avg_pool1d(line, size)[0, 0]
    start, stop = cell_edges(torch.tensor([5]), torch.tensor([5 + n]), size)
    means = torch.tensor([(a + b - 1) / 2 - 5 for a, b in zip(start[0].tolist(), stop[0].tolist())])
    torch.testing.assert_close(means, pooled)  # a mean of consecutive integers is the middle of the span


def test_crops_equal_a_per_box_area_resize():
    images = torch.randint(0, 256, (2, 3, 50, 70), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[10.7, 5.2, 40.9, 33.0, 0.9], [-4.0, -8.0, 20.0, 30.0, 0.8], [60.0, 40.0, 90.0, 70.0, 0.7]])
    image_index = torch.tensor([0, 1, 1])
    cut = crops(integral(images.permute(0, 2, 3, 1)), boxes, image_index, 24)
    for k, (x1, y1, x2, y2) in enumerate([(10, 5, 40, 33), (1, 1, 20, 30), (60, 40, 70, 50)]):  # facenet's `pad`
        expected = F.interpolate(images[image_index[k], None, :, y1 - 1:y2, x1 - 1:x2].float(), size=(24, 24),
                                 mode="area")
        torch.testing.assert_close(cut[k:k + 1], expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("size", [(433, 769), (17, 30), (12, 12), (90, 160), (250, 300)])
def test_pyramid_levels_equal_an_area_resize_value_for_value(size):
    images = torch.randint(0, 256, (2, 180, 320, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    level = pyramid_level(integral(images), size)
    expected = F.interpolate(images.permute(0, 3, 1, 2).float(), size=size, mode="area")
    assert level.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(level, expected)


def test_the_demo_clips_faces_stay_where_they_were(demo_frames):
    found = FaceDetector().detect([demo_frames[index] for index in DEMO_FACES])
    for detections, expected in zip(found, DEMO_FACES.values()):
        expected = np.array(expected, np.float32)
        np.testing.assert_allclose(detections.boxes, expected[:, :4], atol=0.006)
        np.testing.assert_allclose(detections.scores, expected[:, 4], atol=6e-6)


def test_same_faces_as_facenet_pytorch_on_the_demo_clip(facenet, demo_frames):
    from facenet_pytorch import MTCNN

    frames = list(demo_frames.values())
    height, width = frames[0].shape[:2]
    ours = FaceDetector().detect(frames)
    boxes, scores, points = MTCNN(keep_all=True, post_process=False).detect(np.stack(frames), landmarks=True)
    assert sum(len(d) for d in ours) >= 8
    for found, ref_boxes, ref_scores, ref_points in zip(ours, boxes, scores, points):
        order = np.argsort(-ref_scores, kind="stable")
        ref_boxes = ref_boxes[order].copy()
        ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clip(0, width)  # ours are clipped to the frame
        ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clip(0, height)
        np.testing.assert_allclose(found.boxes, ref_boxes, atol=1e-3)
        np.testing.assert_allclose(found.scores, ref_scores[order], atol=1e-5)
        np.testing.assert_allclose(found.landmarks, ref_points[order], atol=1e-3)
