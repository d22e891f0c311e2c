"""A database at the revision before the scale-bar witness columns (0003) gains them through
the migrations (revision 0004; nothing else changes), on SQLite and on the real MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from semingest_worker.database import create_engine, create_schema

NEW = {
    "scale_bar_px_uncertainty",
    "printed_field",
    "printed_pixel_size_m",
    "believed_pixel_size_m",
    "believed_source",
    "believed_reason",
}


def _database_at_0003(url: str) -> None:
    """A database as the release before the witness columns left it (revision 0003), with a row."""
    from alembic import command

    from semingest_worker.database.migrate import alembic_config

    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(sa.text("INSERT INTO pixel_size (image_hash, ocr_pixel_size_m) VALUES ('abc', 1.5e-9)"))
    engine.dispose()


def _check(url: str) -> None:
    _database_at_0003(url)
    engine = create_engine(url)
    assert not NEW & {c["name"] for c in sa.inspect(engine).get_columns("pixel_size")}
    create_schema(engine)  # migrates 0003 -> head
    create_schema(engine)  # idempotent
    columns = {c["name"] for c in sa.inspect(engine).get_columns("pixel_size")}
    assert NEW <= columns
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT ocr_pixel_size_m, believed_source FROM pixel_size")).one()
    assert tuple(row) == (1.5e-9, None)  # the old row is kept, the new columns are NULL
    engine.dispose()


def test_old_sqlite_database_gains_the_new_columns(sqlite_url: str) -> None:
    _check(sqlite_url)


@pytest.mark.mariadb
def test_old_mariadb_database_gains_the_new_columns(mariadb_url: str) -> None:
    _check(mariadb_url)
