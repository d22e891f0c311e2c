"""Hitachi: a ``<stem>.txt`` sidecar (often UTF-16 with a BOM, or cp1252), INI-like.

``[SemImageFile]`` with ``InstructName`` (model), ``SerialNumber``, ``PixelSize`` (nm, for the
``DataSize`` frame), ``MicronMarker`` (the scale marker's length), ``Magnification``,
``AcceleratingVoltage`` ("15000 Volt"), ``WorkingDistance`` ("8100 um"), ``SignalName``,
``Date``/``Time``. ``Condition`` ("Vacc=15.0kV Mag=x1.00k WD=8.1mm") fills what is missing.
"""

from __future__ import annotations

import re

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
from .sidecars import parse_ini
from .units import parse_length_m, parse_magnification, parse_voltage_v
from .values import parse_number

_CONDITION = re.compile(r"(Vacc|Mag|WD)\s*=\s*(\S+)")


def looks_like(text: str) -> bool:
    head = text[:4000]
    return "[SemImageFile]" in head or ("InstructName" in head and "PixelSize" in head)


def _data_size(text: str, axis: int) -> float | None:
    """``DataSize`` "1280x960": the frame's width (axis 0) or height (axis 1)."""
    parts = text.lower().split("x")
    return parse_number(parts[axis]) if len(parts) == 2 else None


FIELDS = table(
    accelerating_voltage_v=Rule(
        ("AcceleratingVoltage", "Condition Vacc"), lambda s: parse_voltage_v(s, default_unit="V"), "a voltage"
    ),
    working_distance_m=Rule(
        ("WorkingDistance", "Condition WD"), lambda s: parse_length_m(s, default_unit="um"), "a length"
    ),
    magnification=Rule(("Magnification", "Condition Mag"), parse_magnification, "a magnification"),
    model=Rule(("InstructName",), text_value, strict=False),
    detector=Rule(("SignalName",), text_value, strict=False),
    acquired_at=Rule(
        ("Date Time",),
        timestamp_parser("%Y/%m/%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S"),
        strict=False,
    ),
)
# PixelSize (nm) is for the DataSize frame; the saved image may be rescaled.
GEOMETRY = {
    "x": GeometryRule(("PixelSize",), lambda s: parse_length_m(s, default_unit="nm"), "a length in nm"),
    "scan_width": GeometryRule(("DataSize",), lambda t: _data_size(t, 0), "'1280x960'"),
    "scan_height": GeometryRule(("DataSize",), lambda t: _data_size(t, 1), "'1280x960'"),
}


class HitachiReader:
    """A ``<stem>.txt`` sidecar, INI-like (``[SemImageFile]``)."""

    name = "hitachi"

    def matches(self, source: VendorInput) -> bool:
        return source.sidecar(lambda _path, text: looks_like(text)) is not None

    def read(self, source: VendorInput) -> VendorReading:
        found = source.sidecar(lambda _path, text: looks_like(text))
        assert found is not None
        path, text = found
        sections = parse_ini(text)
        values: dict[str, str] = {}
        for section in sections.values():
            for key, val in section.items():
                values.setdefault(key, val)
        reading = VendorReading(vendor=self.name, source=path, raw=sections)
        values = {k: v for k, v in values.items() if v}
        for name, value in _CONDITION.findall(values.get("Condition", "")):
            values.setdefault(f"Condition {name}", value)
        if values.get("Date"):
            values["Date Time"] = f"{values['Date']} {values.get('Time', '')}".strip()
        reading.apply(FIELDS, values)
        reading.apply_geometry(GEOMETRY, values, source.width, source.height)
        return reading


READER = HitachiReader()
