"""A new, empty MariaDB database for a test or a module, dropped afterwards (one definition for
the fixtures that need one of their own beside ``conftest.mariadb_url``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def mariadb_database(server: str, prefix: str = "semingest_t") -> Iterator[str]:
    """Yield the URL of a new database ``<prefix>_<random>`` on ``server`` (utf8mb4_bin, as the
    project's tables need); drop it afterwards. The admin engine pre-pings its connections: a
    test may restart the server (the fault tests do), leaving pooled connections dead."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{server}/test", pool_pre_ping=True)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    try:
        yield f"{server}/{name}?charset=utf8mb4"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
