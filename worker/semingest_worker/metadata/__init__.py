"""Stage 1: standard TIFF/EXIF tags and vendor instrument metadata, normalised to SI units.

Vendor readers form a registry (``READERS``, RosettaSciIO-style mapping tables): each implements
``VendorReader`` (name, matches, read) over one ``VendorInput`` (tags, sidecar texts, path, image
size). The first reader that matches reads, in this order: ``zeiss`` (tag 34118), ``fei``
(34682), ``tescan`` (50431), ``olympus_sis`` (33560/33471), then the sidecars: ``jeol`` and
``hitachi`` (``.txt``), ``tescan`` (``.hdr``). Images without vendor metadata (e.g. re-saved by
ImageJ) get vendor None and their private TIFF tags (>= 32768) kept raw.

``extract_metadata`` never raises for bad metadata: implausible or contradictory values and
undecodable vendor text become None plus a specific entry in ``MetadataResult.problems``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import ImageFile, InstrumentMeta, MetadataResult
from . import fei, hitachi, jeol, olympus, tescan, zeiss
from .exif import EXIF_COLUMNS, ExifColumn, exif_values
from .reading import VendorInput, VendorReader, VendorReading
from .sidecars import find_sidecars, read_sidecar_text
from .values import json_safe

if TYPE_CHECKING:
    from ..imageio import DecodedImage

__all__ = [
    "EXIF_COLUMNS",
    "READERS",
    "ExifColumn",
    "VendorInput",
    "VendorReader",
    "exif_values",
    "extract_metadata",
    "find_sidecars",
]

PRIVATE_TAG_MIN = 32768
READERS: tuple[VendorReader, ...] = (
    zeiss.READER,
    fei.READER,
    tescan.READER,
    olympus.READER,
    jeol.READER,
    hitachi.READER,
    tescan.HDR_READER,
)


def extract_metadata(image: DecodedImage, file: ImageFile) -> MetadataResult:
    """EXIF columns, the vendor's instrument metadata and the problems found; never raises."""
    problems: list[str] = []
    try:
        exif = exif_values(image)
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose the image's other data
        exif = {}
        problems.append(f"unreadable TIFF/EXIF tags: {type(exc).__name__}: {exc}")
    unreadable: list[str] = []
    source = vendor_input(image, file, unreadable)
    reading = _vendor_reading(source, problems)
    if reading is None or not (reading.source or "").startswith("tiff:"):
        problems.extend(unreadable)  # a sidecar that might have held this image's metadata
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


def vendor_input(image: DecodedImage, file: ImageFile, problems: list[str]) -> VendorInput:
    """The readers' one input; a sidecar that cannot be read is a problem appended to ``problems``."""
    sidecars: list[tuple[str, str]] = []
    for path in file.sidecars:
        try:
            sidecars.append((path, read_sidecar_text(path)))
        except OSError as exc:
            problems.append(f"cannot read sidecar {path}: {exc.strerror or exc}")
    return VendorInput(
        path=file.path, width=image.width, height=image.height, tags=image.tiff_tags, sidecars=tuple(sidecars)
    )


def _vendor_reading(source: VendorInput, problems: list[str]) -> VendorReading | None:
    for reader in READERS:
        try:
            if not reader.matches(source):
                continue
            return reader.read(source)
        except Exception as exc:  # noqa: BLE001 - a reader bug becomes a reason, not a crash
            problems.append(f"cannot read {reader.name} metadata: {type(exc).__name__}: {exc}")
            return VendorReading(vendor=reader.name, source=None)
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
