"""Catalogue queries: validated filters, facets, keyset pagination, image details and runs.

``parse_query(params)`` turns a query string (a multi-mapping) into a ``Query`` or raises
``QueryError`` naming every unknown parameter and every bad value: hostile input never reaches the
SQL (values are bound parameters; names come from closed vocabularies). ``search`` pages through
the images with a keyset cursor (the sort value and the image hash of the last row), so page
10,000 costs what page 1 costs; NULLs sort last in both directions.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import util as sa_util

from semingest_api.stages import Stage

from ..database import schema
from .vocab import AGREEMENT_TOLERANCE, Agreement, Order, SortKey, reason_class

im = schema.images
ins = schema.instrument_meta
ps = schema.pixel_size
inf = schema.inference
th = schema.thumbnails
files = schema.image_files
runs_t = schema.ingest_runs

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_TEXT = 200  # characters of a search text or facet value
MAX_VALUES = 50  # values of one multi-valued facet
MAX_CURSOR = 6000  # characters of a cursor (a path sort value can be 4096 characters)

# Multi-valued facets: parameter -> what it filters on.
MULTI_FACETS = ("vendor", "instrument", "detector", "category", "status", "agreement", "duplicates")
SINGLE_PARAMS = (
    "q",
    "acquired_from",
    "acquired_to",
    "pixel_size_min_nm",
    "pixel_size_max_nm",
    "score_min",
    "score_max",
    "model",
    "sort",
    "order",
    "limit",
    "cursor",
)
KNOWN_PARAMS = frozenset(MULTI_FACETS + SINGLE_PARAMS)
STATUSES = ("ok", "failed")
YES_NO = ("yes", "no")


class QueryError(ValueError):
    """A query string the catalogue refuses (HTTP 400), with every problem found."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Query:
    q: str | None = None
    vendor: tuple[str, ...] = ()
    instrument: tuple[str, ...] = ()
    detector: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    agreement: tuple[Agreement, ...] = ()
    duplicates: tuple[str, ...] = ()
    acquired_from: date | None = None
    acquired_to: date | None = None
    pixel_size_min_nm: float | None = None
    pixel_size_max_nm: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    model: str | None = None  # inference model for category/score (default: the latest run's)
    sort: SortKey = SortKey.INGESTED
    order: Order = Order.DESC
    limit: int = DEFAULT_LIMIT
    cursor: tuple[Any, str] | None = None  # (sort value, image_hash) of the last row shown

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """This query as query-string pairs (for links), with ``changes`` applied; no cursor."""
        q = replace(self, cursor=None, **changes)
        out: list[tuple[str, str]] = []
        for name in MULTI_FACETS:
            out += [(name, str(v)) for v in getattr(q, name)]
        for name in SINGLE_PARAMS:
            value = getattr(q, name)
            default = getattr(Query, name, None)
            if value is None or name == "cursor" or (name != "sort" and value == default):
                continue
            if name == "sort" and value == SortKey.INGESTED:
                continue
            out.append((name, value.isoformat() if isinstance(value, date) else f"{value}"))
        return out


