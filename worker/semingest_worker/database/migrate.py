"""Schema migrations (Alembic): bring any semingest database to the schema this code expects.

The revisions live in ``migrations/versions`` (``0001`` is release 0.1.0's schema, frozen); the
database records its revision in ``alembic_version``. ``upgrade`` is what ``semingest db init``,
``semingest db upgrade``, every run and the chart's pre-upgrade Job call:

* a new, empty database: every revision runs (``0001`` creates the tables);
* a database made by 0.1.0 (its tables, no ``alembic_version``): stamped ``0001``, then upgraded;
* a database at an older revision: the missing revisions run; at head: nothing changes.

The SQL views (``views``) are derived from the tables: recreated after an upgrade that changed
something, and on every ``semingest db upgrade``/``db init``.

Concurrency: the whole upgrade holds a lock, so two first runs starting together never both
create the tables (MariaDB error 1050, "table already exists"): a named server lock
(``GET_LOCK``) per database on MariaDB/MySQL, the SQLite write lock (``BEGIN IMMEDIATE``, DDL
is transactional there) on SQLite. The second waits, then finds the schema at head.

``check`` is read-only: the database's revision, the revisions still to apply, and any difference
between the tables and ``schema.py`` (Alembic's autogenerate comparison). A column added to
``schema.py`` without a revision shows up there (and fails ``tests/integration/test_migrations.py``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa

from . import schema

log = logging.getLogger(__name__)

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")
VERSION_TABLE = "alembic_version"
BASELINE = "0001"  # release 0.1.0: the tables create_schema made before migrations existed
# The newest revision, named here so that a run into a database already at it needs neither
# Alembic nor its scripts (importing both costs ~0.1 s of every run). A new revision updates it;
# tests/integration/test_migrations.py checks it against the scripts' head.
HEAD_REVISION = "0007"
BASELINE_TABLES = (
    "image_files",
    "images",
    "exif_meta",
    "instrument_meta",
    "pixel_size",
    "inference",
    "ingest_runs",
)
LOCK_TIMEOUT_S = 600


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to (or is not at) what this code expects."""


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None  # the revision found (None: no alembic_version)
    after: str
    stamped_baseline: bool  # the database was made by 0.1.0 and adopted at BASELINE

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.stamped_baseline


@dataclass(frozen=True)
class SchemaState:
    """What ``check`` found (read-only)."""

    current: str | None  # revision in alembic_version (None: not managed by migrations)
    head: str
    has_tables: bool  # any semingest table exists
    pending: tuple[str, ...]  # revisions ``upgrade`` would apply, oldest first
    differences: tuple[str, ...]  # tables vs schema.py (only compared at head)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.differences


