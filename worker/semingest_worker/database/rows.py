"""From an ``ImageResult`` to plain row dicts, one per table, with values every backend accepts.

Values are made safe here, once, so a batch is never rejected for a value that could have been
stored: non-finite floats become NULL, integers outside 64 bits become NULL, datetimes become
naive UTC within MySQL's DATETIME range (else NULL), text that is not valid Unicode (lone
surrogates from non-UTF-8 file names) is escaped, short columns are cut to their length, and
JSON is serialised strictly (no NaN). Everything else, including quotes, semicolons and SQL in
file names and metadata, is passed through unchanged: it only ever travels as a bound parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from semingest_api.stages import Stage

from ..belief import believe
from ..identity import display_path
from ..provenance import reader_version, semingest_version
from ..records import INSTRUMENT_FIELDS, FieldKind, ImageResult, InstrumentMeta
from . import schema

_INT64 = (-(2**63), 2**63 - 1)
# Bounds on what one file can put in a row (a 20 MB metadata value must not become a 20 MB row:
# the server drops the connection past max_allowed_packet and the run used to fail on it).
REASON_LIMIT = 500  # characters of a failure reason (they quote file content)
TEXT_VALUE_LIMIT = 16 * 1024  # characters of one standard-tag text value
JSON_LIMIT = 256 * 1024  # characters of one JSON column (the vendor dictionary)
JSON_STRING_LIMIT = 4096  # characters of one string inside an over-long JSON value
_SHORT_LIMITS = {
    "mode": 32,
    "format": 16,
    "vendor": 32,
    "model": 255,
    "detector": 255,
    "scale_bar_text": 255,
    "scale_bar_unit": 8,
    "style": 32,
    "top1_label": 255,
    "status": 16,
}
_EXIF_KINDS = {c.name: c.kind for c in schema.EXIF_COLUMNS}
_EXIF_ABSENT: dict[str, None] = dict.fromkeys(schema.EXIF_COLUMN_NAMES)


def text(value: Any, limit: int | None = None) -> str | None:
    """Storable text, cut to ``limit`` characters (for fixed-width columns: no note)."""
    if value is None:
        return None
    s = value if isinstance(value, str) else str(value)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(s) > limit:
        s = s[:limit]
    return s


def bounded_text(value: Any, limit: int) -> str | None:
    """Storable text of at most about ``limit`` characters, saying how much was cut."""
    s = text(value)
    if s is None or len(s) <= limit:
        return s
    return f"{s[:limit]}... [cut: {len(s) - limit} more characters]"


def number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def integer(value: Any) -> int | None:
    if value is None:
        return None
    try:
        i = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return i if _INT64[0] <= i <= _INT64[1] else None


def timestamp(value: datetime | None) -> datetime | None:
    """Naive UTC, whole seconds, within 1000..9999 (MySQL DATETIME); else None."""
    if value is None or not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    if not 1000 <= value.year <= 9999:
        return None
    return value.replace(microsecond=0)


def _json_clean(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(str(k)): _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _json_clean(value.item())
    return text(value)


def to_json(value: Any, limit: int = JSON_LIMIT) -> str | None:
    """Strict JSON of ``value``, at most about ``limit`` characters.

    An over-long value keeps its structure: long strings are cut to ``JSON_STRING_LIMIT`` with a
    note, and if that is not enough, a dictionary keeps its first entries and records what was
    cut under ``"semingest:truncated"``.
    """
    if value is None:
        return None
    clean = _json_clean(value)
    out = json.dumps(clean, ensure_ascii=False, allow_nan=False)
    if len(out) <= limit:
        return out
    clean = _cut_strings(clean)
    out = json.dumps(clean, ensure_ascii=False, allow_nan=False)
    if len(out) <= limit:
        return out
    if isinstance(clean, dict):
        kept: dict[str, Any] = {}
        size = 2
        for key, item in clean.items():
            entry = len(json.dumps({key: item}, ensure_ascii=False, allow_nan=False))
            if size + entry > limit - 200:
                break
            kept[key] = item
            size += entry
        kept["semingest:truncated"] = (
            f"kept {len(kept)} of {len(clean)} entries; the value had {len(out)} characters"
        )
        return json.dumps(kept, ensure_ascii=False, allow_nan=False)
    return json.dumps({"semingest:truncated": f"a {type(clean).__name__} of {len(out)} characters"})


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str):
        return bounded_text(value, JSON_STRING_LIMIT)
    if isinstance(value, dict):
        return {k: _cut_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v) for v in value]
    return value


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class ImageRows:
    """The rows one ``ImageResult`` contributes (None/empty where a stage did not run)."""

    path: str  # display path (what images.path is compared with)
    image_file: dict[str, Any]
    image: dict[str, Any] | None = None
    dependents: dict[str, dict[str, Any]] = field(default_factory=dict)  # table name -> row

    @property
    def image_hash(self) -> str | None:
        return self.image_file["image_hash"]


def build_rows(result: ImageResult, *, model_id: str | None, written_at: datetime) -> ImageRows:
    """All rows for one result. ``model_id`` is the run's model (for inference rows)."""
    file = result.file
    path = file.display_path
    status = "failed" if result.status == "failed" else "ok"
    error = bounded_text(result.error, REASON_LIMIT)
    version = semingest_version()
    file_row = {
        "path_key": file.path_key,
        "path": path,
        "size": integer(file.size) or 0,
        "mtime_ns": integer(file.mtime_ns) or 0,
        "image_hash": result.image_hash,
        "status": status,
        "error": error,
        "sidecar_stamp": file.sidecar_stamp,
        "sidecars": to_json([display_path(s) for s in file.sidecars]) if file.sidecars else None,
        "run_id": result.run_id,
        "ingested_at": written_at,
        "semingest_version": version,
    }
    rows = ImageRows(path=path, image_file=file_row)
    if result.image_hash is None:
        return rows
    h = result.image_hash
    rows.image = {
        "image_hash": h,
        "path": path,
        "width": integer(result.width),
        "height": integer(result.height),
        "mode": text(result.mode, _SHORT_LIMITS["mode"]),
        "format": text(result.format, _SHORT_LIMITS["format"]),
        "page_count": integer(result.page_count),
        "vendor": text(result.vendor, _SHORT_LIMITS["vendor"]),
        "status": status,
        "error": error,
        "run_id": result.run_id,
        "ingested_at": written_at,
        "canonical_rank": canonical_rank(status, result.vendor),
        "semingest_version": version,
    }
    meta = result.metadata
    if meta is not None:
        metadata_version = {"semingest_version": version, "reader_version": reader_version(Stage.METADATA)}
        exif_row: dict[str, Any] = {"image_hash": h, **_EXIF_ABSENT, **metadata_version}
        for name, value in meta.exif.items():
            if name in _EXIF_KINDS:  # the standard tags only; absent ones stay NULL
                exif_row[name] = _exif_value(name, value)
        rows.dependents["exif_meta"] = exif_row
        rows.dependents["instrument_meta"] = {
            "image_hash": h,
            **instrument_row(meta.instrument),
            **metadata_version,
        }
    bar = result.scale_bar
    if bar is not None:
        meta_px = number(meta.instrument.pixel_size_m) if meta is not None else None
        ocr_px = number(bar.pixel_size_m)
        ratio = number(ocr_px / meta_px) if ocr_px is not None and meta_px else None
        printed_px = number(bar.printed_pixel_size_m)
        belief = believe(meta_px, ocr_px, bar.reason, printed_px)
        rows.dependents["pixel_size"] = {
            "image_hash": h,
            "metadata_pixel_size_m": meta_px,
            "ocr_pixel_size_m": ocr_px,
            "scale_bar_text": text(bar.label_text, _SHORT_LIMITS["scale_bar_text"]),
            "scale_bar_value": number(bar.value),
            "scale_bar_unit": text(bar.unit, _SHORT_LIMITS["scale_bar_unit"]),
            "scale_bar_px": number(bar.bar_px),
            "scale_bar_px_uncertainty": number(bar.bar_px_uncertainty),
            "ratio": ratio,
            "printed_field": text(bar.printed_field, _SHORT_LIMITS["scale_bar_text"]),
            "printed_pixel_size_m": printed_px,
            "believed_pixel_size_m": number(belief.pixel_size_m),
            "believed_source": belief.source.value if belief.source else None,
            "believed_reason": bounded_text(belief.reason, REASON_LIMIT),
            "style": text(bar.style, _SHORT_LIMITS["style"]),
            "reason": bounded_text(bar.reason, REASON_LIMIT),
            "semingest_version": version,
            "reader_version": reader_version(Stage.SCALEBAR),
        }
    if result.thumbnail is not None:
        rows.dependents["thumbnails"] = thumbnail_row(h, result) | {"semingest_version": version}
    cls = result.classification
    inference_error = result.inference_error
    if model_id is not None and (cls is not None or inference_error):
        rows.dependents["inference"] = {
            "image_hash": h,
            "model_id": cls.model_id if cls is not None else model_id,
            "top1_label": text(cls.top1_label, _SHORT_LIMITS["top1_label"]) if cls else None,
            "top1_score": number(cls.top1_score) if cls else None,
            "scores": to_json(cls.scores) if cls else None,
            "error": None if cls else bounded_text(inference_error, REASON_LIMIT),
            "semingest_version": version,
            "reader_version": reader_version(Stage.INFERENCE),
        }
    return rows


