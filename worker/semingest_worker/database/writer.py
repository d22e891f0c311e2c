"""Bulk, idempotent writes of a batch of image results: one connection, one transaction per batch.

``ImageWriter.write(results)`` writes a whole batch in a single transaction: one executemany
upsert per table (``INSERT ... ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB, ``INSERT ... ON
CONFLICT DO UPDATE`` on SQLite), all values as bound parameters. Writing the same batch again
(a retried Spark task, a re-run) leaves the same rows: keys are the path (``image_files``) and
the pixel hash (everything else).

Duplicates: ``images.path`` is the best of the files with those pixels (by ``canonical_rank``,
then the smallest path; decided by the upsert itself, so concurrent writers agree), and the
metadata tables are written only for the file that is the image's canonical path after that
upsert, inside the same transaction. The final
rows therefore do not depend on the order in which partitions ran.

Failures: a transient error (connection lost, server down, deadlock, SQLite locked) rolls the
transaction back and retries the whole batch with back-off until the retry deadline, then raises
``DatabaseUnavailableError``. A value the database rejects fails only its own image: the batch is
split in halves until the offending image is isolated, the others are written, and that image is
recorded in ``image_files`` as failed with the database's reason. A record larger than the
server accepts in one packet (MySQL/MariaDB ``max_allowed_packet``, read once per connection) is
refused the same way before it is sent: sending it would make the server drop the connection,
which looks like an outage. (Values are bounded in ``rows``, so this takes a server configured
with a very small packet.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ..records import ImageResult
from . import canonical, schema
from .engine import create_engine
from .retry import call_with_retry, describe, is_data_error
from .rows import ImageRows, build_rows, now_utc, rejected_file_row

log = logging.getLogger(__name__)

_IN_CHUNK = 900  # bound parameters per IN (...) lookup


@dataclass
class WriteOutcome:
    """What one ``write`` did."""

    files: int = 0  # image_files rows written (including rejected ones)
    # position in the written batch -> why the database refused that result
    rejected: dict[int, str] = field(default_factory=dict)
    retries: int = 0
    seconds: float = 0.0


class ImageWriter:
    """Writes batches of ``ImageResult`` over ONE database connection (opened on first use).

    Use as a context manager (or call ``close``). Not thread-safe: one writer per partition.
    """

    def __init__(
        self,
        url: str,
        *,
        model_id: str | None = None,
        retry_deadline_seconds: float = 300.0,
        engine: sa.Engine | None = None,
    ):
        self._engine = engine or create_engine(url, writer=True)
        self._owns_engine = engine is None
        self._conn: sa.Connection | None = None
        self.model_id = model_id
        self.retry_deadline_seconds = retry_deadline_seconds
        self._statements: dict[str, Any] = {}
        self.connections_opened = 0
        self._max_packet: int | None = None  # MySQL/MariaDB max_allowed_packet, once known

    # -- connection ---------------------------------------------------------------------------
    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
            self.connections_opened += 1
            if self._conn.dialect.name in ("mysql", "mariadb"):
                self._max_packet = int(
                    self._conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar() or 0
                )
                self._conn.rollback()
        return self._conn

    def shared_connection(self) -> sa.Connection:
        """The writer's connection, for short transactions of others between the writer's own
        (the partition's label store): one connection per partition, not two."""
        return self._connection()

    def _drop_connection(self, *_args: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:  # noqa: BLE001,S110 - a dead connection may fail to close; it is gone either way
                pass
            try:
                conn.close()
            except Exception:  # noqa: BLE001,S110
                pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a connection to a vanished server
                log.debug("closing the writer's connection failed", exc_info=True)
            self._conn = None
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> ImageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def write(self, results: Sequence[ImageResult]) -> WriteOutcome:
        """Write ``results`` (one transaction; retried as a whole; bad rows isolated)."""
        started = time.perf_counter()
        outcome = WriteOutcome()
        if results:
            written_at = now_utc()
            rows = [build_rows(r, model_id=self.model_id, written_at=written_at) for r in results]
            self._write_isolating(list(enumerate(rows)), outcome)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _write_isolating(self, batch: list[tuple[int, ImageRows]], outcome: WriteOutcome) -> None:
        """Write ``batch`` (position, rows); when the database refuses a value, halve it until the
        refused result is alone, and record that one as failed."""
        if self._max_packet is None and self._engine.dialect.name in ("mysql", "mariadb"):

            def counted(_exc: BaseException, _delay: float) -> None:  # a retry like a write's
                outcome.retries += 1

            call_with_retry(
                self._connection,
                deadline_seconds=self.retry_deadline_seconds,
                what="connecting",
                on_retry=counted,
            )
        if self._max_packet:
            fitting = [(i, r) for i, r in batch if not self._too_large(i, r, outcome)]
            if len(fitting) < len(batch):
                batch = fitting
                if not batch:
                    return
        try:
            self._transaction([rows for _position, rows in batch], outcome)
            outcome.files += len(batch)
            return
        except Exception as exc:
            if not is_data_error(exc):
                raise
            error = exc
        if len(batch) > 1:
            half = len(batch) // 2
            self._write_isolating(batch[:half], outcome)
            self._write_isolating(batch[half:], outcome)
            return
        position, bad = batch[0]
        self._reject(position, bad, f"database rejected the record: {describe(error)}", outcome)

    def _too_large(self, position: int, rows: ImageRows, outcome: WriteOutcome) -> bool:
        """Refuse (and record) a record that cannot travel in one packet."""
        size = record_bytes(rows)
        limit = int((self._max_packet or 0) * 0.9)  # room for the statement around the values
        if not limit or size <= limit:
            return False
        self._reject(
            position,
            rows,
            f"the record is {size} bytes, more than the database server accepts in one packet "
            f"(max_allowed_packet {self._max_packet} bytes)",
            outcome,
        )
        return True

    def _reject(self, position: int, bad: ImageRows, reason: str, outcome: WriteOutcome) -> None:
        log.warning("%s: %s", bad.path, reason)
        fallback = ImageRows(path=bad.path, image_file=rejected_file_row(bad, reason))
        try:
            self._transaction([fallback], outcome)
            outcome.files += 1
        except Exception as exc:
            if not is_data_error(exc):
                raise
            reason = f"{reason}; and its failure record too: {describe(exc)}"
        outcome.rejected[position] = reason

    def _transaction(self, rows: list[ImageRows], outcome: WriteOutcome) -> None:
        def attempt() -> None:
            conn = self._connection()
            try:
                with conn.begin():
                    self._write_rows(conn, rows)
            except Exception:
                if conn.invalidated:
                    self._drop_connection()
                raise

        def on_retry(exc: BaseException, delay: float) -> None:
            outcome.retries += 1
            log.warning("database write failed (%s); retrying in %.1f s", describe(exc), delay)
            self._drop_connection()

        call_with_retry(
            attempt,
            deadline_seconds=self.retry_deadline_seconds,
            what=f"writing a batch of {len(rows)} images",
            on_retry=on_retry,
        )

    def _write_rows(self, conn: sa.Connection, rows: list[ImageRows]) -> None:
        dialect = conn.dialect.name
        files = sorted((r.image_file for r in rows), key=lambda row: row["path_key"])
        before = canonical.previous_hashes(conn, [row["path_key"] for row in files])
        conn.execute(self._upsert(dialect, schema.image_files), files)
        # Files that now hold other pixels: their old image may have lost its canonical file.
        lost = {h for row in files if (h := before.get(row["path_key"])) and h != row["image_hash"]}
        self._write_images(conn, dialect, [(r, r.image) for r in rows if r.image is not None])
        if lost:
            canonical.reelect(conn, lost)

    def _write_images(
        self, conn: sa.Connection, dialect: str, decoded: list[tuple[ImageRows, dict[str, Any]]]
    ) -> None:
        """The ``images`` rows (``decoded``: each result's rows with its image row), then the
        metadata rows of the results whose file is their image's canonical file."""
        if not decoded:
            return
        image_rows = sorted(
            (image for _r, image in decoded), key=lambda row: (row["image_hash"], row["path"])
        )
        conn.execute(self._canonical_upsert(dialect), image_rows)
        canonical_path = _canonical_paths(conn, {image["image_hash"] for _r, image in decoded})
        per_table: dict[str, list[dict[str, Any]]] = {}
        for r, image in decoded:
            if canonical_path.get(image["image_hash"]) != r.path:
                continue  # a duplicate of an image whose canonical file is another path
            for table_name, row in r.dependents.items():
                per_table.setdefault(table_name, []).append(row)
        for table_name, table_rows in per_table.items():
            table = schema.metadata.tables[table_name]
            keys = [c.name for c in table.primary_key]
            table_rows.sort(key=lambda row: tuple(row[k] for k in keys))
            conn.execute(self._upsert(dialect, table), table_rows)

    # -- statements (built once per writer) -----------------------------------------------------
    def _upsert(self, dialect: str, table: sa.Table) -> Any:
        key = f"{dialect}:{table.name}"
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = upsert_statement(dialect, table)
            self._statements[key] = stmt
        return stmt

    def _canonical_upsert(self, dialect: str) -> Any:
        key = f"{dialect}:images:canonical"
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = canonical_images_upsert(dialect)
            self._statements[key] = stmt
        return stmt


def record_bytes(rows: ImageRows) -> int:
    """About how many bytes a record's values take on the wire (UTF-8 text, 8 per number)."""
    total = 0
    for row in (rows.image_file, rows.image or {}, *rows.dependents.values()):
        for value in row.values():
            if isinstance(value, str):
                total += len(value.encode("utf-8", "surrogatepass"))
            elif value is not None:
                total += 8
    return total


def upsert_statement(dialect: str, table: sa.Table, update: Iterable[str] | None = None) -> Any:
    """``INSERT ... ON CONFLICT/DUPLICATE KEY UPDATE`` every non-key column (or ``update``)."""
    keys = [c.name for c in table.primary_key]
    columns = list(update) if update is not None else [c.name for c in table.columns if c.name not in keys]
    if dialect == "sqlite":
        lite = sqlite_dialect.insert(table)
        return lite.on_conflict_do_update(index_elements=keys, set_={c: lite.excluded[c] for c in columns})
    if dialect in ("mysql", "mariadb"):
        my = mysql_dialect.insert(table)
        return my.on_duplicate_key_update({c: my.inserted[c] for c in columns})
    raise ValueError(f"unsupported database dialect {dialect!r}")


def insert_ignore_statement(dialect: str, table: sa.Table) -> Any:
    """``INSERT`` that keeps an existing row with the same key (a no-op update on MySQL/MariaDB:
    ``INSERT IGNORE`` would also turn data errors into warnings)."""
    if dialect == "sqlite":
        return sqlite_dialect.insert(table).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        key = table.primary_key.columns.values()[0].name
        ins = mysql_dialect.insert(table)
        return ins.on_duplicate_key_update({key: table.c[key]})
    raise ValueError(f"unsupported database dialect {dialect!r}")


def _canonical_wins(new: Any, table: sa.Table) -> Any:
    """The written file becomes (or stays) canonical: it is the canonical file itself (re-ingested),
    or it ranks better, or it ranks the same with a smaller path."""
    old = table.c
    return sa.or_(
        new.path == old.path,
        new.canonical_rank < old.canonical_rank,
        sa.and_(new.canonical_rank == old.canonical_rank, new.path < old.path),
    )


def canonical_images_upsert(dialect: str) -> Any:
    """Upsert ``images`` so the row holds the values of the image's best file (see ``schema``)."""
    table = schema.images
    columns = [c.name for c in table.columns if c.name != "image_hash"]
    if dialect == "sqlite":
        lite = sqlite_dialect.insert(table)
        return lite.on_conflict_do_update(
            index_elements=["image_hash"],
            set_={c: lite.excluded[c] for c in columns},
            where=_canonical_wins(lite.excluded, table),
        )
    if dialect in ("mysql", "mariadb"):
        my = mysql_dialect.insert(table)
        wins = _canonical_wins(my.inserted, table)
        # MySQL evaluates the assignments left to right and later ones see earlier results, so
        # ``path`` and ``canonical_rank`` go last, in this order: every other column compares
        # against the old row; ``path`` too; then ``canonical_rank`` sees the new path, which
        # equals the written one exactly when the written file won (the first clause).
        ordered = [c for c in columns if c not in ("path", "canonical_rank")] + ["path", "canonical_rank"]
        return my.on_duplicate_key_update(
            [(c, sa.case((wins, my.inserted[c]), else_=table.c[c])) for c in ordered]
        )
    raise ValueError(f"unsupported database dialect {dialect!r}")


def _canonical_paths(conn: sa.Connection, hashes: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    ordered = sorted(hashes)
    table = schema.images
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i : i + _IN_CHUNK]
        stmt = sa.select(table.c.image_hash, table.c.path).where(table.c.image_hash.in_(chunk))
        out.update({h: p for h, p in conn.execute(stmt)})
    return out