def _getlist(params: Any, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        return list(params.getlist(name))
    value = params.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _names(params: Any) -> Iterable[str]:
    return params.keys()


def parse_query(params: Mapping[str, Any] | Any) -> Query:
    """Validate a query string (a multi-dict or a plain dict); raise ``QueryError`` with every problem."""
    problems: list[str] = []
    unknown = sorted(set(_names(params)) - KNOWN_PARAMS)
    if unknown:
        problems.append(
            f"unknown parameter(s) {', '.join(repr(u[:40]) for u in unknown[:10])}; "
            f"known: {', '.join(sorted(KNOWN_PARAMS))}"
        )
    values: dict[str, Any] = {}

    def single(name: str, longest: int = MAX_TEXT) -> str | None:
        got = [v for v in _getlist(params, name) if v != ""]
        if len(got) > 1:
            problems.append(f"{name} given {len(got)} times")
        if not got:
            return None
        if len(got[0]) > longest:
            problems.append(f"{name} is longer than {longest} characters")
            return None
        return got[0]

    for name in MULTI_FACETS:
        got = [v for v in _getlist(params, name) if v != ""]
        if len(got) > MAX_VALUES:
            problems.append(f"{name}: more than {MAX_VALUES} values")
            continue
        if any(len(v) > MAX_TEXT for v in got):
            problems.append(f"{name}: a value longer than {MAX_TEXT} characters")
            continue
        allowed: tuple[str, ...] | None = {
            "status": STATUSES,
            "agreement": tuple(a.value for a in Agreement),
            "duplicates": YES_NO,
        }.get(name)
        bad = [v for v in got if allowed is not None and v not in allowed]
        if bad and allowed is not None:
            problems.append(f"{name}: {bad[0][:40]!r} is not one of {', '.join(allowed)}")
            continue
        values[name] = tuple(dict.fromkeys(Agreement(v) if name == "agreement" else v for v in got))

    text = single("q")
    if text is not None:
        values["q"] = text
    model = single("model")
    if model is not None:
        values["model"] = model
    for name in ("acquired_from", "acquired_to"):
        raw = single(name)
        if raw is not None:
            try:
                values[name] = date.fromisoformat(raw)
            except ValueError:
                problems.append(f"{name}: {raw[:40]!r} is not a date (YYYY-MM-DD)")
    for name, lo, hi in (
        ("pixel_size_min_nm", 0.0, 1e9),
        ("pixel_size_max_nm", 0.0, 1e9),
        ("score_min", 0.0, 1.0),
        ("score_max", 0.0, 1.0),
    ):
        raw = single(name)
        if raw is None:
            continue
        try:
            number = float(raw)
        except ValueError:
            problems.append(f"{name}: {raw[:40]!r} is not a number")
            continue
        if not math.isfinite(number) or not lo <= number <= hi:
            problems.append(f"{name}: must be between {lo:g} and {hi:g}")
            continue
        values[name] = number
    sort = single("sort")
    if sort is not None:
        try:
            values["sort"] = SortKey(sort)
        except ValueError:
            problems.append(f"sort: {sort[:40]!r} is not one of {', '.join(k.value for k in SortKey)}")
    order = single("order")
    if order is not None:
        try:
            values["order"] = Order(order)
        except ValueError:
            problems.append("order: must be asc or desc")
    limit = single("limit")
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            problems.append(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
        else:
            values["limit"] = int(limit)
    raw_cursor = single("cursor", MAX_CURSOR)
    if problems:
        raise QueryError(problems)
    query = Query(**values)
    if raw_cursor is not None:
        query = replace(query, cursor=decode_cursor(raw_cursor, query.sort))
    return query


# -- cursors ----------------------------------------------------------------------------------------
_TIME_KEYS = (SortKey.INGESTED, SortKey.ACQUIRED)
_NUMBER_KEYS = (SortKey.PIXEL_SIZE, SortKey.SCORE, SortKey.RATIO)


def encode_cursor(value: Any, image_hash: str) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, image_hash], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: SortKey) -> tuple[Any, str]:
    """The (value, image_hash) a cursor holds, checked against the sort key; ``QueryError`` otherwise."""
    bad = QueryError(["cursor: not a cursor from this catalogue (start again from the first page)"])
    if len(text) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value, image_hash = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad from None
    if not isinstance(image_hash, str) or len(image_hash) != 64 or not _is_hex(image_hash):
        raise bad
    if value is None:
        return None, image_hash
    try:
        if sort in _TIME_KEYS:
            return datetime.fromisoformat(value), image_hash
        if sort in _NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise bad
            return float(value), image_hash
    except (TypeError, ValueError):
        raise bad from None
    if not isinstance(value, str) or len(value) > 4096:
        raise bad
    return value, image_hash


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


# -- SQL pieces ---------------------------------------------------------------------------------------
def best_pixel_size() -> sa.ColumnElement:
    """The image's pixel size: from the metadata when known, else from the scale bar."""
    return sa.func.coalesce(ins.c.pixel_size_m, ps.c.ocr_pixel_size_m)


def agreement_expr() -> sa.ColumnElement:
    return sa.case(
        (ps.c.ocr_pixel_size_m.is_(None), Agreement.UNREADABLE.value),
        (ps.c.ratio.is_(None), Agreement.NO_METADATA.value),
        (sa.func.abs(ps.c.ratio - 1.0) <= AGREEMENT_TOLERANCE, Agreement.AGREE.value),
        else_=Agreement.DISAGREE.value,
    )


