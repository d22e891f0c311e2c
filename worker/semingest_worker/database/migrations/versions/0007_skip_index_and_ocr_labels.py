"""The skip check's index on image_files.path, and ocr_labels (label readings kept across runs).

``ix_image_files_path`` lets ``queries.under_folder`` read a source folder's files as an index
range instead of scanning the table (MySQL/MariaDB index the first 255 characters of the path).
``ocr_labels`` keeps each scale-bar label reading (reader and crop digest -> text) so a label
read once is never read by Tesseract again (``label_store``). Both are created only where
missing (a database made by a main that had them already keeps them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
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


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "ix_image_files_path" not in {ix["name"] for ix in inspector.get_indexes("image_files")}:
        op.create_index(
            "ix_image_files_path",
            "image_files",
            ["path"],
            mysql_length={"path": 255},
            mariadb_length={"path": 255},
        )
    if "ocr_labels" not in inspector.get_table_names():
        op.create_table(
            "ocr_labels",
            sa.Column(
                "crop_key", sa.String(64), primary_key=True, comment="hex digest of the reader and the crop"
            ),
            sa.Column("text", sa.String(255), nullable=False),
            sa.Column("confidence", sa.Integer(), comment="the reader's confidence 0..100 (NULL: not given)"),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            **_MYSQL_OPTS,
        )


def downgrade() -> None:
    op.drop_table("ocr_labels")
    op.drop_index("ix_image_files_path", table_name="image_files")
