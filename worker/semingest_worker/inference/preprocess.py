"""Turn a decoded image into what a model takes: RGB (or grey) uint8 pixels at the model's size.

Accepted images (what ``semingest_worker.imageio`` decodes, plus Pillow images):

* 2-D grey: ``uint8``; ``uint16`` (top 8 bits kept, so an 8-bit image stored as 16 bits, x256
  or x257, gives back the same 8-bit pixels); ``bool`` (0/255); other integers and floats are
  mapped to 0..255 by their own range (floats within 0..1 are scaled by 255, integers within
  0..255 kept), because they have no fixed white level;
* ``H x W x 1`` (grey), ``H x W x 2`` (grey + alpha), ``H x W x 3`` (RGB), ``H x W x 4`` (RGBA):
  alpha dropped, the same depth rules per channel;
* Pillow images of any mode (palette images through their palette).

Anything else (empty, 1-D, more than 3 dimensions, other channel counts, complex or object
dtypes, NaN or infinite values) raises ``ImageConversionError`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .errors import ImageConversionError


@dataclass(frozen=True)
class InputSpec:
    """The input one model call takes. ``height``/``width`` are None when the model accepts any size."""

    height: int | None
    width: int | None
    channels: int  # 3 (RGB) or 1 (grey)
    dtype: str  # numpy dtype name: "float32", "uint8", ...

    @property
    def fixed_size(self) -> bool:
        return self.height is not None and self.width is not None


def to_rgb_uint8(image: Any) -> np.ndarray:
    """``image`` as a C-contiguous ``H x W x 3`` uint8 RGB array (see the module doc)."""
    pixels = _to_uint8_channels(image)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels)


def prepare_for_model(image: Any, spec: InputSpec) -> np.ndarray:
    """``image`` converted for one model call: ``spec.channels`` channels, resized to the model's
    fixed size (area averaging when shrinking, bilinear when enlarging), cast to ``spec.dtype``
    with pixel values 0..255 (the model is expected to hold its own normalisation)."""
    if spec.channels not in (1, 3):
        raise ImageConversionError(f"model takes {spec.channels}-channel images; only 1 or 3 are supported")
    pixels = _to_uint8_channels(image)  # grey stays one channel until after the resize (cheaper)
    if spec.channels == 1 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, np.newaxis]
    if spec.fixed_size and pixels.shape[:2] != (spec.height, spec.width):
        pixels = _resize(pixels, spec.height, spec.width)  # type: ignore[arg-type]
    if spec.channels == 3 and pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels.astype(spec.dtype, copy=False))


def _to_uint8_channels(image: Any) -> np.ndarray:
    """``image`` as ``H x W x 1`` (grey) or ``H x W x 3`` (RGB) uint8."""
    if _is_pil_image(image):
        image = _pil_to_array(image)
    if not isinstance(image, np.ndarray):
        raise ImageConversionError(f"expected a numpy array or a Pillow image, got {type(image).__name__}")
    if image.ndim not in (2, 3):
        raise ImageConversionError(
            f"image has {image.ndim} dimensions {image.shape}; expected H x W or H x W x C"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageConversionError(f"image is empty (shape {image.shape})")
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (2, 4):
            image = image[:, :, : channels - 1]  # drop alpha
        elif channels not in (1, 3):
            raise ImageConversionError(
                f"image has {channels} channels; expected 1 (grey), 2, 3 (RGB) or 4 (RGBA)"
            )
    pixels = _to_uint8(image)
    return pixels[:, :, np.newaxis] if pixels.ndim == 2 else pixels


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    shrinking = height * width < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    channels = pixels.shape[2]
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    return resized.reshape(height, width, channels)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    dtype = image.dtype
    if dtype == np.uint8:
        return image
    if dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(dtype, np.integer):
        low, high = int(image.min()), int(image.max())
        if low >= 0 and high <= 255:
            return image.astype(np.uint8)
        return _stretch(image.astype(np.float64), low, high)
    if np.issubdtype(dtype, np.floating):
        values = image.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            raise ImageConversionError("image has NaN or infinite pixel values")
        lowest, highest = float(values.min()), float(values.max())
        if lowest >= 0.0 and highest <= 1.0:
            return np.rint(values * 255.0).astype(np.uint8)
        return _stretch(values, lowest, highest)
    raise ImageConversionError(f"unsupported pixel type {dtype}")


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _is_pil_image(image: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(image, Image.Image)


def _pil_to_array(image: Any) -> np.ndarray:
    if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif image.mode == "1":
        image = image.convert("L")
    try:
        return np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - Pillow raises various errors for undecodable data
        raise ImageConversionError(f"cannot read pixels of the {image.mode} image: {exc}") from exc
