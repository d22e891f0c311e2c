"""Stage: a small preview of each image, stored in the database (the catalogue never opens the files).

``make_thumbnail`` scales the decoded image (8-bit, as the classifier sees it) so that its long
side is ``THUMBNAIL_LONG_SIDE`` pixels (smaller images are kept at their size) and encodes it as
WebP (lossy, quality ``THUMBNAIL_QUALITY``): a 1024x768 micrograph becomes ~10 KB. Grey images
stay grey. The encoding is deterministic, so a re-run writes the same bytes.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from .records import Thumbnail

THUMBNAIL_LONG_SIDE = 256
THUMBNAIL_QUALITY = 80
THUMBNAIL_FORMAT = "webp"


def thumbnail_size(width: int, height: int, long_side: int = THUMBNAIL_LONG_SIDE) -> tuple[int, int]:
    """The thumbnail's (width, height): the long side ``long_side`` (never enlarged), aspect kept."""
    if width <= 0 or height <= 0:
        raise ValueError(f"an image of {width}x{height} pixels has no thumbnail")
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnail(
    rgb8: np.ndarray, *, grey: bool = False, long_side: int = THUMBNAIL_LONG_SIDE
) -> Thumbnail:
    """A WebP thumbnail of an ``H x W x 3 uint8`` image; ``grey``: its channels are equal (smaller file)."""
    if rgb8.ndim != 3 or rgb8.shape[2] != 3 or rgb8.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {rgb8.shape} {rgb8.dtype}")
    height, width = rgb8.shape[:2]
    size = thumbnail_size(width, height, long_side)
    pixels = np.ascontiguousarray(rgb8[..., 0] if grey else rgb8)
    if size != (width, height):
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)  # area averaging: no aliasing
    out = io.BytesIO()
    Image.fromarray(pixels, "L" if grey else "RGB").save(
        out, format="WEBP", quality=THUMBNAIL_QUALITY, method=4
    )
    return Thumbnail(data=out.getvalue(), format=THUMBNAIL_FORMAT, width=size[0], height=size[1])
