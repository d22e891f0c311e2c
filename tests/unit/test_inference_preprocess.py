"""Image conversion for the classifier: grey, palette, 16-bit, alpha, floats, resizing, bad shapes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from semingest_worker.inference import ImageConversionError, InputSpec, prepare_for_model, to_rgb_uint8

RNG = np.random.default_rng(3)
GREY = RNG.integers(0, 256, (20, 30), dtype=np.uint8)


def test_grey_uint8_becomes_three_equal_channels():
    rgb = to_rgb_uint8(GREY)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], GREY)


@pytest.mark.parametrize("factor", [256, 257])
def test_16bit_grey_of_an_8bit_image_gives_back_the_8bit_pixels(factor):
    sixteen = GREY.astype(np.uint16) * factor
    np.testing.assert_array_equal(to_rgb_uint8(sixteen), to_rgb_uint8(GREY))


def test_16bit_rgb_keeps_the_top_eight_bits_per_channel():
    rgb16 = RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    np.testing.assert_array_equal(to_rgb_uint8(rgb16), (rgb16 >> 8).astype(np.uint8))


def test_palette_image_is_mapped_through_its_palette():
    indices = RNG.integers(0, 4, (12, 16), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [10, 20, 30]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette.flatten().tolist() + [0] * (768 - palette.size))
    np.testing.assert_array_equal(to_rgb_uint8(image), palette[indices])


def test_pillow_grey_and_bilevel_images():
    np.testing.assert_array_equal(to_rgb_uint8(Image.fromarray(GREY, mode="L"))[:, :, 1], GREY)
    bilevel = Image.fromarray(GREY > 127).convert("1")
    np.testing.assert_array_equal(to_rgb_uint8(bilevel)[:, :, 0], np.where(GREY > 127, 255, 0))


def test_alpha_is_dropped():
    rgba = RNG.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(rgba), rgba[:, :, :3])
    grey_alpha = RNG.integers(0, 256, (4, 5, 2), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(grey_alpha)[:, :, 2], grey_alpha[:, :, 0])


def test_single_channel_3d_and_bool_images():
    np.testing.assert_array_equal(to_rgb_uint8(GREY[:, :, np.newaxis])[:, :, 0], GREY)
    np.testing.assert_array_equal(to_rgb_uint8(GREY > 100)[:, :, 0], np.where(GREY > 100, 255, 0))


def test_floats_in_unit_range_are_scaled_and_others_stretched():
    unit = GREY.astype(np.float32) / 255.0
    np.testing.assert_array_equal(to_rgb_uint8(unit)[:, :, 0], GREY)
    wide = np.array([[-10.0, 0.0], [10.0, 30.0]], dtype=np.float64)
    np.testing.assert_array_equal(to_rgb_uint8(wide)[:, :, 0], [[0, 64], [128, 255]])
    flat = np.full((3, 3), 7.5, dtype=np.float32)
    assert to_rgb_uint8(flat).max() == 0


def test_int32_in_byte_range_kept_and_wider_range_stretched():
    np.testing.assert_array_equal(to_rgb_uint8(GREY.astype(np.int32))[:, :, 0], GREY)
    wide = np.array([[0, 1000], [2000, 4000]], dtype=np.int32)
    np.testing.assert_array_equal(to_rgb_uint8(wide)[:, :, 0], [[0, 64], [128, 255]])


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (np.zeros((0, 10), np.uint8), "empty"),
        (np.zeros((10, 0, 3), np.uint8), "empty"),
        (np.zeros(10, np.uint8), "1 dimensions"),
        (np.zeros((2, 3, 4, 5), np.uint8), "4 dimensions"),
        (np.zeros((4, 4, 5), np.uint8), "5 channels"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1 + 2j]]), "unsupported pixel type"),
        (np.array([["a"]], dtype=object), "unsupported pixel type"),
        ("not an image", "expected a numpy array"),
    ],
)
def test_degenerate_images_raise_a_specific_error(image, reason):
    with pytest.raises(ImageConversionError, match=reason):
        to_rgb_uint8(image)


def test_prepare_resizes_to_the_models_fixed_size_and_casts():
    spec = InputSpec(height=32, width=48, channels=3, dtype="float32")
    out = prepare_for_model(RNG.integers(0, 256, (768, 1024), dtype=np.uint8), spec)
    assert out.shape == (32, 48, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 255.0
    # Area averaging when shrinking: a constant image stays that constant.
    constant = prepare_for_model(np.full((700, 900), 77, np.uint8), spec)
    assert np.all(constant == 77.0)
    enlarged = prepare_for_model(np.full((4, 4, 3), 200, np.uint8), spec)
    assert enlarged.shape == (32, 48, 3) and np.all(enlarged == 200.0)


def test_prepare_leaves_the_size_alone_for_models_without_one():
    spec = InputSpec(height=None, width=None, channels=3, dtype="uint8")
    out = prepare_for_model(GREY, spec)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8


def test_prepare_for_a_grey_model_gives_one_channel():
    spec = InputSpec(height=10, width=10, channels=1, dtype="float32")
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[:, :, 1] = 255  # pure green: luminance 0.587 * 255
    out = prepare_for_model(rgb, spec)
    assert out.shape == (10, 10, 1)
    assert np.all(np.abs(out - 150.0) <= 1.0)
