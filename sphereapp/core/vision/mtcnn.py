"""MTCNN's three-stage cascade (Zhang et al., IEEE SPL 2016) on its P/R/O-Net (mtcnn_nets), batched.

The steps and constants are facenet-pytorch's `detect_face` (2.5.3, models/utils/detect_face.py, MIT): a scale
pyramid from 12 / min_face_size by `factor`; P-Net on each level, candidates above thresholds[0], NMS 0.5 per level
and 0.7 per image, P-Net's box regression, squared boxes; R-Net on 24x24 crops, thresholds[1], NMS 0.7, regression,
squared; O-Net on 48x48 crops, thresholds[2], five landmarks, regression, NMS 0.7 on the smaller area ("Min").
The box arithmetic is in mtcnn_boxes.
Five changes make it faster and leave the detections in place (tests/test_mtcnn.py):
- every candidate of every image is cut out and area-resized at once, from an integral image on the model's
  device, where facenet-pytorch resizes the candidates one by one (~190 calls a 360p frame);
- the pyramid levels are read off that same integral image too (two index lookups a row and a column), where
  adaptive average pooling sums every pixel again for every level; on the CPU OpenCV computes it;
- the networks run on channels-last tensors, which oneDNN's convolutions run faster;
- their max-pooling takes element-wise maxima of strided views (mtcnn_nets.CeilMaxPool), not max_pool2d's kernel;
- crops are cut and R-/O-Net run `net_batch` candidates at a time, so many candidates cannot exhaust memory.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from sphereapp.core.vision.mtcnn_boxes import PNET_CELL, batched_nms, batched_nms_min, candidate_boxes, regress, square


def channels_last(net: nn.Module) -> nn.Module:
    """`net` with its weights in channels-last layout (call once per network)."""
    return net.to(memory_format=torch.channels_last)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """Pixels 0..255 -> MTCNN's input range, channels-last."""
    return ((images - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)


def cell_edges(start: torch.Tensor, stop: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First and one-past-last input index (K, size) of each output cell when spans [start, stop) (K,) are
    resampled to `size` cells by "area" (adaptive average pooling): floor(i*n/size) to ceil((i+1)*n/size)."""
    cells = torch.arange(size + 1, device=start.device)
    n = (stop - start)[:, None]
    return start[:, None] + cells[:-1] * n // size, start[:, None] - (-(cells[1:] * n) // size)


def crops(summed: torch.Tensor, boxes: torch.Tensor, image_index: torch.Tensor, size: int) -> torch.Tensor:
    """(K, 3, size, size) cut-outs of the boxes, clipped to the image like facenet-pytorch's `pad`, each resized
    by "area" resampling as its `imresample` does, read off the images' integral `summed` (B, H+1, W+1, 3) with
    four lookups a cell."""
    height, width = summed.shape[1] - 1, summed.shape[2] - 1
    x0 = boxes[:, 0].trunc().clamp(min=1).long() - 1
    y0 = boxes[:, 1].trunc().clamp(min=1).long() - 1
    x1 = torch.maximum(boxes[:, 2].trunc().clamp(max=width).long(), x0 + 1)
    y1 = torch.maximum(boxes[:, 3].trunc().clamp(max=height).long(), y0 + 1)
    (top, bottom), (left, right) = cell_edges(y0, y1, size), cell_edges(x0, x1, size)
    rows, cols = torch.stack([top, bottom]), torch.stack([left, right])  # (2, K, size): cell edges
    start = image_index * (height + 1) * (width + 1)
    at = start[:, None, None] + rows[:, None, :, :, None] * (width + 1) + cols[None, :, :, None, :]
    corners = summed.view(-1, 3)[at.flatten()].view(2, 2, len(boxes), size, size, 3)  # [bottom?][right?]
    total = corners[1, 1] - corners[0, 1] - corners[1, 0] + corners[0, 0]
    area = (bottom - top)[:, :, None, None] * (right - left)[:, None, :, None]
    return (total.double() / area).float().permute(0, 3, 1, 2)


def pyramid_level(summed: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 3, h, w) channels-last images resized to `size` (h, w) by "area" (F.interpolate's mode="area",
    value for value) from their integral `summed` (B, H+1, W+1, 3)."""
    batch, height, width = summed.shape[0], summed.shape[1] - 1, summed.shape[2] - 1
    start = torch.zeros(1, dtype=torch.long, device=summed.device)
    (top, bottom), (left, right) = ((edges[0] for edges in cell_edges(start, start + extent, cells))
                                    for extent, cells in ((height, size[0]), (width, size[1])))
    level = torch.empty((batch, *size, 3), device=summed.device)
    for image, sums in zip(level, summed):  # image by image: whole rows are gathered, then cells of those
        rows = sums.view(height + 1, -1)
        rows = (rows.index_select(0, bottom) - rows.index_select(0, top)).view(size[0], width + 1, 3)
        image.copy_(rows.index_select(1, right) - rows.index_select(1, left))
    # divided as adaptive average pooling divides, by the cell's height and then its width, in float32
    level.div_((bottom - top).float()[:, None, None]).div_((right - left).float()[None, :, None])
    return level.permute(0, 3, 1, 2)


def integral(images: torch.Tensor) -> torch.Tensor:
    """(B, H+1, W+1, 3) integer sums of the pixels of (B, H, W, 3) uint8 `images` above and left of each position
    (zeros on the first row and column), for exact area sums, on the images' device: int32 (half the memory traffic
    of int64 or float64) whenever the sum of a whole image fits. On the CPU OpenCV's integral image, which runs many
    times faster than torch's two cumulative sums; elsewhere those sums, where the images are."""
    if images.dtype != torch.uint8:
        raise ValueError(f"integral() sums uint8 images, not {images.dtype}")
    height, width = images.shape[1:3]
    fits_int32 = height * width * 255 <= torch.iinfo(torch.int32).max
    if images.device.type != "cpu":
        return cumulative_sums(images, torch.int32 if fits_int32 else torch.int64)
    depth = cv2.CV_32S if fits_int32 else cv2.CV_64F  # float64 holds every sum below 2**53 exactly
    sums = [cv2.integral(np.ascontiguousarray(image), sdepth=depth) for image in images.numpy()]
    return torch.from_numpy(np.stack(sums).astype(np.int32 if fits_int32 else np.int64, copy=False))


def cumulative_sums(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`integral` of (B, H, W, 3) uint8 `images` by torch's cumulative sums in `dtype`, on the images' device."""
    batch, height, width, channels = images.shape
    summed = torch.zeros((batch, height + 1, width + 1, channels), dtype=dtype, device=images.device)
    torch.cumsum(images, 1, dtype=dtype, out=summed[:, 1:, 1:])
    summed[:, 1:, 1:].cumsum_(2)
    return summed


def refine(net: nn.Module, summed: torch.Tensor, boxes: torch.Tensor, image_index: torch.Tensor, size: int,
           chunk: int) -> tuple[torch.Tensor, ...]:
    """R- or O-Net's outputs on the `size` x `size` crops of the boxes, cut and run at most `chunk` at a time."""
    outputs = [net(normalise(crops(summed, boxes[start:start + chunk], image_index[start:start + chunk], size)))
               for start in range(0, len(boxes), chunk)]
    return tuple(torch.cat(parts) for parts in zip(*outputs))


@torch.inference_mode()
def detect_faces(
    images: torch.Tensor, pnet: nn.Module, rnet: nn.Module, onet: nn.Module, *,
    min_face_size: int, thresholds: tuple[float, float, float], factor: float, net_batch: int = 512,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Faces of each (H, W, 3) uint8 image of the batch `images` (B, H, W, 3): boxes (K, 5) x1, y1, x2, y2, score
    and landmarks (K, 5, 2), as float32 numpy arrays."""
    summed = integral(images)
    boxes, image_index = _propose(summed, pnet, min_face_size, thresholds[0], factor)
    return _refine_and_place(summed, rnet, onet, boxes, image_index, thresholds[1:], net_batch)


@torch.inference_mode()
def check_candidates(
    images: torch.Tensor, rnet: nn.Module, onet: nn.Module, boxes: torch.Tensor, image_index: torch.Tensor, *,
    thresholds: tuple[float, float], net_batch: int = 512,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Like `detect_faces`, with given candidate boxes (K, 4) of images `image_index` (K,) in place of P-Net's:
    R-Net and O-Net keep, move and mark the faces among them."""
    candidates = torch.cat([boxes, torch.ones((len(boxes), 1), device=boxes.device)], dim=1)
    return _refine_and_place(integral(images), rnet, onet, candidates, image_index, thresholds, net_batch)


def _refine_and_place(summed: torch.Tensor, rnet: nn.Module, onet: nn.Module, boxes: torch.Tensor,
                      image_index: torch.Tensor, thresholds: tuple[float, float],
                      net_batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stages 2 and 3 on the squared candidates `boxes` (K, 5 with score) of the images whose integral is `summed`
    -> per image (boxes (K, 5), landmarks)."""
    if len(boxes):  # stage 2: R-Net refines and rejects
        regression, probabilities = refine(rnet, summed, boxes, image_index, 24, net_batch)
        keep = probabilities[:, 1] > thresholds[0]
        boxes = torch.cat([boxes[keep, :4], probabilities[keep, 1:2]], dim=1)
        image_index, regression = image_index[keep], regression[keep]
        keep = batched_nms(boxes[:, :4], boxes[:, 4], image_index, 0.7)
        boxes, image_index = square(regress(boxes[keep], regression[keep])), image_index[keep]
    points = torch.zeros((0, 5, 2), device=summed.device)
    if len(boxes):  # stage 3: O-Net refines, rejects and places the landmarks
        regression, landmarks, probabilities = refine(onet, summed, boxes, image_index, 48, net_batch)
        keep = probabilities[:, 1] > thresholds[1]
        boxes = torch.cat([boxes[keep, :4], probabilities[keep, 1:2]], dim=1)
        image_index, regression, landmarks = image_index[keep], regression[keep], landmarks[keep]
        box_w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        box_h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = torch.stack([box_w * landmarks[:, :5] + boxes[:, 0:1] - 1,
                              box_h * landmarks[:, 5:] + boxes[:, 1:2] - 1], dim=2)
        boxes = regress(boxes, regression)
        keep = batched_nms_min(boxes[:, :4], boxes[:, 4], image_index, 0.7)
        boxes, image_index, points = boxes[keep], image_index[keep], points[keep]
    boxes, points, image_index = boxes.cpu().numpy(), points.cpu().numpy(), image_index.cpu().numpy()
    return [(boxes[image_index == b], points[image_index == b]) for b in range(len(summed))]


def _propose(summed: torch.Tensor, pnet: nn.Module, min_face_size: int, threshold: float,
             factor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 1: P-Net over the scale pyramid of the images whose integral is `summed` -> squared candidate boxes
    (K, 5 with score) and their image index."""
    height, width = summed.shape[1] - 1, summed.shape[2] - 1
    scale, side = PNET_CELL / min_face_size, min(height, width) * PNET_CELL / min_face_size
    boxes, image_index = [], []
    while side >= PNET_CELL:
        level = pyramid_level(summed, (int(height * scale + 1), int(width * scale + 1)))
        regression, probabilities = pnet(normalise(level))
        found, index = candidate_boxes(regression, probabilities[:, 1], scale, threshold)
        keep = batched_nms(found[:, :4], found[:, 4], index, 0.5)
        boxes.append(found[keep])
        image_index.append(index[keep])
        scale, side = scale * factor, side * factor
    if not boxes:
        return torch.zeros((0, 5), device=summed.device), torch.zeros(0, dtype=torch.long, device=summed.device)
    boxes, image_index = torch.cat(boxes), torch.cat(image_index)
    keep = batched_nms(boxes[:, :4], boxes[:, 4], image_index, 0.7)
    boxes, image_index = boxes[keep], image_index[keep]
    box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    calibrated = torch.stack([boxes[:, 0] + boxes[:, 5] * box_w, boxes[:, 1] + boxes[:, 6] * box_h,
                              boxes[:, 2] + boxes[:, 7] * box_w, boxes[:, 3] + boxes[:, 8] * box_h, boxes[:, 4]], dim=1)
    return square(calibrated), image_index
