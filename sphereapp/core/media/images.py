"""Reading photos robustly: any mode to RGB, EXIF orientation, first frame, pixel bombs refused, shrinking."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sphereapp.core.errors import InputError

MAX_IMAGE_PIXELS = 80_000_000
# PIL itself then warns above this size and refuses (DecompressionBombError) above twice it, inside Image.open.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


def read_image_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Decode a photo as uint8 RGB (H, W, 3): EXIF orientation applied, any pixel mode converted, first frame only.

    Photos declaring more than MAX_IMAGE_PIXELS are refused from their header, before any pixel is decoded.
    With `max_side`, a larger photo is shrunk to that longer side; a JPEG of twice that size or more is decoded at
    1/2, 1/4 or 1/8 scale directly, never at full size.
    """
    path = Path(path)
    too_large = InputError(f"image '{path}' is too large (more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise too_large
                if max_side:
                    image.draft(None, (max_side, max_side))  # JPEG: the smallest DCT scale still >= max_side
                return _shrunk(_rgb_pixels(ImageOps.exif_transpose(image)), max_side)
    except Image.DecompressionBombError as exc:
        raise too_large from exc
    except FileNotFoundError as exc:
        raise InputError(f"image '{path}' not found") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"cannot read image '{path}': not a supported image file") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:  # what Pillow raises on damaged data
        raise InputError(f"cannot read image '{path}': {' '.join(str(exc).split()) or type(exc).__name__}") from exc


def _rgb_pixels(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 RGB array; 16-bit grey is scaled (not clipped), transparency is laid on white."""
    if image.mode.startswith("I"):  # 16/32-bit integer grey, as 16-bit greyscale PNGs open
        grey = (np.clip(np.asarray(image, dtype=np.int64), 0, 65535) // 257).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if "A" in image.getbands() or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _shrunk(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """The image with its longer side brought down to `max_side` (area interpolation); as is when it fits."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
