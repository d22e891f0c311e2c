"""A database engine that cannot write: the catalogue's only way to the database.

Three layers keep the catalogue read-only: it has GET routes only; every connection of this engine
is read-only (SQLite ``PRAGMA query_only``, MySQL/MariaDB ``SET SESSION TRANSACTION READ ONLY``),
so even a bug could not write; and in the cluster it logs in as a database user with SELECT
privileges only (the chart's ``web.database`` secret).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..database.engine import _MYSQL_SQL_MODE, SQLITE_BUSY_TIMEOUT_S, parse_url


def read_only_engine(url: str) -> sa.Engine:
    """A pooled, thread-safe engine for ``url`` whose connections refuse every write."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            pool_pre_ping=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_read_only(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA query_only = ON")
            finally:
                cursor.close()

        return engine
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    connect_args = {
        "init_command": f"SET SESSION sql_mode='{_MYSQL_SQL_MODE}'",
        "connect_timeout": 10,
        "read_timeout": 60,
        "write_timeout": 60,
    }
    engine = sa.create_engine(parsed, pool_pre_ping=True, pool_recycle=3600, connect_args=connect_args)

    @sa.event.listens_for(engine, "connect")
    def _mysql_read_only(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        finally:
            cursor.close()

    return engine
