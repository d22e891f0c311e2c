"""Scale-bar label readings kept across runs and executors: the ``ocr_labels`` table.

A facility's images repeat the same few labels (magnifications), and reading a label costs
Tesseract milliseconds where looking it up costs a fraction of one. The per-process LRU of the
OCR starts empty in every run and every Python worker; this store does not: a crop read once, by
any executor of any run, is looked up by every later one.

The OCR sees two functions and nothing of the database:

* ``lookup(reader, digest)``: the stored reading of that crop by that reader, or None;
* ``remember(reader, digest, label)``: keep a fresh reading.

``reader`` names what produced the text (engine, version, model, settings) and ``digest`` the
crop's pixels (and recognition kind), so a stored text is exactly what a fresh reading of that
crop by that reader gives; a new Tesseract or new settings read everything afresh. Without an
installed store (a unit test, the OCR alone) both are no-ops. ``process_partition`` installs a
``DatabaseLabelStore`` for its partition (``installed``).

A store failure (database down, table missing) never fails an image: the store is switched off
for the rest of the partition and the labels are read by Tesseract as before.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

FLUSH_EVERY = 32  # new readings written per INSERT
FLUSH_SECONDS = 0.25  # ... or when the oldest has waited this long (executors see it sooner)
SNAPSHOT_MAX_ROWS = 50_000  # ~12 MB per process; a larger table is looked up row by row
REFRESH_SECONDS = 0.25  # a crop missing from the snapshot re-reads the newer rows at most this often


@dataclass(frozen=True)
class StoredLabel:
    text: str
    confidence: int | None = None


class LabelStore(Protocol):
    def get(self, key: str) -> StoredLabel | None: ...

    def put(self, key: str, label: StoredLabel) -> None: ...


def label_key(reader: str, digest: bytes) -> str:
    """The ``ocr_labels.crop_key`` of a crop ``digest`` read by ``reader`` (64 hex digits)."""
    h = hashlib.blake2b(digest_size=32)
    h.update(reader.encode("utf-8"))
    h.update(b"\0")
    h.update(digest)
    return h.hexdigest()


_STORE: LabelStore | None = None  # the store of the partition running in this process


def lookup(reader: str, digest: bytes) -> StoredLabel | None:
    store = _STORE
    return None if store is None else store.get(label_key(reader, digest))


def remember(reader: str, digest: bytes, label: StoredLabel) -> None:
    store = _STORE
    if store is not None:
        store.put(label_key(reader, digest), label)


@contextmanager
def installed(store: LabelStore | None) -> Iterator[LabelStore | None]:
    """Make ``store`` the process's label store while the block runs (then flush and remove it)."""
    global _STORE
    previous, _STORE = _STORE, store
    try:
        yield store
    finally:
        _STORE = previous
        close = getattr(store, "close", None)
        if callable(close):
            close()