def instrument_row(ins: InstrumentMeta) -> dict[str, Any]:
    """The ``instrument_meta`` values of one ``InstrumentMeta``: one per field, by its kind."""
    row: dict[str, Any] = {}
    for name, spec in INSTRUMENT_FIELDS.items():
        value = getattr(ins, name)
        if spec.kind is FieldKind.FLOAT:
            row[name] = number(value)
        elif spec.kind is FieldKind.INT:
            row[name] = integer(value)
        elif spec.kind is FieldKind.DATETIME:
            row[name] = timestamp(value)
        elif spec.kind is FieldKind.JSON:
            row[name] = to_json(value) if value else None
        else:
            row[name] = text(value, spec.max_chars)
    return row


def thumbnail_row(image_hash: str, result: ImageResult) -> dict[str, Any]:
    """The ``thumbnails`` row: the preview and the scale-bar geometry (JSON, pixels of the image)."""
    thumb = result.thumbnail
    assert thumb is not None
    geometry = result.scale_bar.geometry if result.scale_bar is not None else None
    return {
        "image_hash": image_hash,
        "format": thumb.format,
        "width": thumb.width,
        "height": thumb.height,
        "data": thumb.data,
        "geometry": to_json(asdict(geometry)) if geometry is not None else None,
    }


def canonical_rank(status: str, vendor: str | None) -> int:
    """How good a file is as its image's canonical file (lower is better)."""
    return (0 if status == "ok" else 2) + (0 if vendor else 1)


def rejected_file_row(rows: ImageRows, reason: str) -> dict[str, Any]:
    """The ``image_files`` row recording that the database refused this image's rows."""
    row = dict(rows.image_file)
    row.update(image_hash=None, status="failed", error=bounded_text(reason, REASON_LIMIT))
    return row


def _exif_value(name: str, value: Any) -> Any:
    kind = _EXIF_KINDS[name]
    if kind == "int":
        return integer(value)
    if kind == "float":
        return number(value)
    return bounded_text(value, TEXT_VALUE_LIMIT)
