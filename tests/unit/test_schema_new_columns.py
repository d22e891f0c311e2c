"""A database created by an older version gains the pixel_size columns a newer one defines
(nullable, added in place; nothing else changes), on SQLite and on the real MariaDB."""

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


def _old_pixel_size_table(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE pixel_size (image_hash VARCHAR(64) PRIMARY KEY, metadata_pixel_size_m DOUBLE, "
                "ocr_pixel_size_m DOUBLE, scale_bar_text VARCHAR(255), scale_bar_value DOUBLE, "
                "scale_bar_unit VARCHAR(8), scale_bar_px DOUBLE, ratio DOUBLE, style VARCHAR(32), reason TEXT)"
            )
        )
        conn.execute(sa.text("INSERT INTO pixel_size (image_hash, ocr_pixel_size_m) VALUES ('abc', 1.5e-9)"))
    engine.dispose()


def _check(url: str) -> None:
    _old_pixel_size_table(url)
    engine = create_engine(url)
    create_schema(engine)
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
