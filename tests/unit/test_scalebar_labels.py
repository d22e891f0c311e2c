"""Scale-bar label parsing: units, decimals, OCR confusions, and the guards against wrong readings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from semingest_worker.scalebar.labels import (
    has_decimal_mark,
    parse_label,
    pixel_size_from_label,
    repair_dropped_micro,
)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("200 µm", 200.0, "µm"),
        ("10.0µm", 10.0, "µm"),
        ("0.5 mm", 0.5, "mm"),
        ("100nm", 100.0, "nm"),
        ("1 um*", 1.0, "µm"),
        ("1 μm", 1.0, "µm"),  # Greek mu
        ("500 ym", 500.0, "µm"),  # Tesseract's usual readings of the micro sign
        ("5 yum", 5.0, "µm"),
        ("lum", 1.0, "µm"),  # "1 µm" with the 1 read as l
        ("1ooum", 100.0, "µm"),
        ("1O nm", 10.0, "nm"),
        ("2,5 µm", 2.5, "µm"),  # decimal comma
        ("1,.00um", 1.0, "µm"),
        ("100µm UMN", 100.0, "µm"),  # JEOL: the lab's name follows
        ("x30,000 1.00kV 100nm", 100.0, "nm"),  # JEOL in-image line: the first number with a length unit
        ("50 pm", 50.0, "pm"),
        ("200 nrn", 200.0, "nm"),
    ],
)
def test_parse_label_reads_value_and_normalised_unit(text: str, value: float, unit: str) -> None:
    label = parse_label(text)
    assert label is not None
    assert (label.value, label.unit) == (value, unit)


@pytest.mark.parametrize("text", ["", None, "Helios E-Beam", "200m", "SOS", "0 nm", "EHT = 25.00 kV"])
def test_parse_label_rejects_text_without_a_length(text: str | None) -> None:
    assert parse_label(text) is None


def test_picometres_that_would_be_impossible_for_sem_are_micrometres() -> None:
    label = parse_label("200 pm")  # Tesseract reads µ as p
    size, fixed = pixel_size_from_label(label, 76.0)
    assert fixed.unit == "µm"
    assert size == pytest.approx(200e-6 / 76.0)


def test_plausible_picometres_stay_picometres() -> None:
    label = parse_label("5000 pm")
    size, fixed = pixel_size_from_label(label, 10.0)  # 0.5 nm per pixel: possible
    assert fixed.unit == "pm"
    assert size == pytest.approx(5e-10)


def _crop(text: str, size: int = 40) -> np.ndarray:
    font = ImageFont.truetype("DejaVuSansMono.ttf", size)
    img = Image.new("L", (int(font.getlength(text)) + 24, size + 24), 255)
    ImageDraw.Draw(img).text((12, 6), text, font=font, fill=0)
    return np.where(np.asarray(img) < 128, 0, 255).astype(np.uint8)


def test_dropped_micro_sign_is_restored_only_when_the_glyph_is_there() -> None:
    assert repair_dropped_micro("200m SYN", _crop("200µm SYN")) == "200 µm"
    # one glyph more than read, but it is not a descender right after the number: no repair
    assert repair_dropped_micro("200m SYN", _crop("200nm SYN")) is None
    # "1.00µm" read as "100m": two glyphs are missing, never turn it into 100 µm
    assert repair_dropped_micro("100m", _crop("1.00µm")) is None


def test_decimal_mark_is_seen_in_the_crop() -> None:
    assert has_decimal_mark(_crop("1.00µm"))
    assert has_decimal_mark(_crop("2,5 µm"))
    assert not has_decimal_mark(_crop("100µm"))  # DejaVu Mono's dotted zeros are not decimal marks


def test_readings_are_refused_rather_than_wrong() -> None:
    from semingest_worker.scalebar import _reading
    from semingest_worker.scalebar.detect import Found

    crop = _crop("100µm")
    found = Found("jeol", 200.0, crop)
    # µ read as m by both renderings: 0.5 mm per pixel is impossible for SEM
    r = _reading(found, ("100mm", "100mm"))
    assert r.pixel_size_m is None and "impossible" in r.reason
    # the two renderings disagree on a digit: no pixel size
    r = _reading(found, ("100 um", "700 um"))
    assert r.pixel_size_m is None and "disagree" in r.reason
    # not a round number: an OCR slip ("208" for "200")
    r = _reading(found, ("208 nm", "208 nm"))
    assert r.pixel_size_m is None and "round" in r.reason
    # agreeing, plausible readings give the pixel size; "pm" for µm is read as µm
    r = _reading(found, ("100pm", "100 um"))
    assert (r.value, r.unit) == (100.0, "µm") and r.pixel_size_m == pytest.approx(100e-6 / 200.0)