class DatabaseLabelStore:
    """``ocr_labels`` in short transactions over ``connect()`` (the partition writer's connection:
    one connection per partition), or over a connection of its own (opened on first use).

    The first lookup reads the whole table in one query (a snapshot; up to ``SNAPSHOT_MAX_ROWS``
    rows) and later lookups are answered from it: a point lookup is a round trip to the server
    (measured ~1.4 ms against MariaDB, a third of a Tesseract reading), and a facility's labels
    are few. A crop the snapshot lacks may have been read since by another executor: the rows
    created since the newest one held are then read, at most every ``REFRESH_SECONDS`` (a row
    committed late with an older ``created_at`` can be missed: that crop is read by Tesseract
    again, with the same result). A table larger than the cap is looked up row by row on the
    primary key.

    New readings are buffered and written ``FLUSH_EVERY`` at a time, or once the oldest has
    waited ``FLUSH_SECONDS`` (so executors running side by side see each other's readings), as
    one multi-row insert that keeps an existing row (two executors that read the same crop at
    once store the same text).
    """

    def __init__(
        self, url: str, connect: Callable[[], Any] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self._connect = connect
        self._clock = clock
        self.hits = 0
        self.misses = 0
        self.written = 0
        self._engine: Any = None
        self._conn: Any = None
        self._pending: dict[str, StoredLabel] = {}
        self._pending_since = 0.0
        self._snapshot: dict[str, StoredLabel] | None = None  # the table, when it was small enough
        self._snapshot_tried = False
        self._newest: datetime | None = None  # the newest created_at in the snapshot
        self._refresh_after = 0.0
        self._broken = False

    def _connection(self):  # noqa: ANN202 - sqlalchemy.Connection
        if self._connect is not None:
            return self._connect()
        if self._conn is None:
            from .database.engine import create_engine

            self._engine = create_engine(self.url)
            self._conn = self._engine.connect()
        return self._conn

    def get(self, key: str) -> StoredLabel | None:
        if key in self._pending:
            return self._pending[key]
        if self._broken:
            return None
        try:
            found = self._lookup(key)
        except Exception as exc:  # noqa: BLE001 - a cache: read the label instead
            self._give_up(exc)
            return None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _lookup(self, key: str) -> StoredLabel | None:
        if not self._snapshot_tried:
            self._snapshot_tried = True
            self._read_rows(since=None)
        if self._snapshot is None:
            return self._point_lookup(key)
        found = self._snapshot.get(key)
        if found is None and self._clock() >= self._refresh_after:
            self._read_rows(since=self._newest)
            found = self._snapshot.get(key) if self._snapshot is not None else self._point_lookup(key)
        return found

    def _read_rows(self, since: datetime | None) -> None:
        """Read the table (``since``: its rows created at or after then) into the snapshot; give
        the snapshot up when the table has more than ``SNAPSHOT_MAX_ROWS`` rows."""
        import sqlalchemy as sa

        from .database.schema import ocr_labels as t

        query = sa.select(t.c.crop_key, t.c.text, t.c.confidence, t.c.created_at)
        if since is not None:
            query = query.where(t.c.created_at >= since)
        conn = self._connection()
        with conn.begin():
            rows = conn.execute(query.limit(SNAPSHOT_MAX_ROWS + 1)).all()
        self._refresh_after = self._clock() + REFRESH_SECONDS
        snapshot = {} if self._snapshot is None else self._snapshot
        snapshot.update((r.crop_key, StoredLabel(r.text, r.confidence)) for r in rows)
        self._snapshot = snapshot if len(snapshot) <= SNAPSHOT_MAX_ROWS else None
        newest = max((r.created_at for r in rows), default=None)
        if newest is not None and (self._newest is None or newest > self._newest):
            self._newest = newest

    def _point_lookup(self, key: str) -> StoredLabel | None:
        import sqlalchemy as sa

        from .database.schema import ocr_labels as t

        conn = self._connection()
        with conn.begin():
            row = conn.execute(sa.select(t.c.text, t.c.confidence).where(t.c.crop_key == key)).first()
        return None if row is None else StoredLabel(row.text, row.confidence)

    def put(self, key: str, label: StoredLabel) -> None:
        if self._broken:
            return
        if not self._pending:
            self._pending_since = self._clock()
        self._pending[key] = label
        if self._snapshot is not None:
            self._snapshot[key] = label
        if len(self._pending) >= FLUSH_EVERY or self._clock() - self._pending_since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._pending or self._broken:
            self._pending.clear()
            return
        from .database.rows import now_utc
        from .database.schema import ocr_labels as t
        from .database.writer import insert_ignore_statement

        now = now_utc()
        rows = [
            {"crop_key": k, "text": v.text[:255], "confidence": v.confidence, "created_at": now}
            for k, v in self._pending.items()
        ]
        try:
            conn = self._connection()
            with conn.begin():
                conn.execute(insert_ignore_statement(conn.dialect.name, t), rows)
            self.written += len(rows)
        except Exception as exc:  # noqa: BLE001 - a cache: the readings stand, only not kept
            self._give_up(exc)
        self._pending.clear()

    def _give_up(self, exc: BaseException) -> None:
        log.warning("label store off for this partition: %s: %s", type(exc).__name__, exc)
        self._broken = True
        self._pending.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._conn is not None:
                self._conn.close()
            if self._engine is not None:
                self._engine.dispose()
            self._conn = self._engine = None
