"""Stage 1: standard TIFF/EXIF tags and vendor instrument metadata, normalised to SI units.

One reader per vendor (RosettaSciIO-style): ``zeiss`` (tag 34118), ``fei`` (34682), ``tescan``
(50431 or a ``.hdr`` sidecar), ``jeol`` and ``hitachi`` (``.txt`` sidecars). The first source
found in that order is used. Images without vendor metadata (e.g. re-saved by ImageJ) get
vendor None and their private TIFF tags (>= 32768) kept raw.

``extract_metadata`` never raises for bad metadata: implausible values and undecodable vendor
text become None plus a specific entry in ``MetadataResult.problems``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import ImageFile, InstrumentMeta, MetadataResult
from . import fei, hitachi, jeol, tescan, zeiss
from .exif import EXIF_COLUMNS, ExifColumn, exif_values
from .reading import VendorReading
from .sidecars import find_sidecars, read_sidecar_text
from .values import json_safe

if TYPE_CHECKING:
    from ..imageio import DecodedImage

__all__ = [
    "EXIF_COLUMNS",
    "ExifColumn",
    "exif_values",
    "extract_metadata",
    "find_sidecars",
]

PRIVATE_TAG_MIN = 32768
_VENDOR_TAGS = {zeiss.TAG: "Zeiss", fei.TAG: "FEI", tescan.TAG: "TESCAN"}


def extract_metadata(image: DecodedImage, file: ImageFile) -> MetadataResult:
    """EXIF columns, the vendor's instrument metadata and the problems found; never raises."""
    problems: list[str] = []
    try:
        exif = exif_values(image)
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose the image's other data
        exif = {}
        problems.append(f"unreadable TIFF/EXIF tags: {type(exc).__name__}: {exc}")
    reading = _vendor_reading(image, file, problems)
    try:
        if reading is None:
            instrument = InstrumentMeta(raw=_private_tags(image.tiff_tags))
        else:
            instrument, reading_problems = reading.to_instrument()
            problems.extend(reading_problems)
    except Exception as exc:  # noqa: BLE001 - never lose the image over its metadata
        vendor = reading.vendor if reading is not None else None
        instrument = InstrumentMeta(vendor=vendor, source=reading.source if reading else None)
        problems.append(f"cannot normalise {vendor or 'vendor'} metadata: {type(exc).__name__}: {exc}")
    return MetadataResult(exif=exif, instrument=instrument, problems=tuple(problems))


def _vendor_reading(image: DecodedImage, file: ImageFile, problems: list[str]) -> VendorReading | None:
    tags = image.tiff_tags
    for tag, name in _VENDOR_TAGS.items():
        if tag not in tags:
            continue
        try:
            if tag == zeiss.TAG:
                return zeiss.read(tags[tag])
            if tag == fei.TAG:
                return fei.read(tags[tag], tags.get(fei.XML_TAG))
            return tescan.read(tags[tag])
        except Exception as exc:  # noqa: BLE001 - a reader bug becomes a reason, not a crash
            problems.append(f"cannot read {name} tag {tag}: {type(exc).__name__}: {exc}")
            return VendorReading(vendor=name.lower(), source=f"tiff:{tag}")
    for path in file.sidecars:
        try:
            text = read_sidecar_text(path)
        except OSError as exc:
            problems.append(f"cannot read sidecar {path}: {exc.strerror or exc}")
            continue
        try:
            if jeol.looks_like(text):
                return jeol.read(text, path, image.width)
            if hitachi.looks_like(text):
                return hitachi.read(text, path, image.width)
            if path.lower().endswith(".hdr"):
                reading = tescan.read_hdr(text, path)
                if reading is not None:
                    return reading
        except Exception as exc:  # noqa: BLE001
            problems.append(f"cannot read sidecar {path}: {type(exc).__name__}: {exc}")
    return None


def _private_tags(tags: dict[int, Any]) -> dict[str, Any]:
    """Unknown vendors: private TIFF tags (>= 32768) that are not standard EXIF columns, raw."""
    standard = {c.tag for c in EXIF_COLUMNS}
    private = {
        f"tiff:{tag}": value
        for tag, value in sorted(tags.items())
        if tag >= PRIVATE_TAG_MIN and tag not in standard and tag not in (34665, 34853, 40965)
    }
    return json_safe(private) if private else {}
