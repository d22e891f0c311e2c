"""TESCAN: TIFF tag 50431, or a ``<stem>-<ext>.hdr`` sidecar.

The tag is a binary blob (a header and an embedded JPEG 2000 thumbnail) followed by blocks of
``key=value`` lines separated by short binary markers; the ``.hdr`` sidecar holds the same lines
under ``[MAIN]`` and ``[SEM]``. Values are SI: ``PixelSizeX`` (m), ``HV`` (V), ``WD`` (m),
``Magnification``, ``Device``, ``Detector``, ``Date`` (YYYY-MM-DD), ``Time``. TESCAN states no
field of view or scan size, so ``PixelSizeX``/``PixelSizeY`` are stored as stated (the
provenance says "not cross-checked"); ``ImageStripSize`` (the info strip's rows) is checked
against the image height.
"""

from __future__ import annotations

import re

from .pixels import GeometryRule
from .reading import Rule, VendorInput, VendorReading, table, text_value, timestamp_parser
from .sidecars import parse_ini
from .values import clean_text, decode_bytes, parse_number

TAG = 50431
SOURCE = f"tiff:{TAG}"
# A block: at least two consecutive "Key=value\n" lines of printable text. Binary data (the
# thumbnail) practically never holds two such lines in a row.
_BLOCK = re.compile(rb"(?:[A-Za-z][A-Za-z0-9_.\-]*=[\x20-\x7e\x80-\xff\t]*\r?\n){2,}")


def text_blocks(blob: bytes) -> list[str]:
    """The ``key=value`` text blocks found in the binary tag."""
    return [decode_bytes(m.group(0)) for m in _BLOCK.finditer(blob)]


FIELDS = table(
    accelerating_voltage_v=Rule(("HV", "AcceleratorVoltage"), parse_number),
    working_distance_m=Rule(("WD",), parse_number),
    magnification=Rule(("Magnification",), parse_number),
    model=Rule(("Device", "DeviceModel"), text_value, strict=False),
    detector=Rule(("Detector", "Detector0"), text_value, strict=False),
    acquired_at=Rule(("Date Time", "Date"), timestamp_parser("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"), strict=False),
)
# TESCAN states no field width or scan size: PixelSizeX/Y are taken as stated, and
# ImageStripSize (the info strip below the scan) is checked against the image height.
GEOMETRY = {
    "x": GeometryRule(("PixelSizeX",), parse_number),
    "y": GeometryRule(("PixelSizeY",), parse_number),
    "bar_rows": GeometryRule(("ImageStripSize",), parse_number),
}


def flat_values(blob: bytes) -> dict[str, str] | None:
    """The ``key=value`` lines of tag 50431 (first value of a key wins); None without any."""
    blocks = text_blocks(blob)
    if not blocks:
        return None
    flat: dict[str, str] = {}
    for block in blocks:
        for line in block.splitlines():
            if "=" in line:
                key, val = line.split("=", 1)
                flat.setdefault(clean_text(key), clean_text(val))
    return flat


class TescanReader:
    """Tag 50431 (bytes; a str if a writer stored it as ASCII)."""

    name = "tescan"

    def matches(self, source: VendorInput) -> bool:
        return TAG in source.tags

    def read(self, source: VendorInput) -> VendorReading:
        value = source.tags[TAG]
        blob = value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
        flat = flat_values(blob)
        if flat is None:
            reading = VendorReading(vendor=self.name, source=SOURCE, raw={"_undecoded_bytes": len(blob)})
            reading.problems.append(
                f"undecodable vendor metadata: tag {TAG} (TESCAN) has no key=value text ({len(blob)} bytes)"
            )
            return reading
        return _fill(VendorReading(vendor=self.name, source=SOURCE), flat, source)


class TescanHdrReader:
    """A ``.hdr`` sidecar with ``[MAIN]`` holding ``PixelSizeX`` or ``Device``."""

    name = "tescan"

    def matches(self, source: VendorInput) -> bool:
        return source.sidecar(_is_tescan_hdr) is not None

    def read(self, source: VendorInput) -> VendorReading:
        found = source.sidecar(_is_tescan_hdr)
        assert found is not None
        path, text = found
        flat: dict[str, str] = {}
        for values in parse_ini(text).values():
            for key, val in values.items():
                flat.setdefault(key, val)
        return _fill(VendorReading(vendor=self.name, source=path), flat, source)


def _is_tescan_hdr(path: str, text: str) -> bool:
    if not path.lower().endswith(".hdr"):
        return False
    main = parse_ini(text).get("MAIN", {})
    return bool({"PixelSizeX", "Device"} & main.keys())


def _fill(reading: VendorReading, flat: dict[str, str], source: VendorInput) -> VendorReading:
    reading.raw = dict(flat)
    values = {k: v for k, v in flat.items() if v}
    if values.get("Date"):
        values["Date Time"] = f"{values['Date']} {values.get('Time', '')}".strip()
    reading.apply(FIELDS, values)
    reading.apply_geometry(GEOMETRY, values, source.width, source.height)
    return reading


READER = TescanReader()
HDR_READER = TescanHdrReader()
