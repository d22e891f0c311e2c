"""A read-only database role for readers (a spreadsheet, Grafana, a notebook, a web catalogue).

``semingest db init --readonly-user NAME`` (MariaDB/MySQL) creates ``NAME``@``%`` if it does not
exist and grants it SELECT on the semingest database only (tables and views; the views are
``SQL SECURITY INVOKER``, so they run with the reader's rights). The password comes from
``$SEMINGEST_READONLY_PASSWORD`` (never from the command line, where other users could see it).
SQLite has no users: share the file read-only instead (file permissions).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

PASSWORD_ENV = "SEMINGEST_READONLY_PASSWORD"
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")


class RoleError(ValueError):
    """The read-only role cannot be created as asked."""


def create_readonly_user(conn: sa.Connection, name: str, password: str | None, host: str = "%") -> str:
    """Create (or update the password of) a user with SELECT on the current database; returns it."""
    if conn.dialect.name == "sqlite":
        raise RoleError("SQLite has no database users: share the database file read-only (chmod a-w) instead")
    if not _USER.fullmatch(name):
        raise RoleError(f"invalid user name {name!r}: letters, digits, '_', '.', '-' (at most 80)")
    if not password:
        raise RoleError(f"set the read-only user's password in ${PASSWORD_ENV}")
    database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    if not database:
        raise RoleError("the database URL names no database")
    who = {"user": name, "host": host, "pw": password}  # bound: the driver quotes them
    conn.execute(sa.text("CREATE USER IF NOT EXISTS :user@:host IDENTIFIED BY :pw"), who)
    conn.execute(sa.text("ALTER USER :user@:host IDENTIFIED BY :pw"), who)
    quoted = "`" + database.replace("`", "``") + "`"
    conn.execute(sa.text(f"GRANT SELECT, SHOW VIEW ON {quoted}.* TO :user@:host"), who)
    return f"'{name}'@'{host}'"
