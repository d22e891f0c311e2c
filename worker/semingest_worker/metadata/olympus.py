"""Olympus SIS (Soft Imaging System / analySIS): TIFF tags 33560 (``OlympusSIS``, a binary
structure) and 33471 (``OlympusINI``, INI text), as ``tifffile`` decodes them.

Older FEI/Philips instruments were often saved through SIS software, so an SEM image may carry
only these tags. The structure's offsets are absolute file positions, so the tags are decoded by
reopening the file with ``tifffile`` (Pillow's raw tag bytes cannot be parsed on their own).
``pixelsizex``/``pixelsizey`` are in metres and may differ (non-square pixels): both are kept.
A value of 0 means "not calibrated" and is treated as not stated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
from .values import json_safe, parse_number

SIS_TAG = 33560
INI_TAG = 33471
SOURCE = f"tiff:{SIS_TAG}"
_ISO = "%Y-%m-%dT%H:%M:%S"

FIELDS = table(
    magnification=Rule(("magnification",), parse_number),
    detector=Rule(("cameraname",), text_value, strict=False),
    acquired_at=Rule(("datetime",), timestamp_parser(_ISO), strict=False),
)
GEOMETRY = {
    "x": GeometryRule(("pixelsizex",), parse_number),
    "y": GeometryRule(("pixelsizey",), parse_number),
}


class OlympusSisReader:
    name = "olympus_sis"

    def matches(self, source: VendorInput) -> bool:
        return SIS_TAG in source.tags or INI_TAG in source.tags

    def read(self, source: VendorInput) -> VendorReading:
        reading = VendorReading(
            vendor=self.name, source=SOURCE if SIS_TAG in source.tags else f"tiff:{INI_TAG}"
        )
        sis, ini = _decoded_tags(source.path)
        if not isinstance(sis, dict) and not isinstance(ini, dict):
            reading.problems.append(
                f"undecodable vendor metadata: Olympus SIS tags {SIS_TAG}/{INI_TAG} hold no structure "
                "tifffile can decode"
            )
            reading.raw = {"_undecoded": json_safe({"sis": sis, "ini": ini}, max_str=2000)}
            return reading
        sis = sis if isinstance(sis, dict) else {}
        reading.raw = {"sis": sis, **({"ini": ini} if isinstance(ini, dict) else {})}
        values = {key: _text(value) for key, value in sis.items() if _stated(value)}
        reading.apply(FIELDS, values)
        reading.apply_geometry(GEOMETRY, values, source.width, source.height)
        return reading


def _decoded_tags(path: str) -> tuple[Any, Any]:
    """Tags 33560 and 33471 of page 1 as tifffile decodes them (dicts; raw bytes when it cannot)."""
    import tifffile

    with tifffile.TiffFile(path) as tf:
        tags = tf.pages.first.tags
        return tags.valueof(SIS_TAG), tags.valueof(INI_TAG)


def _stated(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    return value is not None and value != ""


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime(_ISO)
    if isinstance(value, float):
        return repr(value)
    return str(value)


READER = OlympusSisReader()
