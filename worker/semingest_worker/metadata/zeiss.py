"""Zeiss SmartSEM: TIFF tag 34118 (``CZ_SEM``).

The text is a block of numbers followed by pairs of lines: a key (``AP_PIXEL_SIZE``,
``DP_DETECTOR_CHANNEL``, ``SV_SERIAL_NUMBER``, ...) and then ``Label = value unit`` (or
``Label :value`` for ``AP_DATE``/``AP_TIME``). Values are selected by key, never by label: the
files also hold ``FIB Pixel Size = 0.0 fm`` and ``Argon Pixel Size = 0.0 fm`` before the
electron beam's ``AP_PIXEL_SIZE``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .reading import VendorReading, parse_timestamp
from .units import parse_length_m, parse_magnification, parse_voltage_v
from .values import clean_text, tiff_text

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


def read(value: Any) -> VendorReading:
    reading = VendorReading(vendor="zeiss", source=SOURCE)
    text = tiff_text(value)
    pairs = parse_pairs(text)
    if not pairs:
        reading.raw = {"_undecoded_text": text[:2000]}
        reading.problems.append(
            f"undecodable vendor metadata: tag {TAG} (Zeiss) has no AP_/DP_/SV_ key lines "
            f"({len(text)} characters)"
        )
        return reading
    reading.raw = {key: value for key, (_label, value) in pairs.items()}

    def value_of(*keys: str) -> tuple[str, str] | None:
        for key in keys:
            if key in pairs and pairs[key][1]:
                return key, pairs[key][1]
        return None

    def quantity(field: str, parser: Any, *keys: str, expected: str) -> None:
        found = value_of(*keys)
        if found is not None:
            reading.record(field, *found, parser, expected)

    quantity(
        "pixel_size_m",
        parse_length_m,
        "AP_PIXEL_SIZE",
        "AP_IMAGE_PIXEL_SIZE",
        expected="a length such as '2.615 µm'",
    )
    quantity(
        "accelerating_voltage_v",
        parse_voltage_v,
        "AP_ACTUALKV",
        "AP_MANUALKV",
        expected="a voltage such as '25.00 kV'",
    )
    quantity("working_distance_m", parse_length_m, "AP_WD", expected="a length such as '14.808 mm'")
    quantity("magnification", parse_magnification, "AP_MAG", expected="a magnification such as '50.00 K X'")

    detector = value_of("DP_DETECTOR_CHANNEL", "DP_DETECTOR_TYPE")
    reading.detector = detector[1] if detector else None
    model = value_of("DP_SEM")
    if model:
        reading.model = model[1]
    else:
        serial = value_of("SV_SERIAL_NUMBER")
        if serial:
            reading.model = _SERIAL_SUFFIX.sub("", serial[1]) or serial[1]
    date, time = value_of("AP_DATE"), value_of("AP_TIME")
    if date:
        reading.acquired_at = _datetime(date[1], time[1] if time else "")
    return reading


def _datetime(date: str, time: str) -> datetime | None:
    return parse_timestamp(f"{date} {time}", ("%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y"))
