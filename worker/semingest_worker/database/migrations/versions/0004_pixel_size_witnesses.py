"""pixel_size: the scale bar's uncertainty, the printed field (second witness) and the believed value.

``scale_bar_px_uncertainty`` (standard uncertainty of the bar length, px), ``printed_field`` and
``printed_pixel_size_m`` (a field width or pixel size printed in the data bar, and the pixel size
it implies), and ``believed_pixel_size_m`` / ``believed_source`` / ``believed_reason`` (which of
the witnesses is used, and why) came with the reworked scale-bar reader. Databases created by a
main that had them before this revision already have them: only missing columns are added.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _columns() -> list[sa.Column]:
    return [
        sa.Column(
            "scale_bar_px_uncertainty", sa.Double(), comment="standard uncertainty of scale_bar_px (px)"
        ),
        sa.Column(
            "printed_field", sa.String(255), comment="a field width or pixel size printed in the data bar"
        ),
        sa.Column(
            "printed_pixel_size_m", sa.Double(), comment="that field's pixel size (width / image width)"
        ),
        sa.Column("believed_pixel_size_m", sa.Double(), comment="the pixel size to use"),
        sa.Column("believed_source", sa.String(16), comment="metadata, scale_bar or printed_field"),
        sa.Column("believed_reason", _LONG_TEXT, comment="why that one (agreement, disagreement, resize)"),
    ]


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("pixel_size")}
    for column in _columns():
        if column.name not in present:
            op.add_column("pixel_size", column)


def downgrade() -> None:
    with op.batch_alter_table("pixel_size") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
