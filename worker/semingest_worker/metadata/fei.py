"""FEI / Thermo Fisher: TIFF tag 34682 (``FEI_HELIOS``), INI text in SI units.

``[Scan] PixelWidth`` (m), ``[Beam] HV`` (V), ``[Stage] WorkingDistance`` (m),
``[System] SystemType``, ``[Detectors] Name``, ``[User] Date``/``Time``,
``[PrivateFei] DatabarHeight`` (px). The magnification is the one the data bar shows:
``[Image] MagCanvasRealWidth / [EBeam] HFW``. Some files also carry tag 34680 (``FEI_SFEG``,
XML); it is kept raw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .reading import VendorReading, parse_timestamp
from .sidecars import parse_ini
from .values import parse_number, tiff_text

TAG = 34682
XML_TAG = 34680
SOURCE = f"tiff:{TAG}"


def read(value: Any, xml_value: Any = None) -> VendorReading:
    text = tiff_text(value)
    reading = VendorReading(vendor="fei", source=SOURCE)
    sections = parse_ini(text)
    if not any(name for name in sections):
        reading.raw = {"_undecoded_text": text[:2000]}
        reading.problems.append(
            f"undecodable vendor metadata: tag {TAG} (FEI) has no [Section] key=value text "
            f"({len(text)} characters)"
        )
        return reading
    reading.raw = dict(sections)
    if xml_value is not None:
        reading.raw[f"tiff:{XML_TAG}"] = tiff_text(xml_value)

    def get(*refs: tuple[str, str]) -> tuple[str, str] | None:
        for section, key in refs:
            v = sections.get(section, {}).get(key)
            if v:
                return f"[{section}] {key}", v
        return None

    def number(field: str, *refs: tuple[str, str]) -> None:
        found = get(*refs)
        if found is not None:
            reading.record(field, *found, parse_number)

    scan = sections.get("Beam", {}).get("Scan") or "EScan"
    number("pixel_size_m", ("Scan", "PixelWidth"), (scan, "PixelWidth"), ("EScan", "PixelWidth"))
    number("accelerating_voltage_v", ("Beam", "HV"), ("EBeam", "HV"))
    number("working_distance_m", ("Stage", "WorkingDistance"), ("EBeam", "WD"))
    number("databar_height_px", ("PrivateFei", "DatabarHeight"))
    if reading.databar_height_px is not None:
        reading.databar_height_px = int(reading.databar_height_px)

    canvas = parse_number(sections.get("Image", {}).get("MagCanvasRealWidth", "") or "")
    hfw = get(("EBeam", "HFW"), ("Scan", "HorFieldsize"))
    hfw_m = parse_number(hfw[1]) if hfw else None
    if canvas and hfw_m:
        reading.magnification = canvas / hfw_m
        reading.keys["magnification"] = f"[Image] MagCanvasRealWidth / {hfw[0]}"

    model = get(("System", "SystemType"), ("System", "Type"))
    reading.model = model[1] if model else None
    detector = get(("Detectors", "Name"))
    reading.detector = detector[1] if detector else None
    reading.acquired_at = _acquired_at(sections)
    return reading


def _acquired_at(sections: dict[str, dict[str, str]]) -> datetime | None:
    user = sections.get("User", {})
    stamp = f"{user.get('Date', '')} {user.get('Time', '')}"
    formats = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")
    created = sections.get("PrivateFei", {}).get("TimeOfCreation", "")
    return parse_timestamp(stamp, formats) or parse_timestamp(created, ("%d.%m.%Y %H:%M:%S",))