def has_duplicates_expr() -> sa.ColumnElement:
    copies = sa.select(sa.literal(1)).where(files.c.image_hash == im.c.image_hash, files.c.path != im.c.path)
    return copies.exists()


def _sort_column(key: SortKey) -> sa.ColumnElement:
    return {
        SortKey.INGESTED: im.c.ingested_at,
        SortKey.ACQUIRED: ins.c.acquired_at,
        SortKey.PIXEL_SIZE: best_pixel_size(),
        SortKey.PATH: im.c.path,
        SortKey.VENDOR: im.c.vendor,
        SortKey.SCORE: inf.c.top1_score,
        SortKey.RATIO: ps.c.ratio,
    }[key]


_OPTIONAL = ("instrument_meta", "pixel_size", "inference", "thumbnails")


def _joined(model: str | None, *exprs: Any, every: bool = False) -> Any:
    """``images`` LEFT JOINed with the tables ``exprs`` use (``every``: all of them).

    Joining only what a query needs keeps counts, facets and the page's sort cheap: a
    LEFT JOIN on a one-row-per-image table changes no count.
    """
    used: set[str] = set()
    for expr in exprs:
        used |= {t.name for t in sa_util.find_tables(expr, check_columns=True) if isinstance(t, sa.Table)}
    inference_on = sa.and_(inf.c.image_hash == im.c.image_hash, inf.c.model_id == (model or ""))
    ons = {
        "instrument_meta": (ins, ins.c.image_hash == im.c.image_hash),
        "pixel_size": (ps, ps.c.image_hash == im.c.image_hash),
        "inference": (inf, inference_on),
        "thumbnails": (th, th.c.image_hash == im.c.image_hash),
    }
    joined: Any = im
    for name in _OPTIONAL:
        if every or name in used:
            table, on = ons[name]
            joined = joined.outerjoin(table, on)
    return joined


def _facet_columns() -> dict[str, sa.ColumnElement]:
    return {
        "vendor": im.c.vendor,
        "instrument": ins.c.model,
        "detector": ins.c.detector,
        "category": inf.c.top1_label,
        "status": im.c.status,
        "agreement": agreement_expr(),
        "duplicates": sa.case((has_duplicates_expr(), "yes"), else_="no"),
    }


NONE_VALUE = "(none)"  # the facet value of images without a value


def _conditions(query: Query, *, skip: str | None = None) -> list[sa.ColumnElement]:
    """WHERE conditions for ``query`` (without the facet ``skip``: facet counts ignore their own filter)."""
    cond: list[sa.ColumnElement] = []
    columns = _facet_columns()
    for name in MULTI_FACETS:
        chosen = getattr(query, name)
        if not chosen or name == skip:
            continue
        column = columns[name]
        values = [str(v) for v in chosen if v != NONE_VALUE]
        parts = [column.in_(values)] if values else []
        if NONE_VALUE in chosen:
            parts.append(column.is_(None))
        cond.append(sa.or_(*parts))
    if query.q:
        like = [
            im.c.path.contains(query.q, autoescape=True),
            ins.c.model.contains(query.q, autoescape=True),
            ins.c.detector.contains(query.q, autoescape=True),
            ps.c.scale_bar_text.contains(query.q, autoescape=True),
        ]
        cond.append(sa.or_(*like))
    if query.acquired_from is not None:
        cond.append(ins.c.acquired_at >= datetime.combine(query.acquired_from, time()))
    if query.acquired_to is not None:
        cond.append(ins.c.acquired_at < datetime.combine(query.acquired_to + timedelta(days=1), time()))
    if query.pixel_size_min_nm is not None:
        cond.append(best_pixel_size() >= query.pixel_size_min_nm * 1e-9)
    if query.pixel_size_max_nm is not None:
        cond.append(best_pixel_size() <= query.pixel_size_max_nm * 1e-9)
    if query.score_min is not None:
        cond.append(inf.c.top1_score >= query.score_min)
    if query.score_max is not None:
        cond.append(inf.c.top1_score <= query.score_max)
    return cond


