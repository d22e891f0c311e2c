"""Opening a database for reading only (``export``, ``show``, ``summary``, ``db check``).

A read-only command never creates anything: a SQLite file that does not exist is an error
(connecting would create it), and so is a database without semingest tables or one whose schema
is older than this code (``semingest db upgrade`` first; reading never migrates).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from . import migrate
from .engine import create_engine, parse_url, redact


class DatabaseNotReadyError(RuntimeError):
    """The database is missing, holds no semingest tables, or needs ``semingest db upgrade``."""


def sqlite_path(url: str) -> str | None:
    parsed = parse_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def ensure_exists(url: str) -> None:
    """For SQLite: the file must exist (a connection would create an empty one)."""
    path = sqlite_path(url)
    if path is not None and not os.path.isfile(path):
        raise DatabaseNotReadyError(
            f"there is no database at {path}: nothing has been ingested there "
            f"(run `semingest run PATH --db {redact(url)}` first)"
        )


@contextmanager
def read_connection(url: str, *, check_revision: bool = True) -> Iterator[sa.Connection]:
    """A connection to an existing semingest database at the schema this code reads."""
    ensure_exists(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if "images" not in tables:
                raise DatabaseNotReadyError(
                    f"{redact(url)} holds no semingest tables (run `semingest db init` or `semingest run`)"
                )
            if check_revision:
                _check_revision(conn, tables, url)
            yield conn
    finally:
        engine.dispose()


def _check_revision(conn: sa.Connection, tables: set[str], url: str) -> None:
    current = migrate.current_revision(conn) if migrate.VERSION_TABLE in tables else None
    known = migrate.revisions()
    if current is None:
        raise DatabaseNotReadyError(
            f"{redact(url)} was made by semingest 0.1.0 (no schema revision): "
            f"run `semingest db upgrade --db {redact(url)}` once to bring it to this release's schema"
        )
    if current in known and current != migrate.head_revision():
        raise DatabaseNotReadyError(
            f"{redact(url)} is at schema revision {current}, this semingest reads {migrate.head_revision()}: "
            f"run `semingest db upgrade --db {redact(url)}`"
        )
    # A revision newer than this code: a newer release added columns; reading the known ones works.
