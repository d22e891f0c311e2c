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


def _fake_ocr(monkeypatch: pytest.MonkeyPatch, whole: tuple[str, str], digits: str, unit: str) -> None:
    """Tesseract replaced: the two whole-label renderings read ``whole``, the number's glyphs
    ``digits`` and the unit's glyphs ``unit``."""
    from semingest_worker.scalebar import ocr, vote

    texts = iter(whole)

    def recognize(crop: np.ndarray, kind: ocr.Kind = ocr.Kind.TEXT) -> ocr.Recognition:
        if kind is ocr.Kind.DIGITS:
            return ocr.Recognition(digits, 90)
        if kind is ocr.Kind.UNIT:
            return ocr.Recognition(unit, 90)
        return ocr.Recognition(next(texts), 90)

    monkeypatch.setattr(vote.ocr, "recognize", recognize)


@pytest.mark.parametrize(
    ("whole", "digits", "unit", "why"),
    [
        (("100mm", "100mm"), "100", "mm", "impossible"),  # µ read as m everywhere: 0.5 mm/px
        (("100 um", "700 um"), "100", "um", "disagree"),  # the renderings disagree on a digit
        (("100 um", "100 um"), "700", "um", "disagree"),  # the digits-only reading disagrees
        (("100 nm", "100 nm"), "100", "um", "disagree"),  # the unit read alone disagrees
        (("208 nm", "208 nm"), "208", "nm", "round"),  # not a round number: an OCR slip
        (("SEI", "SEl"), "", "", "is a length"),  # not a label at all
    ],
)
def test_readings_are_refused_rather_than_wrong(
    monkeypatch: pytest.MonkeyPatch, whole: tuple[str, str], digits: str, unit: str, why: str
) -> None:
    from semingest_worker.scalebar import _reading
    from semingest_worker.scalebar.detect import Found

    _fake_ocr(monkeypatch, whole, digits, unit)
    r = _reading(Found("fei", 200.0, _crop("100 nm"), bar_px_uncertainty=0.5))
    assert r.pixel_size_m is None and why in r.reason


def test_agreeing_readings_give_the_pixel_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from semingest_worker.scalebar import _reading
    from semingest_worker.scalebar.detect import Found

    _fake_ocr(monkeypatch, ("100pm", "100 um"), "100", "um")  # "pm" for µm is read as µm
    r = _reading(Found("jeol", 200.0, _crop("100 um"), bar_px_uncertainty=0.5))
    assert (r.value, r.unit) == (100.0, "µm") and r.pixel_size_m == pytest.approx(100e-6 / 200.0)


def test_a_bar_is_refused_only_when_its_uncertainty_exceeds_3_percent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from semingest_worker.scalebar import _reading
    from semingest_worker.scalebar.detect import Found

    _fake_ocr(monkeypatch, ("1 um", "1 um"), "1", "um")
    short = _reading(Found("jeol", 36.0, _crop("1 um"), bar_px_uncertainty=0.5))  # 2.8 %: measured
    assert short.pixel_size_m == pytest.approx(1e-6 / 36.0)
    _fake_ocr(monkeypatch, ("1 um", "1 um"), "1", "um")
    tiny = _reading(Found("jeol", 17.0, _crop("1 um"), bar_px_uncertainty=0.5))  # 5.9 %: refused
    assert tiny.pixel_size_m is None and "too short" in tiny.reason


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [("100 nm", 100.0, "nm"), ("10.0µm", 10.0, "µm"), ("1 um*", 1.0, "µm"), ("100µm SIMS1270", 100.0, "µm")],
)
def test_label_grammar_accepts_a_leading_length(text: str, value: float, unit: str) -> None:
    from semingest_worker.scalebar.labels import parse_length

    label = parse_length(text)
    assert label is not None and (label.value, label.unit) == (value, unit)


@pytest.mark.parametrize(
    "text", ["WD 10mm", "HFW 414 µm", "X2,000", "15.0kV", "SEI", "13:51:03", "021/06/23 16:43", "MIRA TESCAN"]
)
def test_label_grammar_refuses_other_fields_of_the_data_bar(text: str) -> None:
    from semingest_worker.scalebar.labels import parse_length

    assert parse_length(text) is None


def test_units_and_numbers_read_on_their_own_come_from_closed_sets() -> None:
    from semingest_worker.scalebar.labels import parse_digits, parse_unit

    assert [parse_unit(t) for t in ("um", "µm", "nm", "mm", "m", "nn", "")] == [
        "µm",
        "µm",
        "nm",
        "mm",
        None,
        None,
        None,
    ]
    assert [parse_digits(t) for t in ("100", "2.5", "1 0", "10.", "4a", "")] == [
        "100",
        "2.5",
        "10",
        None,
        None,
        None,
    ]
