"""TESCAN: TIFF tag 50431, or a ``<stem>-<ext>.hdr`` sidecar.

The tag is a binary blob (a header and an embedded JPEG 2000 thumbnail) followed by blocks of
``key=value`` lines separated by short binary markers; the ``.hdr`` sidecar holds the same lines
under ``[MAIN]`` and ``[SEM]``. Values are SI: ``PixelSizeX`` (m), ``HV`` (V), ``WD`` (m),
``Magnification``, ``Device``, ``Detector``, ``Date`` (YYYY-MM-DD), ``Time``.
"""

from __future__ import annotations

import re
from typing import Any

from .reading import VendorReading, parse_timestamp
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


def read(value: Any) -> VendorReading:
    """From tag 50431 (bytes; a str if a writer stored it as ASCII)."""
    blob = value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
    blocks = text_blocks(blob)
    reading = VendorReading(vendor="tescan", source=SOURCE)
    if not blocks:
        reading.raw = {"_undecoded_bytes": len(blob)}
        reading.problems.append(
            f"undecodable vendor metadata: tag {TAG} (TESCAN) has no key=value text ({len(blob)} bytes)"
        )
        return reading
    flat: dict[str, str] = {}
    for block in blocks:
        for line in block.splitlines():
            if "=" in line:
                key, val = line.split("=", 1)
                flat.setdefault(clean_text(key), clean_text(val))
    return _fill(reading, flat)


def read_hdr(text: str, path: str) -> VendorReading | None:
    """From a ``.hdr`` sidecar; None when it is not TESCAN's ([MAIN] with PixelSizeX or Device)."""
    sections = parse_ini(text)
    main = sections.get("MAIN", {})
    if not main or not ({"PixelSizeX", "Device"} & main.keys()):
        return None
    flat: dict[str, str] = {}
    for values in sections.values():
        for key, val in values.items():
            flat.setdefault(key, val)
    return _fill(VendorReading(vendor="tescan", source=path), flat)


def _fill(reading: VendorReading, flat: dict[str, str]) -> VendorReading:
    reading.raw = dict(flat)

    def number(field: str, *keys: str) -> None:
        for key in keys:
            text_value = flat.get(key)
            if text_value:
                reading.record(field, key, text_value, parse_number)
                return

    number("pixel_size_m", "PixelSizeX")
    number("accelerating_voltage_v", "HV", "AcceleratorVoltage")
    number("working_distance_m", "WD")
    number("magnification", "Magnification")
    reading.model = flat.get("Device") or flat.get("DeviceModel") or None
    reading.detector = flat.get("Detector") or flat.get("Detector0") or None
    reading.acquired_at = parse_timestamp(
        f"{flat.get('Date', '')} {flat.get('Time', '')}", ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    )
    return reading
