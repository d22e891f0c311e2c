"""Standard TIFF and EXIF tags as typed database columns.

``EXIF_COLUMNS`` is a fixed, deterministic list built from the tags Pillow knows
(``PIL.TiffTags.TAGS_V2`` and ``PIL.ExifTags.TAGS``), minus the tags that describe the file's
layout or hold binary blobs (strip/tile offsets, colour maps, JPEG tables, ICC profiles, maker
notes, sub-IFD pointers, ImageJ's private tags ...). The database builds the ``exif_meta`` table
from it: one typed column per tag, absent = NULL.

Typing: ``int`` for single SHORT/LONG/BYTE values, ``float`` for single rationals/floats,
``text`` for everything else: ASCII text, multi-value tags as a JSON array (``"[8, 8, 8]"``),
undefined/byte blobs decoded as text when they are printable, else as hex. A value that cannot be
represented in its column's type (e.g. two values in a single-value tag) is left out, never
replaced by a placeholder.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from PIL import ExifTags, TiffTags

from .values import clean_text, decode_bytes, tiff_text

if TYPE_CHECKING:
    from ..imageio import DecodedImage

Kind = Literal["int", "float", "text"]

TEXT_MAX_CHARS = 16_000  # longer text values are truncated (with a marker)


@dataclass(frozen=True)
class ExifColumn:
    name: str  # snake_case, SQL-safe, <= 64 characters
    tag: int
    kind: Kind


# Layout, pointers and binary blobs: not metadata a user queries.
_SKIPPED_TAGS = frozenset(
    {
        1,  # InteropIndex (lives in the interoperability IFD, which is not read)
        273, 279, 288, 289,  # strip/free offsets and byte counts
        291, 301, 320, 342,  # gray response curve, transfer function, colour map, transfer range
        324, 325, 330, 343, 347,  # tiles, SubIFDs, ClipPath, JPEGTables
        512, 513, 514, 515, 517, 518, 519, 520, 521,  # old-style JPEG layout and tables
        33723, 34377, 34675, 37724,  # IPTC, Photoshop resources, ICC profile, ImageSourceData
        34665, 34853, 40965,  # EXIF / GPS / interoperability IFD pointers
        37500, 50341,  # MakerNote, PrintImageMatching
        45056, 45058, 45059,  # MPF version, entries, image UID list (JPEG multi-picture layout)
        50712, 50740, 50828, 50831, 50833,  # DNG linearisation table, private data, raw file, ICC
        50938, 50939, 50940, 50982, 51008, 51009, 51022,  # DNG profile tables and opcode lists
        50838, 50839,  # ImageJ private tags (kept raw by the vendor-agnostic reader)
    }
)  # fmt: skip

# Types of EXIF tags Pillow names but does not type (EXIF 2.32 / TIFF-EP / DNG).
_INT_TAGS = frozenset(
    {
        344, 345, 346, 351, 4097, 4098, 18246, 18249, 34850, 34855, 34857, 34859, 34864, 34865, 34866,
        34867, 34868, 34869, 37383, 37384, 37385, 37393, 40961, 40962, 40963, 41488, 41495,
        41985, 41986, 41987, 41989, 41990, 41991, 41992, 41993, 41994, 41996, 42080, 50711,
        50717, 50733, 50778, 50779, 50941, 50970, 50975,
    }
)  # fmt: skip
_FLOAT_TAGS = frozenset(
    {
        33423, 33434, 33437, 37122, 37377, 37378, 37379, 37380, 37381, 37382, 37386, 37387,
        37397, 37888, 37889, 37890, 37891, 37892, 37893, 41483, 41486, 41487, 41493, 41988,
        42240, 50730, 50731, 50732, 50734, 50737, 50738, 50739, 50935, 51044,
    }
)  # fmt: skip
_XP_TAGS = frozenset({40091, 40092, 40093, 40094, 40095})  # Windows Explorer: UTF-16LE bytes
_USER_COMMENT = 37510
_NAME_OVERRIDES = {
    346: "indexed_image",
    700: "xmp",
    37398: "tiff_ep_standard_id",
}  # "indexed": SQLite keyword
_TIFF_INT_TYPES = {1, 3, 4, 6, 8, 9, 13, 16, 17}  # BYTE SHORT LONG SBYTE SSHORT SLONG IFD LONG8...
_TIFF_FLOAT_TYPES = {5, 10, 11, 12}  # RATIONAL SRATIONAL FLOAT DOUBLE


def _snake(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "_", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return re.sub(r"_+", "_", s).strip("_").lower()[:64]


def _kind(tag: int) -> Kind:
    if tag in _INT_TAGS:
        return "int"
    if tag in _FLOAT_TAGS:
        return "float"
    info = TiffTags.TAGS_V2.get(tag)
    if info is not None and info.length == 1:
        if info.type in _TIFF_INT_TYPES:
            return "int"
        if info.type in _TIFF_FLOAT_TYPES:
            return "float"
    return "text"


def _build_columns() -> tuple[ExifColumn, ...]:
    names: dict[int, str] = {}
    for tag in sorted(set(TiffTags.TAGS_V2) | set(ExifTags.TAGS)):
        if tag in _SKIPPED_TAGS:
            continue
        label = ExifTags.TAGS.get(tag) or TiffTags.TAGS_V2[tag].name
        names[tag] = _NAME_OVERRIDES.get(tag) or _snake(label)
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    columns = []
    for tag, name in names.items():
        if counts[name] > 1:  # e.g. ExposureIndex is both TIFF/EP 37397 and EXIF 41493
            name = f"{name}_{tag}"
        columns.append(ExifColumn(name=name, tag=tag, kind=_kind(tag)))
    return tuple(columns)


EXIF_COLUMNS: tuple[ExifColumn, ...] = _build_columns()
_BY_TAG: dict[int, ExifColumn] = {c.tag: c for c in EXIF_COLUMNS}


def exif_values(image: DecodedImage) -> dict[str, Any]:
    """Column name -> typed value for the standard tags present in ``image`` (absent: no key)."""
    out: dict[str, Any] = {}
    for source in (image.tiff_tags, image.exif):
        for tag, value in source.items():
            column = _BY_TAG.get(tag)
            if column is None or column.name in out:
                continue
            typed = typed_value(column, value)
            if typed is not None:
                out[column.name] = typed
    return out


def typed_value(column: ExifColumn, value: Any) -> int | float | str | None:
    """``value`` converted to ``column.kind``; None when it cannot be represented faithfully."""
    try:
        if column.kind == "int":
            return _as_int(value)
        if column.kind == "float":
            return _as_float(value)
        return _as_text(column.tag, value)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None


def _single(value: Any) -> Any:
    if isinstance(value, tuple | list):
        if len(value) != 1:
            raise ValueError("not a single value")
        return value[0]
    return value


def _as_int(value: Any) -> int | None:
    v = _single(value)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    f = _as_float(v)
    if f is None or not f.is_integer():
        return None
    return int(f)


def _as_float(value: Any) -> float | None:
    v = _single(value)
    if isinstance(v, bytes | bytearray):
        v = decode_bytes(bytes(v))
    if isinstance(v, str):
        v = v.strip().strip("\x00")
    if hasattr(v, "denominator") and getattr(v, "denominator", 1) == 0:
        return None  # IFDRational n/0
    f = float(v)
    return f if math.isfinite(f) else None


def _scalar_json(v: Any) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    if isinstance(v, float | Fraction) or hasattr(v, "denominator"):
        if getattr(v, "denominator", 1) == 0:
            return None
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, tuple | list):
        return [_scalar_json(x) for x in v]
    return str(v)


def _as_text(tag: int, value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        text = _bytes_text(tag, bytes(value))
    elif isinstance(value, str):
        text = tiff_text(value)
    elif isinstance(value, tuple | list):
        if len(value) == 1:
            return _as_text(tag, value[0])
        if tag in _XP_TAGS and all(isinstance(x, int) for x in value):
            text = _bytes_text(tag, bytes(x & 0xFF for x in value))
        else:
            text = json.dumps([_scalar_json(x) for x in value], ensure_ascii=False)
    elif isinstance(value, dict):
        return None  # a nested IFD: not a value
    else:
        scalar = _scalar_json(value)
        if scalar is None:
            return None
        text = scalar if isinstance(scalar, str) else json.dumps(scalar)
    text = clean_text(text)
    if len(text) > TEXT_MAX_CHARS:
        text = text[:TEXT_MAX_CHARS] + f"...[truncated {len(text) - TEXT_MAX_CHARS} chars]"
    return text


def _bytes_text(tag: int, data: bytes) -> str:
    if tag in _XP_TAGS:
        return data.decode("utf-16-le", "replace").rstrip("\x00")
    if tag == _USER_COMMENT and len(data) >= 8:
        charset, body = data[:8], data[8:]
        if charset.startswith(b"UNICODE"):
            return body.decode("utf-16-be" if body[:1] == b"\x00" else "utf-16-le", "replace")
        if charset.startswith(b"ASCII") or charset == b"\x00" * 8:
            return decode_bytes(body)
    text = data.rstrip(b"\x00")
    if text and all(32 <= b < 127 or b in (9, 10, 13) or b >= 0xA0 for b in text):
        return decode_bytes(text)
    return data.hex()
