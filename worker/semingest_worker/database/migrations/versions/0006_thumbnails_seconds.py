"""ingest_runs.thumbnails_seconds: the seconds of the thumbnails stage, like every other stage.

The run's ``<stage>_seconds`` columns follow ``semingest_api.stages.Stage``; the thumbnails
stage (revision 0005) joined it after the baseline. Added only where missing.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("ingest_runs")}
    if "thumbnails_seconds" not in columns:
        op.add_column("ingest_runs", sa.Column("thumbnails_seconds", sa.Double()))


def downgrade() -> None:
    op.drop_column("ingest_runs", "thumbnails_seconds")
