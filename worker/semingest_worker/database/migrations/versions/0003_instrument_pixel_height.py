"""instrument_meta: the pixel height and the per-field provenance of the vendor values.

``pixel_size_y_m`` (the saved image's pixel height; equal to ``pixel_size_m`` for square pixels)
and ``provenance`` (field -> the vendor key(s) it was read from and why, JSON) came with the
table-driven vendor readers. Databases created by main between that change and the migrations
(``create_all`` from the newer ``schema.py``) already have them: only missing columns are added.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column]:
    return [
        sa.Column("pixel_size_y_m", sa.Double()),
        sa.Column(
            "provenance",
            sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
            comment="field -> the vendor key(s) it was read from and why (JSON object)",
        ),
    ]


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("instrument_meta")}
    for column in _columns():
        if column.name not in present:
            op.add_column("instrument_meta", column)


def downgrade() -> None:
    with op.batch_alter_table("instrument_meta") as batch:
        batch.drop_column("provenance")
        batch.drop_column("pixel_size_y_m")
