"""The read side: one row per image (or per file) in human units and SI, with filters.

This is the one definition of "what an image row looks like to a reader": ``semingest export``
streams it, ``semingest show`` prints it, the SQL views ``v_images``/``v_files`` are this very
SELECT compiled to SQL (``views``), and a web catalogue can page through it. Column names say
their unit (``_m``, ``_nm``, ``_v``, ``_kv``, ``_mm``); SI and human units sit side by side (the
SI values as stored, the human ones rounded to ``HUMAN_DECIMALS`` decimals of their unit).

Pixel size: the metadata value (what the instrument recorded) and the scale-bar (OCR) value are
both given, with their ratio and ``pixel_size_agreement``:

* ``agree``: both present, within ``AGREEMENT_TOLERANCE`` (relative) of each other;
* ``disagree``: both present, further apart (a resized copy, a misread label, a wrong tag);
* ``metadata_only`` / ``scale_bar_only`` / ``none``.

The believed value ``pixel_size_m`` is the metadata value when there is one (also when the
scale bar disagrees: the disagreement is flagged, not resolved by guessing), else the scale
bar's; ``pixel_size_source`` says which. ``pixel_height_m`` is the metadata's pixel height where
it states one (``instrument_meta.pixel_size_y_m``), else the pixels are taken as square.

``category`` is the top label of the model used most recently (``ingest_runs.model_id`` of the
newest run that had a model); ``files`` counts the image's files, ``duplicates`` the extra ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from . import canonical, schema

AGREEMENT_TOLERANCE = 0.05

im = schema.images
f = schema.image_files
ins = schema.instrument_meta
ps = schema.pixel_size
inf = schema.inference
runs = schema.ingest_runs


class Agreement(enum.StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    METADATA_ONLY = "metadata_only"
    SCALE_BAR_ONLY = "scale_bar_only"
    NONE = "none"


class Status(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    MISSING = canonical.MISSING  # every file of the image has vanished from the source folder


class FilterError(ValueError):
    """A filter value that is not valid (the message lists the valid ones)."""


@dataclass(frozen=True)
class ImageFilter:
    """Which images (or files) to read; None: no restriction. Dates are acquisition dates, inclusive."""

    vendor: str | None = None
    instrument: str | None = None  # instrument_meta.model
    detector: str | None = None
    acquired_from: date | None = None
    acquired_to: date | None = None
    run_id: str | None = None
    status: str | None = None
    category: str | None = None


FILTER_NAMES = tuple(field.name for field in fields(ImageFilter))


def latest_model_id() -> sa.ScalarSelect:
    """The model of the newest run that had one (the model ``category`` comes from)."""
    return (
        sa.select(runs.c.model_id)
        .where(runs.c.model_id.is_not(None))
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


HUMAN_DECIMALS = 6  # nm, kV, mm: to 1e-6 of the unit, far below any instrument's precision


def human(value: sa.ColumnElement) -> sa.ColumnElement:
    """A value in a human unit, rounded so 0.0098 m shows as 9.8 mm, not 9.799999999999999."""
    return sa.func.round(value, HUMAN_DECIMALS, type_=sa.Double())


def _pixel_columns() -> list[sa.ColumnElement]:
    meta = sa.func.coalesce(ins.c.pixel_size_m, ps.c.metadata_pixel_size_m)
    ocr = ps.c.ocr_pixel_size_m
    believed = sa.case((meta.is_not(None), meta), else_=ocr)
    # Pixel height: the metadata's where it states one (non-square pixels), else square pixels.
    height = sa.case((meta.is_not(None), sa.func.coalesce(ins.c.pixel_size_y_m, meta)), else_=ocr)
    source = sa.case((meta.is_not(None), "metadata"), (ocr.is_not(None), "scale_bar"), else_=None)
    ratio = sa.case((sa.and_(meta.is_not(None), meta != 0, ocr.is_not(None)), ocr / meta), else_=None)
    agreement = sa.case(
        (sa.and_(meta.is_not(None), ocr.is_not(None), sa.func.abs(ratio - 1.0) <= AGREEMENT_TOLERANCE),
         Agreement.AGREE.value),
        (sa.and_(meta.is_not(None), ocr.is_not(None)), Agreement.DISAGREE.value),
        (meta.is_not(None), Agreement.METADATA_ONLY.value),
        (ocr.is_not(None), Agreement.SCALE_BAR_ONLY.value),
        else_=Agreement.NONE.value,
    )  # fmt: skip
    return [
        believed.label("pixel_size_m"),
        human(believed * 1e9).label("pixel_size_nm"),
        height.label("pixel_height_m"),
        human(height * 1e9).label("pixel_height_nm"),
        source.label("pixel_size_source"),
        agreement.label("pixel_size_agreement"),
        ratio.label("pixel_size_ratio"),
        meta.label("metadata_pixel_size_m"),
        human(meta * 1e9).label("metadata_pixel_size_nm"),
        ocr.label("ocr_pixel_size_m"),
        human(ocr * 1e9).label("ocr_pixel_size_nm"),
    ]


def image_select(*, vendor_metadata: bool = False) -> sa.Select:
    """One row per distinct image (the columns of ``v_images``; ``vendor_metadata``: plus the raw JSON)."""
    file_count = sa.select(sa.func.count()).where(f.c.image_hash == im.c.image_hash).scalar_subquery()
    columns: list[sa.ColumnElement] = [
        im.c.image_hash,
        im.c.path,
        im.c.status,
        im.c.error,
        im.c.vendor,
        ins.c.model.label("instrument"),
        ins.c.detector,
        ins.c.acquired_at,
        im.c.width,
        im.c.height,
        im.c.format,
        im.c.mode,
        im.c.page_count,
        *_pixel_columns(),
        ins.c.accelerating_voltage_v,
        human(ins.c.accelerating_voltage_v / 1000.0).label("accelerating_voltage_kv"),
        ins.c.working_distance_m,
        human(ins.c.working_distance_m * 1000.0).label("working_distance_mm"),
        ins.c.magnification,
        ps.c.scale_bar_text,
        ps.c.scale_bar_value,
        ps.c.scale_bar_unit,
        ps.c.scale_bar_px,
        ps.c.style.label("scale_bar_style"),
        ps.c.reason.label("scale_bar_reason"),
        inf.c.top1_label.label("category"),
        inf.c.top1_score.label("category_score"),
        inf.c.model_id.label("category_model"),
        file_count.label("files"),
        (file_count - 1).label("duplicates"),
        ins.c.source.label("metadata_source"),
        im.c.run_id,
        im.c.ingested_at,
        im.c.semingest_version,
        ins.c.reader_version.label("metadata_reader"),
        ps.c.reader_version.label("scalebar_reader"),
        inf.c.reader_version.label("inference_reader"),
    ]
    if vendor_metadata:
        columns.append(ins.c.raw.label("vendor_metadata"))
    return sa.select(*columns).select_from(_image_joins())


def _image_joins() -> sa.FromClause:
    return (
        im.outerjoin(ins, ins.c.image_hash == im.c.image_hash)
        .outerjoin(ps, ps.c.image_hash == im.c.image_hash)
        .outerjoin(inf, sa.and_(inf.c.image_hash == im.c.image_hash, inf.c.model_id == latest_model_id()))
    )


_FILE_OWN = frozenset({"path", "status", "error", "run_id", "ingested_at", "semingest_version"})


def file_select(*, vendor_metadata: bool = False, images: sa.Select | None = None) -> sa.Select:
    """One row per file (the columns of ``v_files``): the file's own columns, then its image's.

    ``images``: only the files of these images (a restricted ``image_select``); default: every
    file, undecodable ones included (their image columns are NULL).
    """
    image = (images if images is not None else image_select(vendor_metadata=vendor_metadata)).subquery("i")
    join = f.outerjoin if images is None else f.join
    columns: list[sa.ColumnElement] = [
        f.c.path,
        f.c.path_key,
        f.c.size,
        f.c.mtime_ns,
        f.c.status.label("file_status"),
        f.c.error.label("file_error"),
        f.c.sidecars,
        f.c.run_id.label("file_run_id"),
        f.c.ingested_at.label("file_ingested_at"),
        f.c.semingest_version.label("file_semingest_version"),
        image.c.path.label("canonical_path"),
        sa.case((image.c.path.is_(None), None), (image.c.path == f.c.path, True), else_=False).label(
            "is_canonical"
        ),
        *(c.label(f"image_{c.name}") if c.name in _FILE_OWN else c for c in image.c if c.name != "path"),
    ]
    return sa.select(*columns).select_from(join(image, image.c.image_hash == f.c.image_hash))


# -- filters ----------------------------------------------------------------------------------------
def _filter_columns() -> dict[str, sa.ColumnElement]:
    return {
        "vendor": im.c.vendor,
        "instrument": ins.c.model,
        "detector": ins.c.detector,
        "run_id": im.c.run_id,
        "status": im.c.status,
        "category": inf.c.top1_label,
    }


def filtered_images(flt: ImageFilter, *, vendor_metadata: bool = False) -> sa.Select:
    """``image_select`` restricted by ``flt``, in path order (stable across exports)."""
    stmt = image_select(vendor_metadata=vendor_metadata)
    return _where(stmt, flt).order_by(im.c.path, im.c.image_hash)


def filtered_files(flt: ImageFilter, *, vendor_metadata: bool = False) -> sa.Select:
    """``file_select`` restricted by ``flt``: run and status are the file's, the rest its image's."""
    image_filter = replace(flt, run_id=None, status=None)
    images = None
    if any(getattr(image_filter, name) is not None for name in FILTER_NAMES):
        images = _where(image_select(vendor_metadata=vendor_metadata), image_filter)
    stmt = file_select(vendor_metadata=vendor_metadata, images=images)
    if flt.run_id is not None:
        stmt = stmt.where(f.c.run_id == flt.run_id)
    if flt.status is not None:
        stmt = stmt.where(f.c.status == flt.status)
    return stmt.order_by(f.c.path, f.c.path_key)


def _where(stmt: sa.Select, flt: ImageFilter) -> sa.Select:
    columns = _filter_columns()
    for name, column in columns.items():
        value = getattr(flt, name)
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.acquired_from is not None:
        stmt = stmt.where(ins.c.acquired_at >= datetime.combine(flt.acquired_from, datetime.min.time()))
    if flt.acquired_to is not None:
        end = datetime.combine(flt.acquired_to + timedelta(days=1), datetime.min.time())
        stmt = stmt.where(ins.c.acquired_at < end)
    return stmt


def validate_filter(conn: sa.Connection, flt: ImageFilter) -> None:
    """Raise ``FilterError`` for a value the database has no image with (listing the valid ones)."""
    if flt.status is not None and flt.status not in tuple(Status):
        raise FilterError(f"unknown status {flt.status!r}: valid values are {', '.join(Status)}")
    if flt.acquired_from and flt.acquired_to and flt.acquired_from > flt.acquired_to:
        raise FilterError(f"the date range is empty: {flt.acquired_from} is after {flt.acquired_to}")
    for name in _filter_columns():
        value = getattr(flt, name)
        if value is None or name == "status":
            continue
        valid = distinct_values(conn, name)
        if value not in valid:
            shown = ", ".join(repr(v) for v in valid[:50]) or "none (the database has no such values)"
            more = f" (and {len(valid) - 50} more)" if len(valid) > 50 else ""
            raise FilterError(f"no image has {name} {value!r}: valid values are {shown}{more}")


def distinct_values(conn: sa.Connection, name: str) -> list[str]:
    """The values a filter can take in this database (sorted), e.g. for listing or a catalogue's facets."""
    column = _filter_columns()[name]
    stmt = sa.select(column).select_from(_image_joins()).where(column.is_not(None)).distinct()
    if name == "run_id":
        stmt = sa.select(runs.c.id).distinct()
    return sorted(str(v) for (v,) in conn.execute(stmt))
