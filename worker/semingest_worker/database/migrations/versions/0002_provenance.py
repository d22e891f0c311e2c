"""Provenance: which semingest (and which reader of each stage) wrote a row; a run's parameters.

Every per-image row gets ``semingest_version``; the rows a stage writes (``exif_meta`` and
``instrument_meta``: metadata, ``pixel_size``: scale bar, ``inference``) get that stage's
``reader_version``, so ``semingest run --reprocess`` can find rows written by an older reader.
Rows written before this revision keep NULL there (unknown: older than any versioned reader).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_VERSIONED = (
    "image_files",
    "images",
    "exif_meta",
    "instrument_meta",
    "pixel_size",
    "inference",
    "ingest_runs",
)
_READER = ("exif_meta", "instrument_meta", "pixel_size", "inference")


def _long_text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    for table in _VERSIONED:
        op.add_column(
            table,
            sa.Column("semingest_version", sa.String(32), comment="semingest release that wrote the row"),
        )
    for table in _READER:
        op.add_column(
            table, sa.Column("reader_version", sa.String(32), comment="version of the stage's reader")
        )
    op.add_column(
        "ingest_runs", sa.Column("parameters", _long_text(), comment="the run's parameters (JSON object)")
    )
    op.add_column(
        "ingest_runs",
        sa.Column("reader_versions", _long_text(), comment="stage -> reader version (JSON object)"),
    )


def downgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("reader_versions")
        batch.drop_column("parameters")
    for table in _READER:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reader_version")
    for table in _VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("semingest_version")
