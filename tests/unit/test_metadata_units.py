"""Units and numbers as SEM software writes them, and the plausibility ranges."""

from __future__ import annotations

import pytest

from semingest_worker.metadata.units import check_range, parse_length_m, parse_magnification, parse_voltage_v
from semingest_worker.metadata.values import decode_bytes, json_safe, parse_number


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("2.615 µm", 2.615e-6),  # micro sign U+00B5
        ("2.615 \u03bcm", 2.615e-6),  # Greek mu U+03BC
        ("2.615 um", 2.615e-6),
        ("100um", 1e-4),
        ("5.825 nm", 5.825e-9),
        ("812 pm", 812e-12),
        ("0.0 fm", 0.0),
        ("14.808 mm", 0.014808),
        ("3.3724e-006 m", 3.3724e-6),
        ("12 Å", 1.2e-9),
        ("1e+030 m", 1e30),
    ],
)
def test_lengths(text: str, metres: float) -> None:
    assert parse_length_m(text) == metres  # exact: scaled in decimal, not by float factors


def test_lengths_without_or_with_unknown_unit() -> None:
    assert parse_length_m("8100", default_unit="um") == pytest.approx(8.1e-3)
    assert parse_length_m("8100") is None
    assert parse_length_m("3 parsecs") is None
    assert parse_length_m("n/a") is None


@pytest.mark.parametrize(
    ("text", "volts"),
    [("25.00 kV", 25000.0), ("15000 Volt", 15000.0), ("300 V", 300.0), ("1 MV", 1e6), ("-5 kV", -5000.0)],
)
def test_voltages(text: str, volts: float) -> None:
    assert parse_voltage_v(text) == volts


def test_voltage_default_unit() -> None:
    assert parse_voltage_v("7.00") is None and parse_voltage_v("7.00", default_unit="kV") == 7000.0


@pytest.mark.parametrize(
    ("text", "mag"),
    [
        ("105 X", 105.0),
        ("50.00 K X", 50000.0),
        ("x1.00k", 1000.0),
        ("x30,000", 30000.0),
        ("95", 95.0),
        ("2.5 M X", 2.5e6),
    ],
)
def test_magnifications(text: str, mag: float) -> None:
    assert parse_magnification(text) == mag


def test_magnification_rejects_other_units() -> None:
    assert parse_magnification("12 mm") is None


def test_numbers() -> None:
    assert parse_number("1,000,000.5") == 1000000.5
    assert parse_number("2,5") == 2.5  # decimal comma
    assert parse_number("nothing") is None


def test_check_range() -> None:
    assert check_range("pixel_size_m", 5e-9, "AP_PIXEL_SIZE") == (5e-9, None)
    assert check_range("pixel_size_m", None, "AP_PIXEL_SIZE") == (None, None)
    assert check_range("pixel_size_m", 1e30, "AP_PIXEL_SIZE") == (
        None,
        "absurd metadata: pixel size AP_PIXEL_SIZE = 1e+30 m outside [1e-12, 0.01]",
    )
    assert check_range("working_distance_m", float("inf"), "WD")[1] == (
        "absurd metadata: working distance WD = inf m outside [0, 1]"
    )
    assert check_range("magnification", 0.0, "AP_MAG")[0] is None


def test_decode_bytes_and_json_safe() -> None:
    assert decode_bytes("µm".encode("utf-16")) == "µm"
    assert decode_bytes("[SemImageFile]".encode("utf-16-le")) == "[SemImageFile]"  # no BOM
    assert decode_bytes("µm".encode("cp1252")) == "µm"
    assert decode_bytes(b"\x81\x8d") == "\ufffd\ufffd"  # undefined in cp1252: replaced, no crash
    assert json_safe({"a": (1, 2.5, float("nan"), b"\x00\x01"), 3: {"b": "c\x00"}}) == {
        "a": [1, 2.5, None, "0001"],
        "3": {"b": "c"},
    }