def _after(
    column: sa.ColumnElement, order: Order, value: Any, image_hash: str, *, nullable: bool
) -> sa.ColumnElement:
    """Rows after (value, image_hash) in the order ``column IS NULL, column, image_hash`` (asc or desc)."""
    beyond = (lambda a, b: a > b) if order is Order.ASC else (lambda a, b: a < b)
    if value is None:
        return sa.and_(column.is_(None), beyond(im.c.image_hash, image_hash))
    after = [beyond(column, value), sa.and_(column == value, beyond(im.c.image_hash, image_hash))]
    if nullable:
        after.append(column.is_(None))
    return sa.or_(*after)


# Sort keys whose column is never NULL: ordered by (column, image_hash) alone, so an index on
# those two columns serves the page without sorting (ix_images_ingested).
_NOT_NULL_KEYS = (SortKey.INGESTED, SortKey.PATH)


# -- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRow:
    image_hash: str
    path: str
    vendor: str | None
    instrument: str | None
    detector: str | None
    acquired_at: datetime | None
    pixel_size_m: float | None  # metadata
    ocr_pixel_size_m: float | None
    ratio: float | None
    agreement: str
    category: str | None
    score: float | None
    status: str
    width: int | None
    height: int | None
    has_thumbnail: bool
    ingested_at: datetime


@dataclass(frozen=True)
class Page:
    rows: list[ImageRow]
    total: int
    next_cursor: str | None
    model: str | None


def default_model(conn: sa.Connection) -> str | None:
    """The inference model of the latest run that had one (else the model with the most rows)."""
    latest = conn.execute(
        sa.select(runs_t.c.model_id)
        .where(runs_t.c.model_id.is_not(None))
        .order_by(runs_t.c.started_at.desc())
        .limit(1)
    ).scalar()
    if latest:
        return str(latest)
    most = conn.execute(
        sa.select(inf.c.model_id).group_by(inf.c.model_id).order_by(sa.func.count().desc()).limit(1)
    ).scalar()
    return str(most) if most else None


def _with_model(conn: sa.Connection, query: Query) -> Query:
    return query if query.model else replace(query, model=default_model(conn))


def search(conn: sa.Connection, query: Query) -> Page:
    """One page of images matching ``query``, its total and the cursor of the next page."""
    query = _with_model(conn, query)
    sort_col = _sort_column(query.sort)
    nullable = query.sort not in _NOT_NULL_KEYS
    cond = _conditions(query)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(_joined(query.model, *cond)).where(*cond)
    ).scalar_one()
    # 1. the page's keys: only the joins the filters and the sort need
    keys = (
        sa.select(im.c.image_hash, sort_col.label("sort_value"))
        .select_from(_joined(query.model, sort_col, *cond))
        .where(*cond)
    )
    if query.cursor is not None:
        keys = keys.where(_after(sort_col, query.order, *query.cursor, nullable=nullable))
    direction = sa.asc if query.order is Order.ASC else sa.desc
    order_by = [direction(sort_col), direction(im.c.image_hash)]
    keys = keys.order_by(*([sort_col.is_(None)] if nullable else []), *order_by).limit(query.limit + 1)
    found = conn.execute(keys).all()
    more = len(found) > query.limit
    found = found[: query.limit]
    # 2. everything shown for those rows
    columns = [
        im.c.image_hash,
        im.c.path,
        im.c.vendor,
        ins.c.model.label("instrument"),
        ins.c.detector,
        ins.c.acquired_at,
        ins.c.pixel_size_m,
        ps.c.ocr_pixel_size_m,
        ps.c.ratio,
        agreement_expr().label("agreement"),
        inf.c.top1_label.label("category"),
        inf.c.top1_score.label("score"),
        im.c.status,
        im.c.width,
        im.c.height,
        th.c.image_hash.is_not(None).label("has_thumbnail"),
        im.c.ingested_at,
    ]
    by_hash = {}
    if found:
        stmt = (
            sa.select(*columns)
            .select_from(_joined(query.model, every=True))
            .where(im.c.image_hash.in_([r.image_hash for r in found]))
        )
        by_hash = {r.image_hash: _image_row(r._mapping) for r in conn.execute(stmt)}
    rows = [by_hash[r.image_hash] for r in found]
    next_cursor = encode_cursor(found[-1].sort_value, found[-1].image_hash) if more and found else None
    return Page(rows=rows, total=int(total), next_cursor=next_cursor, model=query.model)


