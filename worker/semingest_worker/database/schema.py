"""The database schema (SQLAlchemy 2 Core): one definition for MySQL/MariaDB and SQLite.

Tables and keys (the users' queries and the other stages rely on these names):

* ``image_files``: every file seen, keyed by ``path_key`` (SHA-256 of the path's bytes, so any
  path, however long, whatever its bytes or the server's collation, has exactly one row) and
  unique on it; ``path`` is the readable path. ``image_hash`` points at ``images``; it is NULL for
  a file that could not be decoded (it has no pixels to hash): such a file is recorded here with
  ``status`` 'failed' and its ``error``, and when it is fixed (new size or mtime) the next run
  re-ingests it and overwrites this row. ``status``/``error`` describe the file's ingest outcome.
* ``images``: one row per distinct decoded image, keyed by ``image_hash`` (hex SHA-256 of the
  canonical pixels): duplicates are the extra ``image_files`` rows. ``path`` is the image's
  canonical file, the best of its files: first by ``canonical_rank`` (a file read without
  problems and with vendor metadata beats a re-saved copy that lost its tags or sidecar), then
  the smallest path (code-point order). So the row does not depend on which copy a run happened
  to write first, and the metadata tables hold that file's values. ``status`` is 'failed' when the image's metadata had problems (``error`` lists
  them); everything that could be read is still stored.
* ``exif_meta`` (one typed column per standard tag, from ``metadata.exif.EXIF_COLUMNS``),
  ``instrument_meta``, ``pixel_size``: keyed by ``image_hash``.
* ``inference``: keyed by (``image_hash``, ``model_id``); a row with a NULL label and an
  ``error`` records an image the model could not classify.
* ``thumbnails``: keyed by ``image_hash``: a small JPEG preview (older rows: WebP) of the
  canonical file and the scale-bar geometry (data-bar rows, bar box and ends, label box, in
  pixels of the image), so the web catalogue needs no access to the image files.
* ``ingest_runs``: one row per run.

There are no foreign-key constraints: rows are written in bulk by many writers at once and
re-written idempotently, and the references are by content hash. Floats are DOUBLE; JSON
columns hold JSON text (LONGTEXT on MariaDB); MySQL tables are utf8mb4 with binary collation so
text round-trips byte for byte and compares by code point, as on SQLite.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from semingest_api.stages import Stage

from ..metadata.exif import EXIF_COLUMNS
from ..records import INSTRUMENT_FIELDS, FieldKind, FieldSpec

metadata = sa.MetaData()

_MYSQL_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}

HASH = sa.String(64)  # hex SHA-256
# Long text: TEXT is 64 KiB on MySQL, too small for vendor dictionaries and some EXIF text.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
# Paths: up to PATH_MAX (4096 bytes) on Linux; not indexed by value (path_key is the key).
PATH = sa.String(4096)
JSON_TEXT = LONG_TEXT  # JSON serialised by the writer (finite floats only), queryable with JSON_* functions
TIMESTAMP = sa.DateTime()  # naive UTC
SHORT = sa.String(255)
VERSION = sa.String(32)


def _semingest_version() -> sa.Column:
    return sa.Column("semingest_version", VERSION, comment="semingest release that wrote the row")


def _reader_version() -> sa.Column:
    return sa.Column("reader_version", VERSION, comment="version of the stage's reader")


image_files = sa.Table(
    "image_files",
    metadata,
    sa.Column("path_key", HASH, primary_key=True, comment="sha256 of the path's bytes"),
    sa.Column("path", PATH, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("image_hash", HASH, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", LONG_TEXT),
    sa.Column("sidecars", JSON_TEXT, comment="JSON list of sidecar files ingested with the image"),
    sa.Column("sidecar_stamp", HASH, comment="sha256 of the sidecars' paths, sizes and mtimes"),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("ingested_at", TIMESTAMP, nullable=False),
    _semingest_version(),
    sa.Index("ix_image_files_image_hash", "image_hash"),
    sa.Index("ix_image_files_run_id", "run_id", "status"),
    # The skip check and the vanished-file check read the files under a source folder as a range
    # on this index (see ``queries.under_folder``); MySQL/MariaDB index the first 255 characters.
    sa.Index("ix_image_files_path", "path", mysql_length=255, mariadb_length=255),
    **_MYSQL_OPTS,
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    sa.Column("path", PATH, nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("mode", sa.String(32)),
    sa.Column("format", sa.String(16)),
    sa.Column("page_count", sa.Integer),
    sa.Column("vendor", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", LONG_TEXT),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("ingested_at", TIMESTAMP, nullable=False),
    sa.Column(
        "canonical_rank",
        sa.SmallInteger,
        nullable=False,
        comment="0 ok with vendor metadata, 1 ok without, 2 failed with, 3 failed without: the best file wins",
    ),
    _semingest_version(),
    sa.Index("ix_images_vendor", "vendor"),
    sa.Index("ix_images_status", "status"),
    sa.Index("ix_images_ingested", "ingested_at", "image_hash"),  # the catalogue's default order
    **_MYSQL_OPTS,
)


def _exif_type(kind: str) -> sa.types.TypeEngine:
    if kind == "int":
        return sa.BigInteger()
    if kind == "float":
        return sa.Double()
    return LONG_TEXT


exif_meta = sa.Table(
    "exif_meta",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    *(sa.Column(c.name, _exif_type(c.kind), comment=f"tag {c.tag}") for c in EXIF_COLUMNS),
    _semingest_version(),
    _reader_version(),
    **_MYSQL_OPTS,
)
EXIF_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in EXIF_COLUMNS)


def _instrument_type(spec: FieldSpec) -> sa.types.TypeEngine:
    if spec.kind is FieldKind.FLOAT:
        return sa.Double()
    if spec.kind is FieldKind.INT:
        return sa.Integer()
    if spec.kind is FieldKind.DATETIME:
        return TIMESTAMP
    if spec.kind is FieldKind.JSON:
        return JSON_TEXT
    return LONG_TEXT if spec.max_chars is None else sa.String(spec.max_chars)


# One column per InstrumentMeta field (records.INSTRUMENT_FIELDS), in its order.
instrument_meta = sa.Table(
    "instrument_meta",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    *(
        sa.Column(name, _instrument_type(spec), comment=spec.comment)
        for name, spec in INSTRUMENT_FIELDS.items()
    ),
    _semingest_version(),
    _reader_version(),
    sa.Index("ix_instrument_meta_vendor", "vendor"),
    # the catalogue's facets and sort orders (keyset pagination: value, then image_hash)
    sa.Index("ix_instrument_meta_model", "model"),
    sa.Index("ix_instrument_meta_detector", "detector"),
    sa.Index("ix_instrument_meta_acquired", "acquired_at", "image_hash"),
    sa.Index("ix_instrument_meta_pixel_size", "pixel_size_m", "image_hash"),
    **_MYSQL_OPTS,
)

pixel_size = sa.Table(
    "pixel_size",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    sa.Column("metadata_pixel_size_m", sa.Double),
    sa.Column("ocr_pixel_size_m", sa.Double),
    sa.Column("scale_bar_text", SHORT),
    sa.Column("scale_bar_value", sa.Double),
    sa.Column("scale_bar_unit", sa.String(8)),
    sa.Column("scale_bar_px", sa.Double),
    sa.Column("scale_bar_px_uncertainty", sa.Double, comment="standard uncertainty of scale_bar_px (px)"),
    sa.Column("ratio", sa.Double, comment="ocr_pixel_size_m / metadata_pixel_size_m"),
    sa.Column("printed_field", SHORT, comment="a field width or pixel size printed in the data bar"),
    sa.Column("printed_pixel_size_m", sa.Double, comment="that field's pixel size (width / image width)"),
    sa.Column("believed_pixel_size_m", sa.Double, comment="the pixel size to use"),
    sa.Column("believed_source", sa.String(16), comment="metadata, scale_bar or printed_field"),
    sa.Column("believed_reason", LONG_TEXT, comment="why that one (agreement, disagreement, resize)"),
    sa.Column("style", sa.String(32), comment="scale-bar detector that matched"),
    sa.Column("reason", LONG_TEXT, comment="why no OCR pixel size was found"),
    _semingest_version(),
    _reader_version(),
    sa.Index("ix_pixel_size_ratio", "ratio"),
    **_MYSQL_OPTS,
)

inference = sa.Table(
    "inference",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    sa.Column("model_id", sa.String(128), primary_key=True),
    sa.Column("top1_label", SHORT),
    sa.Column("top1_score", sa.Double),
    sa.Column("scores", JSON_TEXT, comment="JSON object label -> score"),
    sa.Column("error", LONG_TEXT, comment="why the image could not be classified"),
    _semingest_version(),
    _reader_version(),
    sa.Index("ix_inference_model_label", "model_id", "top1_label"),
    **_MYSQL_OPTS,
)

# Thumbnails: MEDIUMBLOB on MySQL (BLOB stops at 64 KiB); a 256 px JPEG is ~10-20 KB (older rows: WebP).
BLOB = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

thumbnails = sa.Table(
    "thumbnails",
    metadata,
    sa.Column("image_hash", HASH, primary_key=True),
    sa.Column("format", sa.String(8), nullable=False, comment="webp or jpeg"),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", BLOB, nullable=False),
    sa.Column(
        "geometry",
        JSON_TEXT,
        comment="scale-bar geometry in pixels of the image: databar_rows, bar_box, bar_ends, label_box",
    ),
    _semingest_version(),
    **_MYSQL_OPTS,
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("source", PATH, nullable=False),
    sa.Column("started_at", TIMESTAMP, nullable=False),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("heartbeat_at", TIMESTAMP, comment="last progress update by the driver"),
    sa.Column("status", sa.String(16), nullable=False, comment="running, succeeded or failed"),
    sa.Column("discovered", sa.BigInteger, nullable=False, default=0),
    sa.Column("skipped", sa.BigInteger, nullable=False, default=0),
    sa.Column("processed", sa.BigInteger, nullable=False, default=0),
    sa.Column("failed", sa.BigInteger, nullable=False, default=0),
    sa.Column("duplicates", sa.BigInteger, nullable=False, default=0),
    sa.Column("seconds", sa.Double),
    *(sa.Column(f"{stage}_seconds", sa.Double) for stage in Stage),
    sa.Column("model_id", sa.String(128)),
    sa.Column("error", LONG_TEXT),
    sa.Column("driver_host", SHORT),
    sa.Column("driver_pid", sa.Integer),
    sa.Column("summary", JSON_TEXT, comment="the run's full JSON summary (per-vendor counts, ...)"),
    _semingest_version(),
    sa.Column("parameters", JSON_TEXT, comment="the run's parameters (JSON object)"),
    sa.Column("reader_versions", JSON_TEXT, comment="stage -> reader version (JSON object)"),
    sa.Index("ix_ingest_runs_started", "started_at"),
    **_MYSQL_OPTS,
)

# Scale-bar label readings, kept across runs and executors (see ``label_store``): a crop read once
# is never read again. ``crop_key`` names the reader (engine, model, settings) and the crop's pixels,
# so a stored text is what a fresh reading of that crop gives.
ocr_labels = sa.Table(
    "ocr_labels",
    metadata,
    sa.Column("crop_key", HASH, primary_key=True, comment="hex digest of the reader and the crop"),
    sa.Column("text", SHORT, nullable=False),
    sa.Column("confidence", sa.Integer, comment="the reader's confidence 0..100 (NULL: not given)"),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    **_MYSQL_OPTS,
)

ALL_TABLES = (
    image_files,
    images,
    exif_meta,
    instrument_meta,
    pixel_size,
    inference,
    thumbnails,
    ingest_runs,
    ocr_labels,
)
# Tables keyed by image_hash that hold the canonical file's values.
IMAGE_TABLES = (exif_meta, instrument_meta, pixel_size, inference, thumbnails)


# The stage whose reader wrote each table's rows (``reader_version``).
READER_STAGE_TABLES: dict[Stage, tuple[sa.Table, ...]] = {
    Stage.METADATA: (exif_meta, instrument_meta),
    Stage.SCALEBAR: (pixel_size,),
    Stage.INFERENCE: (inference,),
}


def create_schema(engine: sa.Engine) -> None:
    """Bring the database to the newest schema through the migrations (idempotent; see ``migrate``)."""
    from .migrate import upgrade

    upgrade(engine)
