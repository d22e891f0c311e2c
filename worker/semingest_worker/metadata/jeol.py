"""JEOL: a ``<stem>.txt`` sidecar of ``$KEY value`` lines (SEM and EPMA/JXA instruments).

``$CM_MAG`` (x), ``$CM_ACCEL_VOLT`` (kV), ``$$SM_WD`` (mm), ``$CM_INSTRUMENT``,
``$CM_SIGNAL_NAME``, ``$CM_DATE`` (YYYY/MM/DD) and ``$CM_TIME``. The pixel size is the scale
marker over its bar: ``$$SM_MICRON_MARKER`` (e.g. ``100um``) / ``$$SM_MICRON_BAR`` (px), both
for the full frame ``$CM_FULL_SIZE`` (width height); the saved image may be smaller, so it is
rescaled by full width / saved width, and the rows below the (rescaled) frame are the data bar.
An image whose rows contradict that rescale gets no pixel size (see ``pixels``).
"""

from __future__ import annotations

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
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


def _variants(*keys: str) -> tuple[str, ...]:
    """JEOL writes some keys with one ``$`` or two depending on the instrument."""
    out: list[str] = []
    for key in keys:
        bare = key.lstrip("$")
        out.extend((key, "$" + bare, "$$" + bare))
    return tuple(dict.fromkeys(out))


def _size(text: str, axis: int) -> float | None:
    parts = text.split()
    return parse_number(parts[axis]) if len(parts) > axis else None


MARKER_OVER_BAR = "$$SM_MICRON_MARKER / $$SM_MICRON_BAR"
FIELDS = table(
    magnification=Rule(_variants("$CM_MAG"), parse_magnification, "a magnification"),
    accelerating_voltage_v=Rule(
        _variants("$CM_ACCEL_VOLT"), lambda s: parse_voltage_v(s, default_unit="kV"), "a voltage in kV"
    ),
    working_distance_m=Rule(
        _variants("$$SM_WD"), lambda s: parse_length_m(s, default_unit="mm"), "a length in mm"
    ),
    model=Rule(_variants("$CM_INSTRUMENT"), text_value, strict=False),
    detector=Rule(_variants("$CM_SIGNAL_NAME", "$CM_DETECTOR_NAME", "$CM_SIGNAL"), text_value, strict=False),
    acquired_at=Rule(
        ("$CM_DATE $CM_TIME", "$CM_DATE"),
        timestamp_parser("%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S"),
        strict=False,
    ),
)
# The scale marker's length over its bar (px) is the pixel size of the full frame $CM_FULL_SIZE
# (width height); the saved image may be rescaled and has the data bar appended below.
GEOMETRY = {
    "x": GeometryRule((MARKER_OVER_BAR,), parse_number, "a length over a positive pixel count"),
    "scan_width": GeometryRule(_variants("$CM_FULL_SIZE"), lambda t: _size(t, 0), "'width height'"),
    "scan_height": GeometryRule(_variants("$CM_FULL_SIZE"), lambda t: _size(t, 1), "'width height'"),
}


class JeolReader:
    """A ``<stem>.txt`` sidecar of ``$KEY value`` lines."""

    name = "jeol"

    def matches(self, source: VendorInput) -> bool:
        return source.sidecar(lambda _path, text: looks_like(text)) is not None

    def read(self, source: VendorInput) -> VendorReading:
        found = source.sidecar(lambda _path, text: looks_like(text))
        assert found is not None
        path, text = found
        values = parse_lines(text)
        reading = VendorReading(vendor=self.name, source=path, raw=dict(values))
        values = {k: v for k, v in values.items() if v}
        if values.get("$CM_DATE"):
            values["$CM_DATE $CM_TIME"] = f"{values['$CM_DATE']} {values.get('$CM_TIME', '')}".strip()
        reading.apply(FIELDS, values)
        marker_over_bar = _marker_over_bar(values, reading.problems)
        if marker_over_bar is not None:
            values[MARKER_OVER_BAR] = repr(marker_over_bar)
        reading.apply_geometry(GEOMETRY, values, source.width, source.height)
        return reading


def _marker_over_bar(values: dict[str, str], problems: list[str]) -> float | None:
    """``$$SM_MICRON_MARKER`` (a length) over ``$$SM_MICRON_BAR`` (px), in m per full-frame px."""
    marker = next((values[k] for k in _variants("$$SM_MICRON_MARKER") if values.get(k)), None)
    bar = next((values[k] for k in _variants("$$SM_MICRON_BAR") if values.get(k)), None)
    if marker is None or bar is None:
        return None
    marker_m, bar_px = parse_length_m(marker), parse_number(bar)
    if marker_m is None or not bar_px or bar_px <= 0:
        problems.append(
            f"unparseable metadata: {MARKER_OVER_BAR} = {marker!r} / {bar!r} "
            "(expected a length over a positive pixel count)"
        )
        return None
    return marker_m / bar_px


READER = JeolReader()
