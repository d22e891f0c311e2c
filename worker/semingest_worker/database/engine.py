"""Engines for MySQL/MariaDB (PyMySQL) and SQLite with the settings the writers rely on.

* MySQL/MariaDB: utf8mb4 always (4-byte characters in file names and metadata round-trip),
  strict SQL mode (a value that does not fit is an error, never silently truncated), bounded
  network timeouts (a vanished server is noticed, not waited on forever).
* SQLite: WAL journal (the driver reads while the executors write), a busy timeout, and, for
  writers, ``BEGIN IMMEDIATE`` transactions: a writer takes the write lock when it begins, so two
  writers never deadlock upgrading read locks (they queue on the busy timeout instead).

Writers use ``NullPool``: each partition opens exactly one connection and closes it at the end.
"""

from __future__ import annotations

import os
import re

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_S = 60
_MYSQL_SQL_MODE = (
    "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)


class DatabaseURLError(ValueError):
    """The database URL is malformed or names a backend this project does not support."""


def parse_url(url: str) -> sa.URL:
    if "://" not in url:
        raise DatabaseURLError(
            f"{url!r} is not a database URL; did you mean sqlite:///{os.path.abspath(url)} "
            "(a SQLite file) or mysql+pymysql://USER@HOST/DATABASE?"
        )
    try:
        parsed = sa.make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises ArgumentError/ValueError variants
        raise DatabaseURLError(f"invalid database URL {redact(url)!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "mysql", "mariadb"):
        raise DatabaseURLError(
            f"unsupported database {backend!r} in {redact(url)!r}: use sqlite:///FILE or mysql+pymysql://..."
        )
    if backend in ("mysql", "mariadb") and parsed.get_driver_name() not in ("pymysql",):
        raise DatabaseURLError(f"use the PyMySQL driver: mysql+pymysql://... (got {redact(url)!r})")
    if parsed.host and "@" in parsed.host:
        raise DatabaseURLError(
            f"the user or password in {redact(url)!r} contains an unencoded '@': write it as %40"
        )
    if backend == "sqlite" and not parsed.database:
        raise DatabaseURLError("an in-memory SQLite database cannot be shared with Spark: use sqlite:///FILE")
    return parsed


# Query parameters that carry credentials (PyMySQL takes ``?password=``; TLS keys, tokens).
_SECRET_QUERY_KEY = re.compile(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)
# user:password@ up to the LAST @ before the host (an unencoded @ in a password stays hidden).
_USERINFO = re.compile(
    r"(?P<scheme>^[^:/?#]+://)(?P<user>[^:/?#@]*)(?P<password>:[^/?#]*)?@(?=[^@/?#]*(?:[/?#]|$))"
)


def redact(url: str | sa.URL) -> str:
    """The URL with every credential hidden (password in the user part, password-like query
    parameters), for messages, logs and ``ingest_runs``; robust to unencoded ``@`` and to URLs
    SQLAlchemy cannot parse."""
    if isinstance(url, sa.URL):
        url = url.render_as_string(hide_password=False)
    text = _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] else m.group(), url, count=1
    )
    if _USERINFO.match(text) is None and "@" in text.split("?", 1)[0]:
        head, _, tail = text.partition("://")
        text = f"{head}://***@{tail.rsplit('@', 1)[1]}" if tail else "<unparseable URL>"
    base, sep, query = text.partition("?")
    if sep:
        parts = []
        for item in query.split("&"):
            key, eq, _value = item.partition("=")
            parts.append(f"{key}=***" if eq and _SECRET_QUERY_KEY.search(key) else item)
        text = f"{base}?{'&'.join(parts)}"
    return text


def sqlite_write_problem(url: str | sa.URL) -> str | None:
    """Why a SQLite database cannot be written here (None when it can, or for other backends).

    SQLite itself only says "unable to open database file"; a read-only mount or folder, a
    read-only file and a missing folder each get their own sentence.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = os.path.abspath(parsed.database)
    folder, name = os.path.split(path)
    if not os.path.isdir(folder):
        return f"cannot create the SQLite database {path}: the folder {folder} does not exist"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"the SQLite database {path} is read-only (a read-only file or mount)"
    if not os.access(folder, os.W_OK):
        return (
            f"cannot write the SQLite database {path}: its folder {folder} is read-only "
            f"(SQLite creates {name}-wal and {name}-shm beside it; use a writable folder)"
        )
    return None


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, writer: bool = False, pooled: bool = False) -> sa.Engine:
    """An engine for ``url``. ``writer``: SQLite transactions begin IMMEDIATE. ``pooled``: keep a pool."""
    parsed = parse_url(url)
    poolclass = None if pooled else NullPool
    if parsed.get_backend_name() == "sqlite":
        kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        engine = sa.create_engine(parsed, poolclass=poolclass, **kwargs)
        _configure_sqlite(engine, immediate=writer)
        return engine
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    connect_args = {
        "init_command": f"SET SESSION sql_mode='{_MYSQL_SQL_MODE}'",
        "connect_timeout": 10,
        "read_timeout": 600,
        "write_timeout": 600,
    }
    return sa.create_engine(parsed, poolclass=poolclass, pool_pre_ping=pooled, connect_args=connect_args)


def _configure_sqlite(engine: sa.Engine, *, immediate: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so it can be BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
