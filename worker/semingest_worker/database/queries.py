"""Read-side queries the driver and the CLI need (what is ingested already, progress, summaries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from semingest_api.stages import Stage

from ..identity import display_path
from ..provenance import reader_version
from . import schema

f = schema.image_files
im = schema.images


def under_folder(root: str) -> sa.ColumnElement[bool]:
    """``image_files.path`` is under the folder ``root``: a range on ``ix_image_files_path``.

    ``'R/' <= path < 'R0'`` holds exactly for the paths that start with ``R/`` ('0' follows '/'),
    and, unlike ``LIKE 'R/%'``, every backend reads it from the index (SQLite's LIKE is case
    insensitive and never uses an index; MariaDB's prefix index serves a range). The ``LIKE``
    stays as the exact test on the rows the range returns.
    """
    prefix = display_path(root.rstrip("/") + "/")
    upper = prefix[:-1] + chr(ord("/") + 1)
    return sa.and_(f.c.path >= prefix, f.c.path < upper, f.c.path.startswith(prefix, autoescape=True))


def known_files(
    conn: sa.Connection, root: str, model_id: str | None = None, reprocess: Sequence[str] = ()
) -> dict[str, tuple[int, int, str | None]]:
    """``path_key -> (size, mtime_ns, sidecar_stamp)`` of the files under ``root`` that need no new ingest.

    A file counts as ingested when it has a row. With a model, a decoded file also needs an
    ``inference`` row (a result or a recorded error) for that model: a run with a new model
    classifies the images ingested before it. ``reprocess`` (stage names): an image's canonical
    file whose rows of one of these stages came from another reader version than the current
    one (``provenance``) counts as not ingested, so the run re-extracts it; duplicates and images
    whose rows are current are left alone.
    """
    stmt = sa.select(f.c.path_key, f.c.size, f.c.mtime_ns, f.c.sidecar_stamp).where(
        under_folder(root), f.c.status != "missing"
    )
    if model_id is not None:
        inf = schema.inference
        has_row = (
            sa.select(sa.literal(1))
            .where(inf.c.image_hash == f.c.image_hash, inf.c.model_id == model_id)
            .exists()
        )
        stmt = stmt.where(sa.or_(f.c.image_hash.is_(None), has_row))
    for stage in reprocess:
        stmt = stmt.where(~_outdated(stage))
    return {key: (int(size), int(mtime), stamp) for key, size, mtime, stamp in conn.execute(stmt)}


def _outdated(stage: str) -> sa.ColumnElement[bool]:
    """The file is its image's canonical file and a row of ``stage`` has another reader version."""
    current = reader_version(stage)
    checks = []
    for table in schema.READER_STAGE_TABLES[Stage(stage)]:
        checks.append(
            sa.select(sa.literal(1))
            .where(
                table.c.image_hash == f.c.image_hash,
                sa.or_(table.c.reader_version.is_(None), table.c.reader_version != current),
            )
            .exists()
        )
    canonical = (
        sa.select(sa.literal(1)).where(im.c.image_hash == f.c.image_hash, im.c.path == f.c.path).exists()
    )
    return sa.and_(canonical, sa.or_(*checks))


def run_file_counts(conn: sa.Connection, run_id: str) -> tuple[int, int]:
    """(files written by this run so far, of which failed)."""
    stmt = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((f.c.status == "failed", 1), else_=0)), 0),
    ).where(f.c.run_id == run_id)
    total, failed = conn.execute(stmt).one()
    return int(total), int(failed)