def _image_row(mapping: sa.RowMapping) -> ImageRow:
    values = {k: v for k, v in mapping.items() if k != "sort_value"}
    values["has_thumbnail"] = bool(values["has_thumbnail"])
    return ImageRow(**values)


def facets(conn: sa.Connection, query: Query, *, top: int = 30) -> dict[str, list[tuple[str, int]]]:
    """Per facet, the values and their counts under the other filters (most frequent first)."""
    query = _with_model(conn, query)
    out: dict[str, list[tuple[str, int]]] = {}
    for name, column in _facet_columns().items():
        if name == "category" and not query.model:
            out[name] = []
            continue
        value = column.label("value")
        cond = _conditions(query, skip=name)
        stmt = (
            sa.select(value, sa.func.count().label("n"))
            .select_from(_joined(query.model, column, *cond))
            .where(*cond)
            .group_by(value)
            .order_by(sa.func.count().desc(), value)
            .limit(top)
        )
        out[name] = [(NONE_VALUE if v is None else str(v), int(n)) for v, n in conn.execute(stmt)]
    return out


def fingerprint(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes whenever an ingest writes: every write belongs to a run, which heartbeats while it
    writes. Cheap: the small ``ingest_runs`` table and one indexed maximum (no COUNT over images,
    which InnoDB answers by scanning)."""
    return tuple(
        conn.execute(
            sa.select(
                sa.select(sa.func.count()).select_from(runs_t).scalar_subquery(),
                sa.select(sa.func.max(runs_t.c.heartbeat_at)).scalar_subquery(),
                sa.select(sa.func.max(runs_t.c.finished_at)).scalar_subquery(),
                sa.select(sa.func.max(im.c.ingested_at)).scalar_subquery(),
            )
        ).one()
    )


class FacetCache:
    """Facet counts per query, kept while the database's ``fingerprint`` is unchanged (at most
    ``ttl_seconds`` and ``size`` queries): the facets of a large catalogue take seconds, and the
    same few queries (the unfiltered page above all) are asked again and again."""

    def __init__(self, size: int = 256, ttl_seconds: float = 600.0):
        import threading

        self.size, self.ttl = size, ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, tuple, dict]] = {}

    def facets(self, conn: sa.Connection, query: Query) -> dict[str, list[tuple[str, int]]]:
        import time

        key = tuple(query.params(sort=SortKey.INGESTED, order=Order.DESC, limit=DEFAULT_LIMIT))
        stamp = fingerprint(conn)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[1] == stamp and now - hit[0] < self.ttl:
                return hit[2]
        value = facets(conn, query)
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(min(self._entries, key=lambda k: self._entries[k][0]))
            self._entries[key] = (now, stamp, value)
        return value


# -- one image ------------------------------------------------------------------------------------------
@dataclass
class ImageDetail:
    image: dict[str, Any]
    instrument: dict[str, Any] | None
    vendor_dictionary: Any
    exif: dict[str, Any]
    pixel_size: dict[str, Any] | None
    agreement: str
    classifications: list[dict[str, Any]]
    copies: list[dict[str, Any]]
    run: dict[str, Any] | None
    thumbnail: dict[str, Any] | None  # format, width, height, geometry (no bytes)
    extra: dict[str, Any] = field(default_factory=dict)


def _one(conn: sa.Connection, table: sa.Table, image_hash: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(table).where(table.c.image_hash == image_hash)).first()
    return dict(row._mapping) if row is not None else None


def image_detail(conn: sa.Connection, image_hash: str) -> ImageDetail | None:
    image = _one(conn, im, image_hash)
    if image is None:
        return None
    instrument = _one(conn, ins, image_hash)
    raw = None
    if instrument is not None:
        text = instrument.pop("raw", None)
        raw = json.loads(text) if text else None
    exif_row = _one(conn, schema.exif_meta, image_hash) or {}
    exif = {k: v for k, v in exif_row.items() if k != "image_hash" and v is not None}
    pixel = _one(conn, ps, image_hash)
    agreement = Agreement.UNREADABLE.value
    if pixel is not None and pixel["ocr_pixel_size_m"] is not None:
        ratio = pixel["ratio"]
        if ratio is None:
            agreement = Agreement.NO_METADATA.value
        else:
            agreement = (
                Agreement.AGREE if abs(ratio - 1) <= AGREEMENT_TOLERANCE else Agreement.DISAGREE
            ).value
    classifications = []
    for row in conn.execute(sa.select(inf).where(inf.c.image_hash == image_hash).order_by(inf.c.model_id)):
        item = dict(row._mapping)
        scores = json.loads(item["scores"]) if item["scores"] else {}
        item["scores"] = sorted(scores.items(), key=lambda kv: -kv[1])
        classifications.append(item)
    copies = [
        {**dict(r._mapping), "canonical": r.path == image["path"]}
        for r in conn.execute(
            sa.select(
                files.c.path,
                files.c.size,
                files.c.mtime_ns,
                files.c.status,
                files.c.error,
                files.c.sidecars,
                files.c.run_id,
                files.c.ingested_at,
            )
            .where(files.c.image_hash == image_hash)
            .order_by(files.c.path)
        )
    ]
    for copy in copies:
        copy["sidecars"] = json.loads(copy["sidecars"]) if copy["sidecars"] else []
    run = conn.execute(sa.select(runs_t).where(runs_t.c.id == image["run_id"])).first()
    thumb = conn.execute(
        sa.select(th.c.format, th.c.width, th.c.height, th.c.geometry).where(th.c.image_hash == image_hash)
    ).first()
    thumbnail = None
    if thumb is not None:
        thumbnail = dict(thumb._mapping)
        thumbnail["geometry"] = json.loads(thumbnail["geometry"]) if thumbnail["geometry"] else None
    run_dict = None
    if run is not None:
        run_dict = dict(run._mapping)
        run_dict.pop("summary", None)
    return ImageDetail(
        image=image,
        instrument=instrument,
        vendor_dictionary=raw,
        exif=exif,
        pixel_size=pixel,
        agreement=agreement,
        classifications=classifications,
        copies=copies,
        run=run_dict,
        thumbnail=thumbnail,
    )


def thumbnail_bytes(conn: sa.Connection, image_hash: str) -> tuple[bytes, str] | None:
    row = conn.execute(sa.select(th.c.data, th.c.format).where(th.c.image_hash == image_hash)).first()
    return (bytes(row.data), str(row.format)) if row is not None else None


# -- runs ----------------------------------------------------------------------------------------------
def failures_by_reason(conn: sa.Connection, run_id: str | None = None) -> list[tuple[str, int]]:
    """Failed files by reason class (``vocab.reason_class``), most frequent first (of one run, or all)."""
    stmt = sa.select(files.c.error, sa.func.count()).where(files.c.status == "failed").group_by(files.c.error)
    if run_id is not None:
        stmt = stmt.where(files.c.run_id == run_id)
    counts: dict[str, int] = {}
    for error, n in conn.execute(stmt):
        key = reason_class(error)
        counts[key] = counts.get(key, 0) + int(n)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def run_list(conn: sa.Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """The latest runs with their stage seconds (thumbnails included, from the summary) and failures."""
    out = []
    stmt = sa.select(runs_t).order_by(runs_t.c.started_at.desc(), runs_t.c.id).limit(limit)
    for row in conn.execute(stmt).all():
        run = dict(row._mapping)
        summary = _json_object(run.pop("summary", None))
        stages = {s.value: run.pop(f"{s}_seconds", None) for s in Stage}
        for name, seconds in (summary.get("stage_seconds") or {}).items():
            if stages.get(name) is None and isinstance(seconds, int | float):
                stages[name] = float(seconds)
        run["stage_seconds"] = {k: v for k, v in stages.items() if v is not None}
        processed = run.get("processed") or 0
        seconds = run.get("seconds")
        run["images_per_second"] = processed / seconds if seconds else None
        run["failures_by_reason"] = failures_by_reason(conn, run["id"])
        out.append(run)
    return out


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
