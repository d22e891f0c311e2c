"""Hitachi: a ``<stem>.txt`` sidecar (often UTF-16 with a BOM, or cp1252), INI-like.

``[SemImageFile]`` with ``InstructName`` (model), ``SerialNumber``, ``PixelSize`` (nm, for the
``DataSize`` frame), ``MicronMarker`` (the scale marker's length), ``Magnification``,
``AcceleratingVoltage`` ("15000 Volt"), ``WorkingDistance`` ("8100 um"), ``SignalName``,
``Date``/``Time``. ``Condition`` ("Vacc=15.0kV Mag=x1.00k WD=8.1mm") fills what is missing.
"""

from __future__ import annotations

import re

from .reading import VendorReading, parse_timestamp
from .sidecars import parse_ini
from .units import parse_length_m, parse_magnification, parse_voltage_v
from .values import parse_number

_CONDITION = re.compile(r"(Vacc|Mag|WD)\s*=\s*(\S+)")


def looks_like(text: str) -> bool:
    head = text[:4000]
    return "[SemImageFile]" in head or ("InstructName" in head and "PixelSize" in head)


def read(text: str, path: str, image_width: int) -> VendorReading:
    sections = parse_ini(text)
    values: dict[str, str] = {}
    for section in sections.values():
        for key, val in section.items():
            values.setdefault(key, val)
    reading = VendorReading(vendor="hitachi", source=path, raw=sections)
    condition = dict(_CONDITION.findall(values.get("Condition", "")))

    def quantity(field: str, key: str, parser, expected: str, fallback: str | None = None) -> None:
        text_value, used = values.get(key), key
        if not text_value and fallback and condition.get(fallback):
            text_value, used = condition[fallback], f"Condition {fallback}"
        if text_value:
            reading.record(field, used, text_value, parser, expected)

    quantity("pixel_size_m", "PixelSize", lambda s: parse_length_m(s, default_unit="nm"), "a length in nm")
    quantity(
        "accelerating_voltage_v",
        "AcceleratingVoltage",
        lambda s: parse_voltage_v(s, default_unit="V"),
        "a voltage",
        "Vacc",
    )
    quantity(
        "working_distance_m",
        "WorkingDistance",
        lambda s: parse_length_m(s, default_unit="um"),
        "a length",
        "WD",
    )
    quantity("magnification", "Magnification", parse_magnification, "a magnification", "Mag")

    data_size = values.get("DataSize", "")
    frame_width = parse_number(data_size.lower().split("x")[0]) if "x" in data_size.lower() else None
    if reading.pixel_size_m is not None and frame_width and image_width > 0 and frame_width != image_width:
        reading.pixel_size_m *= frame_width / image_width  # PixelSize is for the DataSize frame
    reading.model = values.get("InstructName") or None
    reading.detector = values.get("SignalName") or None
    reading.acquired_at = parse_timestamp(
        f"{values.get('Date', '')} {values.get('Time', '')}",
        ("%Y/%m/%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S"),
    )
    return reading