def count_duplicates(conn: sa.Connection, run_id: str | None = None) -> int:
    """Files (of ``run_id``, or all) whose pixels are an image stored under another, canonical path."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(f.join(im, f.c.image_hash == im.c.image_hash))
        .where(f.c.path != im.c.path, f.c.status != "missing")
    )
    if run_id is not None:
        stmt = stmt.where(f.c.run_id == run_id)
    return int(conn.execute(stmt).scalar_one())


def prune_orphans(conn: sa.Connection) -> int:
    """Delete images no file points at any more (a file re-ingested with other pixels), with their rows.

    Returns the number of ``images`` rows deleted.
    """
    referenced = sa.select(sa.literal(1)).where(f.c.image_hash == im.c.image_hash).exists()
    deleted = conn.execute(sa.delete(im).where(~referenced)).rowcount or 0
    for table in schema.IMAGE_TABLES:
        still_there = sa.select(sa.literal(1)).where(im.c.image_hash == table.c.image_hash).exists()
        conn.execute(sa.delete(table).where(~still_there))
    return int(deleted)


def table_counts(conn: sa.Connection) -> dict[str, int]:
    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for t in schema.ALL_TABLES
    }


def database_summary(conn: sa.Connection, *, last_runs: int = 5) -> dict[str, Any]:
    """Images ok/failed, files, duplicates, per-vendor counts and the last runs (for ``semingest summary``)."""
    ok_failed: dict[str, int] = dict(
        conn.execute(sa.select(im.c.status, sa.func.count()).group_by(im.c.status)).all()
    )
    file_status: dict[str, int] = dict(
        conn.execute(sa.select(f.c.status, sa.func.count()).group_by(f.c.status)).all()
    )
    undecodable = int(conn.execute(sa.select(sa.func.count()).where(f.c.image_hash.is_(None))).scalar_one())
    ps = schema.pixel_size
    ins = schema.instrument_meta
    vendor = sa.func.coalesce(im.c.vendor, "unknown")
    per_vendor_stmt = (
        sa.select(
            vendor.label("vendor"),
            sa.func.count().label("images"),
            sa.func.count(ins.c.pixel_size_m).label("with_metadata_pixel_size"),
            sa.func.count(ps.c.ocr_pixel_size_m).label("with_scale_bar"),
        )
        .select_from(
            im.outerjoin(ins, ins.c.image_hash == im.c.image_hash).outerjoin(
                ps, ps.c.image_hash == im.c.image_hash
            )
        )
        .group_by(vendor)
        .order_by(vendor)
    )
    per_vendor = {
        row.vendor: {
            "images": int(row.images),
            "with_metadata_pixel_size": int(row.with_metadata_pixel_size),
            "with_scale_bar": int(row.with_scale_bar),
        }
        for row in conn.execute(per_vendor_stmt)
    }
    runs = schema.ingest_runs
    run_rows = conn.execute(
        sa.select(
            runs.c.id,
            runs.c.source,
            runs.c.started_at,
            runs.c.finished_at,
            runs.c.status,
            runs.c.discovered,
            runs.c.skipped,
            runs.c.processed,
            runs.c.failed,
            runs.c.duplicates,
            runs.c.seconds,
            runs.c.error,
        )
        .order_by(runs.c.started_at.desc(), runs.c.id)
        .limit(last_runs)
    ).all()
    inference_models: dict[str, int] = dict(
        conn.execute(
            sa.select(schema.inference.c.model_id, sa.func.count()).group_by(schema.inference.c.model_id)
        ).all()
    )
    return {
        "images": {"ok": int(ok_failed.get("ok", 0)), "failed": int(ok_failed.get("failed", 0))},
        "files": {
            "total": int(sum(file_status.values())),
            "failed": int(file_status.get("failed", 0)),
            "undecodable": undecodable,
        },
        "duplicates": count_duplicates(conn),
        "per_vendor": per_vendor,
        "inference": {str(k): int(v) for k, v in inference_models.items()},
        "runs": [dict(row._mapping) for row in run_rows],
    }


# Columns that say when and by which run a row was written, not what it holds.
VOLATILE_COLUMNS = frozenset({"run_id", "ingested_at"})


def content_digests(conn: sa.Connection) -> dict[str, tuple[int, str]]:
    """``table -> (rows, sha256 of the rows' content)`` for the image tables, in key order.

    Run ids and write times are left out, so two databases that hold the same data (one written
    in an interrupted run and its re-run, the other in one go) have the same digests.
    """
    import hashlib
    import json

    out: dict[str, tuple[int, str]] = {}
    for table in schema.ALL_TABLES:
        if table in (schema.ingest_runs, schema.ocr_labels):  # the run log and a cache, not content
            continue
        columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
        order = [c for c in table.primary_key]
        digest = hashlib.sha256()
        count = 0
        for row in conn.execute(sa.select(*columns).order_by(*order)):
            digest.update(json.dumps([repr(v) for v in row], ensure_ascii=False).encode())
            count += 1
        out[table.name] = (count, digest.hexdigest())
    return out
