"""Events by type and instant: ``ix_events_type_at``.

Revision ID: 0003_reopened_index
Revises: 0002_erased_by
Create Date: 2026-12-03

A reopened incident's later period starts with its ``reopened`` event, often
in a month in which the stream was neither opened nor resolved. The monthly
report finds such streams by that event (``ArchiveStore.month``); the index
keeps that a range read instead of a scan of every event.
"""

from __future__ import annotations

from alembic import op

revision = "0003_reopened_index"
down_revision = "0002_erased_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index (no table rebuild on either database)."""
    op.create_index("ix_events_type_at", "events", ["type", "at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_events_type_at", table_name="events")
