"""The thumbnails stage: size, aspect, grey vs colour, determinism, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from semingest_worker.thumbnails import THUMBNAIL_LONG_SIDE, make_thumbnail, thumbnail_size


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 768), (256, 192)), ((768, 1024), (192, 256)), ((5000, 10), (256, 1)), ((100, 80), (100, 80))],
)
def test_thumbnail_size_keeps_the_aspect_and_never_enlarges(size, expected) -> None:
    assert thumbnail_size(*size) == expected


def test_thumbnail_size_refuses_an_empty_image() -> None:
    with pytest.raises(ValueError, match="no thumbnail"):
        thumbnail_size(0, 10)


def _gradient(height: int, width: int) -> np.ndarray:
    return (np.add.outer(np.arange(height), np.arange(width)) % 256).astype(np.uint8)


def test_grey_thumbnail_is_a_small_grey_jpeg_and_deterministic() -> None:
    grey = _gradient(768, 1024)
    thumb = make_thumbnail(grey)
    assert (thumb.format, thumb.width, thumb.height) == ("jpeg", THUMBNAIL_LONG_SIDE, 192)
    decoded = Image.open(io.BytesIO(thumb.data))
    assert decoded.format == "JPEG" and decoded.mode == "L" and decoded.size == (256, 192)
    assert len(thumb.data) < 30_000
    assert make_thumbnail(grey).data == thumb.data  # a re-run writes the same bytes


def test_thumbnail_is_the_image_scaled_down() -> None:
    ramp = np.add.outer(np.arange(768), np.arange(1024)) * (255 / 1790)
    grey = ramp.astype(np.uint8)
    thumb = np.asarray(Image.open(io.BytesIO(make_thumbnail(grey).data)), dtype=float)
    expected = ramp[1::4, 1::4] + ramp[2::4, 2::4]  # a 4x4 block's mean lies between these two
    expected = expected / 2
    assert np.abs(thumb - expected)[4:-4, 4:-4].mean() < 4  # lossy, but the same picture


def test_colour_thumbnail_keeps_its_colour() -> None:
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[..., 0] = 200  # red
    thumb = make_thumbnail(rgb)
    r, g, b = Image.open(io.BytesIO(thumb.data)).convert("RGB").getpixel((10, 10))
    assert r > 150 and g < 50 and b < 50


@pytest.mark.parametrize(
    "array", [np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10), np.uint16), np.zeros(10, np.uint8)]
)
def test_make_thumbnail_refuses_other_arrays(array) -> None:
    with pytest.raises(ValueError, match="H x W or H x W x 3 uint8"):
        make_thumbnail(array)
