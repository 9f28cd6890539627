"""Who erased: ``erasures.erased_by``.

Revision ID: 0002_erased_by
Revises: 0001_archive
Create Date: 2026-12-04

GDPR accountability asks for who erased a stream, not only when and why: the
operator for ``sla erase``, the schedule for the automatic erasure after
``[archive] personal_data_days``. Nullable: erasures recorded before this
revision did not say.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_erased_by"
down_revision = "0001_archive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``erased_by`` column (no table rebuild on SQLite: ADD COLUMN suffices)."""
    with op.batch_alter_table("erasures") as batch:
        batch.add_column(sa.Column("erased_by", sa.String(200)))


def downgrade() -> None:
    """Drop ``erased_by``."""
    with op.batch_alter_table("erasures") as batch:
        batch.drop_column("erased_by")
