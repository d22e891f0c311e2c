"""Stage: a small preview of each image, stored in the database (the catalogue never opens the files).

``make_thumbnail`` scales the 8-bit image (grey or colour as stored; deeper data stretched as the
classifier sees it) so that its long side is ``THUMBNAIL_LONG_SIDE`` pixels (smaller images are
kept at their size) and encodes it as baseline JPEG (quality ``THUMBNAIL_QUALITY``): a 1024x768
micrograph becomes ~13 KB. Grey images stay grey (one channel). libjpeg's encoding is
deterministic, so a re-run writes the same bytes.

JPEG rather than WebP: at this size WebP saves ~3 KB per image but its encoder (method 4) costs
~4.5 ms per thumbnail against ~0.1 ms, which made this stage as slow as the scale-bar stage
(``make bench``). Rows written as WebP by earlier versions stay valid: each row names its format.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from .records import Thumbnail

THUMBNAIL_LONG_SIDE = 256
THUMBNAIL_QUALITY = 85
THUMBNAIL_FORMAT = "jpeg"


def thumbnail_size(width: int, height: int, long_side: int = THUMBNAIL_LONG_SIDE) -> tuple[int, int]:
    """The thumbnail's (width, height): the long side ``long_side`` (never enlarged), aspect kept."""
    if width <= 0 or height <= 0:
        raise ValueError(f"an image of {width}x{height} pixels has no thumbnail")
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnail(pixels8: np.ndarray, *, long_side: int = THUMBNAIL_LONG_SIDE) -> Thumbnail:
    """A JPEG thumbnail of an ``H x W`` (grey) or ``H x W x 3`` (RGB) ``uint8`` image."""
    grey = pixels8.ndim == 2
    if pixels8.dtype != np.uint8 or not (grey or (pixels8.ndim == 3 and pixels8.shape[2] == 3)):
        raise ValueError(f"expected an H x W or H x W x 3 uint8 image, got {pixels8.shape} {pixels8.dtype}")
    height, width = pixels8.shape[:2]
    size = thumbnail_size(width, height, long_side)
    pixels = np.ascontiguousarray(pixels8)
    if size != (width, height):
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)  # area averaging: no aliasing
    out = io.BytesIO()
    Image.fromarray(pixels, "L" if grey else "RGB").save(out, format="JPEG", quality=THUMBNAIL_QUALITY)
    return Thumbnail(data=out.getvalue(), format=THUMBNAIL_FORMAT, width=size[0], height=size[1])
