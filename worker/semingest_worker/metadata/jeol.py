"""JEOL: a ``<stem>.txt`` sidecar of ``$KEY value`` lines (SEM and EPMA/JXA instruments).

``$CM_MAG`` (x), ``$CM_ACCEL_VOLT`` (kV), ``$$SM_WD`` (mm), ``$CM_INSTRUMENT``,
``$CM_SIGNAL_NAME``, ``$CM_DATE`` (YYYY/MM/DD) and ``$CM_TIME``. The pixel size is the scale
marker over its bar: ``$$SM_MICRON_MARKER`` (e.g. ``100um``) / ``$$SM_MICRON_BAR`` (px), both
for the full frame ``$CM_FULL_SIZE`` (width height); the saved image may be smaller, so it is
rescaled by full width / saved width.
"""

from __future__ import annotations

from .reading import VendorReading, parse_timestamp
from .units import parse_length_m, parse_magnification, parse_voltage_v
from .values import clean_text, parse_number


def parse_lines(text: str) -> dict[str, str]:
    """``$KEY value`` lines -> {"$KEY": "value"}; the first value of a key wins."""
    out: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = clean_text(raw_line)
        if not line.startswith("$"):
            continue
        key, _, value = line.partition(" ")
        out.setdefault(key, value.strip())
    return out


def looks_like(text: str) -> bool:
    head = text[:4000]
    return "$CM_" in head or "$$SM_" in head or "$SEM_DATA_VERSION" in head


def read(text: str, path: str, image_width: int) -> VendorReading:
    values = parse_lines(text)
    reading = VendorReading(vendor="jeol", source=path, raw=dict(values))

    def get(*keys: str) -> tuple[str, str] | None:
        for key in keys:
            for variant in (key, "$" + key.lstrip("$"), "$$" + key.lstrip("$")):
                if values.get(variant):
                    return variant, values[variant]
        return None

    def quantity(field: str, parser, key_names: tuple[str, ...], expected: str) -> None:
        found = get(*key_names)
        if found is not None:
            reading.record(field, *found, parser, expected)

    quantity("magnification", parse_magnification, ("$CM_MAG",), "a magnification")
    quantity(
        "accelerating_voltage_v",
        lambda s: parse_voltage_v(s, default_unit="kV"),
        ("$CM_ACCEL_VOLT",),
        "a voltage in kV",
    )
    quantity(
        "working_distance_m",
        lambda s: parse_length_m(s, default_unit="mm"),
        ("$$SM_WD", "$SM_WD"),
        "a length in mm",
    )
    instrument = get("$CM_INSTRUMENT")
    reading.model = instrument[1] if instrument else None
    detector = get("$CM_SIGNAL_NAME", "$CM_DETECTOR_NAME", "$CM_SIGNAL")
    reading.detector = detector[1] if detector else None
    _pixel_size(reading, get, image_width)
    date, time = get("$CM_DATE"), get("$CM_TIME")
    if date:
        reading.acquired_at = parse_timestamp(
            f"{date[1]} {time[1] if time else ''}",
            ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S"),
        )
    return reading


def _pixel_size(reading: VendorReading, get, image_width: int) -> None:
    marker, bar = get("$$SM_MICRON_MARKER", "$SM_MICRON_MARKER"), get("$$SM_MICRON_BAR", "$SM_MICRON_BAR")
    if not marker or not bar:
        return
    key = f"{marker[0]} / {bar[0]}"
    reading.keys["pixel_size_m"] = key
    marker_m = parse_length_m(marker[1])
    bar_px = parse_number(bar[1])
    if marker_m is None or not bar_px or bar_px <= 0:
        reading.problems.append(
            f"unparseable metadata: {key} = {marker[1]!r} / {bar[1]!r} (expected a length over a positive pixel count)"
        )
        return
    full = get("$CM_FULL_SIZE")
    full_width = parse_number(full[1]) if full else None
    scale = full_width / image_width if full_width and full_width > 0 and image_width > 0 else 1.0
    reading.pixel_size_m = marker_m / bar_px * scale