# -- Alembic plumbing -------------------------------------------------------------------------------
def alembic_config(connection: sa.Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision; an error when the revisions do not form one line."""
    heads = _script().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): each new revision must "
            "revise the previous head (set its down_revision), see docs/migrations.md"
        )
    return heads[0]


def revisions() -> list[str]:
    """All revisions, oldest first."""
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


def current_revision(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _pending(current: str | None) -> tuple[str, ...]:
    order = revisions()
    if current is None:
        return tuple(order)
    if current not in order:
        raise SchemaError(
            f"the database is at revision {current!r}, which this semingest does not know: "
            "it was upgraded by a newer release; use that release (or newer)"
        )
    return tuple(order[order.index(current) + 1 :])


# -- upgrade ----------------------------------------------------------------------------------------
def upgrade(engine: sa.Engine, *, refresh_views: bool = False) -> UpgradeResult:
    """Bring the database to the head revision under the migration lock (see the module doc).

    The views are recreated when a revision ran or a view is missing, and always with
    ``refresh_views`` (``semingest db upgrade``/``db init``: a release may change a view alone).
    """
    from . import views
    from .engine import sqlite_write_problem

    problem = sqlite_write_problem(engine.url)
    if problem is not None:
        raise SchemaError(problem)
    if not refresh_views and _at_head(engine):
        return UpgradeResult(before=HEAD_REVISION, after=HEAD_REVISION, stamped_baseline=False)
    from alembic import command

    head = head_revision()
    with _migration_lock(engine) as conn:
        tables = set(sa.inspect(conn).get_table_names())
        before = current_revision(conn) if VERSION_TABLE in tables else None
        _pending(before)  # a revision from a newer release: a clear error, nothing touched
        config = alembic_config(conn)
        stamped = False
        if before is None and tables & set(BASELINE_TABLES):
            missing = [t for t in BASELINE_TABLES if t not in tables]
            if missing:
                raise SchemaError(
                    "the database holds some semingest tables but not "
                    f"{', '.join(missing)}: it was not made by a semingest release; upgrade it by hand"
                )
            command.stamp(config, BASELINE)
            stamped = True
            log.info("database made by semingest 0.1.0: adopted at revision %s", BASELINE)
        if before != head:
            command.upgrade(config, "head")
        missing_views = not views.VIEW_NAMES <= set(sa.inspect(conn).get_view_names())
        if refresh_views or before != head or stamped or missing_views:
            views.replace_views(conn)
    return UpgradeResult(before=before, after=head, stamped_baseline=stamped)


def _at_head(engine: sa.Engine) -> bool:
    """The database records ``HEAD_REVISION`` and has every view (read without Alembic or the
    lock: a database being upgraded by another run is not at head until it is done)."""
    from . import views

    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.select(version.c.version_num)).scalars().all()
            return found == [HEAD_REVISION] and views.VIEW_NAMES <= set(sa.inspect(conn).get_view_names())
    except sa.exc.DBAPIError:  # no version table yet (a new database): the full path decides
        return False


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a transaction that only one migrating process holds at a time."""
    if engine.dialect.name == "sqlite":
        from .engine import create_engine

        # BEGIN IMMEDIATE: the write lock from the start, so a second process waits (busy timeout)
        # instead of both reading "no tables" and then both creating them.
        own = create_engine(engine.url.render_as_string(hide_password=False), writer=True)
        try:
            conn = _sqlite_write_locked(own)
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()
        finally:
            own.dispose()
        return
    with engine.connect() as conn:
        name = f"semingest-schema:{conn.exec_driver_sql('SELECT DATABASE()').scalar()}"[:64]
        got = conn.execute(
            sa.text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": LOCK_TIMEOUT_S}
        )
        if got.scalar() != 1:
            raise SchemaError(f"another process held the schema lock {name!r} for {LOCK_TIMEOUT_S} s")
        conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            try:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                conn.commit()
            except Exception:  # noqa: BLE001 - a lost connection releases the lock anyway
                log.debug("releasing the schema lock failed", exc_info=True)


def _sqlite_write_locked(engine: sa.Engine) -> sa.Connection:
    """A connection holding SQLite's write lock (BEGIN IMMEDIATE).

    Opening a brand-new database (its first switch to WAL) while another process holds the lock
    can fail at once with "database is locked" instead of waiting: that is retried until the
    busy timeout, like every other wait for the lock.
    """
    from .engine import SQLITE_BUSY_TIMEOUT_S

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        conn: sa.Connection | None = None
        try:
            conn = engine.connect()  # its first statements switch a new database to WAL
            conn.begin()
            return conn
        except sa.exc.OperationalError as exc:
            if conn is not None:
                conn.close()
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# -- check ------------------------------------------------------------------------------------------
def check(conn: sa.Connection) -> SchemaState:
    """The database's revision and what ``upgrade`` would do (reads only)."""
    head = head_revision()
    tables = set(sa.inspect(conn).get_table_names())
    current = current_revision(conn) if VERSION_TABLE in tables else None
    if current is None and tables & set(BASELINE_TABLES):
        pending = tuple(r for r in revisions() if r != BASELINE)  # adopted at the baseline first
    else:
        pending = _pending(current)
    differences = tuple(compare(conn)) if current == head else ()
    return SchemaState(
        current=current,
        head=head,
        has_tables=bool(tables & set(BASELINE_TABLES)),
        pending=pending,
        differences=differences,
    )


def compare(conn: sa.Connection) -> list[str]:
    """Differences between the database's tables and ``schema.metadata`` (empty: they match)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "version_table": VERSION_TABLE,
            "include_name": _include_name,
        },
    )
    return [_describe(diff) for diff in compare_metadata(context, schema.metadata)]


def _include_name(name: str | None, type_: str, _parent: Any) -> bool:
    return not (type_ == "table" and name == VERSION_TABLE)


def _describe(diff: Any) -> str:
    """One line per autogenerate difference (a tuple, or a list of column-modification tuples)."""
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    kind, *rest = diff
    if kind in ("add_column", "remove_column"):
        _schema, table, column = rest
        where = "schema.py has" if kind == "add_column" else "the database has"
        return f"{kind}: {where} {table}.{column.name} ({column.type}) that the other lacks"
    if kind in ("add_table", "remove_table"):
        return f"{kind}: {rest[0].name}"
    if kind in ("add_index", "remove_index"):
        index = rest[0]
        return f"{kind}: {index.name} on {index.table.name}({', '.join(c.name for c in index.columns)})"
    if kind.startswith("modify_"):
        _schema, table, column, _info, old, new = rest
        return f"{kind}: {table}.{column}: database {old!r}, schema.py {new!r}"
    return repr(diff)
