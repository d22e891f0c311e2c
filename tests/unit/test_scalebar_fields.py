"""The second-witness grammar of ``fields``: which printed fields are a field width or a pixel
size, and which table cell holds a header's value (geometry only; no OCR here)."""

from __future__ import annotations

import numpy as np
import pytest

from semingest_worker.scalebar.fields import FieldKind, TextBox, _below, _keyword


@pytest.mark.parametrize(
    ("text", "kind", "rest"),
    [
        ("HFW 414 µm", FieldKind.FIELD_WIDTH, "414 µm"),
        ("HFW", FieldKind.FIELD_WIDTH, ""),
        ("Width = 20.00 µm", FieldKind.FIELD_WIDTH, "20.00 µm"),
        ("View field: 2.56 mm", FieldKind.FIELD_WIDTH, "2.56 mm"),
        ("Pixel Size = 2.233 nm", FieldKind.PIXEL_SIZE, "2.233 nm"),
    ],
)
def test_field_keywords(text: str, kind: FieldKind, rest: str) -> None:
    assert _keyword(text) == (kind, rest)


@pytest.mark.parametrize(
    "text", ["WD 10.0 mm", "FIB Pixel Size = 0.0 fm", "Mag = 50.00 K X", "100 µm", "SEI"]
)
def test_other_fields_are_no_witness(text: str) -> None:
    assert _keyword(text) is None


def _box(x: int, y: int, w: int, h: int) -> TextBox:
    return TextBox(x, y, w, h, np.full((8, 8), 255, np.uint8))


def test_a_header_value_is_the_cell_right_under_it() -> None:
    header = _box(600, 5, 70, 18)  # "HFW"
    value = _box(590, 35, 90, 18)  # "427 µm"
    other = _box(480, 35, 90, 18)  # "10.0 mm" (the WD column)
    far = _box(600, 90, 70, 18)  # too far below: not the same table
    assert _below(header, [header, other, value, far]) is value
    assert _below(header, [header, other, far]) is None
