"""Zeiss SmartSEM: TIFF tag 34118 (``CZ_SEM``).

The text is a block of numbers followed by pairs of lines: a key (``AP_PIXEL_SIZE``,
``DP_DETECTOR_CHANNEL``, ``SV_SERIAL_NUMBER``, ...) and then ``Label = value unit`` (or
``Label :value`` for ``AP_DATE``/``AP_TIME``). Values are selected by key, never by label: the
files also hold ``FIB Pixel Size = 0.0 fm`` and ``Argon Pixel Size = 0.0 fm`` before the
electron beam's ``AP_PIXEL_SIZE``.
"""

from __future__ import annotations

import re

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
from .units import parse_length_m, parse_magnification, parse_voltage_v
from .values import clean_text, parse_number, tiff_text

TAG = 34118
SOURCE = f"tiff:{TAG}"
_KEY = re.compile(r"^(?:AP|DP|SV|SD|SS|SB)_[A-Z0-9_]+$")
_SERIAL_SUFFIX = re.compile(r"[-\s]*\d+-\d+\s*$")  # "Merlin-61-08" -> "Merlin"


def parse_pairs(text: str) -> dict[str, tuple[str, str]]:
    """Key -> (label, value) for every key line followed by a ``Label = value`` line."""
    lines = [line.strip() for line in clean_text(text).splitlines()]
    pairs: dict[str, tuple[str, str]] = {}
    i = 0
    while i < len(lines) - 1:
        key = lines[i]
        if _KEY.match(key) and not _KEY.match(lines[i + 1]):
            line = lines[i + 1]
            if "=" in line:
                label, value = line.split("=", 1)
            elif ":" in line:
                label, value = line.split(":", 1)
            else:
                label, value = "", line
            pairs.setdefault(key, (label.strip(), value.strip()))
            i += 2
        else:
            i += 1
    return pairs


def _model_from_serial(serial: str) -> str | None:
    text = clean_text(serial)
    return _SERIAL_SUFFIX.sub("", text) or text or None


def _image_store(text: str, axis: int) -> float | None:
    """``DP_IMAGE_STORE`` "1024 * 768": the stored frame's width (axis 0) or height (axis 1)."""
    parts = text.replace("x", "*").split("*")
    return parse_number(parts[axis]) if len(parts) == 2 else None


_LENGTH = "a length such as '2.615 µm'"
FIELDS = table(
    accelerating_voltage_v=Rule(
        ("AP_ACTUALKV", "AP_MANUALKV"), parse_voltage_v, "a voltage such as '25.00 kV'"
    ),
    working_distance_m=Rule(("AP_WD",), parse_length_m, "a length such as '14.808 mm'"),
    magnification=Rule(("AP_MAG",), parse_magnification, "a magnification such as '50.00 K X'"),
    detector=Rule(("DP_DETECTOR_CHANNEL", "DP_DETECTOR_TYPE"), text_value, strict=False),
    model=(
        Rule(("DP_SEM",), text_value, strict=False),
        Rule(("SV_SERIAL_NUMBER",), _model_from_serial, strict=False),
    ),
    acquired_at=Rule(
        ("AP_DATE AP_TIME", "AP_DATE"),
        timestamp_parser("%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y"),
        strict=False,
    ),
)
# AP_IMAGE_PIXEL_SIZE describes the stored image, AP_PIXEL_SIZE the scan (they differ when the
# store resolution differs from the scan's); AP_WIDTH/AP_HEIGHT are the scanned field.
GEOMETRY = {
    "x": GeometryRule(("AP_IMAGE_PIXEL_SIZE", "AP_PIXEL_SIZE"), parse_length_m, _LENGTH),
    "field_width": GeometryRule(("AP_WIDTH",), parse_length_m, _LENGTH),
    "field_height": GeometryRule(("AP_HEIGHT",), parse_length_m, _LENGTH),
    "scan_width": GeometryRule(("DP_IMAGE_STORE",), lambda t: _image_store(t, 0), "'1024 * 768'"),
    "scan_height": GeometryRule(("DP_IMAGE_STORE",), lambda t: _image_store(t, 1), "'1024 * 768'"),
}


class ZeissReader:
    name = "zeiss"

    def matches(self, source: VendorInput) -> bool:
        return TAG in source.tags

    def read(self, source: VendorInput) -> VendorReading:
        reading = VendorReading(vendor=self.name, source=SOURCE)
        text = tiff_text(source.tags[TAG])
        pairs = parse_pairs(text)
        if not pairs:
            reading.raw = {"_undecoded_text": text[:2000]}
            reading.problems.append(
                f"undecodable vendor metadata: tag {TAG} (Zeiss) has no AP_/DP_/SV_ key lines "
                f"({len(text)} characters)"
            )
            return reading
        reading.raw = {key: value for key, (_label, value) in pairs.items()}
        values = {key: value for key, value in reading.raw.items() if value}
        if "AP_DATE" in values and "AP_TIME" in values:
            values["AP_DATE AP_TIME"] = f"{values['AP_DATE']} {values['AP_TIME']}"
        reading.apply(FIELDS, values)
        reading.apply_geometry(GEOMETRY, values, source.width, source.height)
        return reading


READER = ZeissReader()
