"""thumbnails: a small preview and the scale-bar geometry per image, and the web catalogue's indexes.

``thumbnails`` (keyed by ``image_hash``) holds a 256 px WebP of the canonical file and where the
scale-bar stage found the data bar, the bar, its measured ends and its label, so the web
catalogue (``semingest serve``) shows them without opening the image files. The indexes serve
its facets and its keyset pagination (a sort value, then ``image_hash``). Created only where
missing.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_MYSQL_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}
_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_BLOB = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

# (index, table, columns)
_INDEXES = (
    ("ix_images_ingested", "images", ["ingested_at", "image_hash"]),
    ("ix_instrument_meta_model", "instrument_meta", ["model"]),
    ("ix_instrument_meta_detector", "instrument_meta", ["detector"]),
    ("ix_instrument_meta_acquired", "instrument_meta", ["acquired_at", "image_hash"]),
    ("ix_instrument_meta_pixel_size", "instrument_meta", ["pixel_size_m", "image_hash"]),
    ("ix_pixel_size_ratio", "pixel_size", ["ratio"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "thumbnails" not in inspector.get_table_names():
        op.create_table(
            "thumbnails",
            sa.Column("image_hash", sa.String(64), primary_key=True),
            sa.Column("format", sa.String(8), nullable=False, comment="webp or jpeg"),
            sa.Column("width", sa.Integer(), nullable=False),
            sa.Column("height", sa.Integer(), nullable=False),
            sa.Column("data", _BLOB, nullable=False),
            sa.Column(
                "geometry",
                _LONG_TEXT,
                comment="scale-bar geometry in pixels of the image: databar_rows, bar_box, bar_ends, label_box",
            ),
            sa.Column("semingest_version", sa.String(32), comment="semingest release that wrote the row"),
            **_MYSQL_OPTS,
        )
    for name, table, columns in _INDEXES:
        if name not in {ix["name"] for ix in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("thumbnails")
