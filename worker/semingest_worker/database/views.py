"""SQL views in human units, for readers without joins (a spreadsheet, Grafana, a notebook).

* ``v_images``: one row per distinct image (``imagequery.image_select``: pixel size in m and nm,
  metadata vs scale bar and their agreement, kV, mm, category, files and duplicates count).
* ``v_files``: one row per file with its image's columns (``imagequery.file_select``).

The views are the same SELECTs the export uses, compiled for the database's dialect. They hold
no data, so ``migrate.upgrade`` recreates them after applying revisions (and when one is
missing); they need no revision of their own. On MariaDB/MySQL they are ``SQL SECURITY
INVOKER``: a read-only user with SELECT on the database reads them with its own rights.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from . import imagequery

VIEWS: dict[str, Callable[[], sa.Select]] = {
    "v_images": imagequery.image_select,
    "v_files": imagequery.file_select,
}
VIEW_NAMES = frozenset(VIEWS)


def view_sql(name: str, dialect: sa.Dialect) -> str:
    """The SELECT of view ``name`` as literal SQL for ``dialect``."""
    stmt = VIEWS[name]()
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def replace_views(conn: sa.Connection) -> None:
    """(Re)create every view on ``conn`` (inside the caller's transaction on SQLite)."""
    dialect = conn.dialect
    for name in VIEWS:
        body = view_sql(name, dialect)
        if dialect.name == "sqlite":
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE VIEW {name} AS {body}")
        else:
            conn.exec_driver_sql(f"CREATE OR REPLACE SQL SECURITY INVOKER VIEW {name} AS {body}")
