"""The archive's tables (SQLAlchemy Core): Alembic's revisions create them, readers use this map.

* ``streams`` — one row per stream: the filter columns, the current view (and
  its summary, the view without its events, so lists do not load histories),
  ``last_seq`` and, once erased, ``erased_at``. ``search_text`` is the
  document the full-text index covers; the index itself is dialect-specific
  and lives in the migration only: an FTS5 table ``streams_fts`` (external
  content, kept by triggers) on SQLite, a generated ``tsvector`` column with a
  GIN index on PostgreSQL.
* ``events`` — every event, primary key ``(stream_id, seq)``: the key is the
  exactly-once guarantee.
* ``erasures`` — who erased what, when and why (the record GDPR asks for).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")
"""JSON everywhere, JSONB on PostgreSQL (compact, indexable)."""


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect.

    SQLite has no time zones: SQLAlchemy stores the wall-clock digits and drops
    the offset, so instants are normalised to UTC before they are stored (and
    compared) and read back as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC; naive on SQLite (which would drop the offset anyway)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the archive stores aware datetimes only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Aware UTC."""
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL paths on SQLite
            value = datetime.fromisoformat(value)
        instant: datetime = value
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)


streams = sa.Table(
    "streams",
    metadata,
    # An integer key: SQLite's FTS5 index refers to rows by rowid.
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("stream_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("company", sa.String(200)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16)),
    sa.Column("reporter_name", sa.String(200)),
    sa.Column("reporter_email", sa.String(254)),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("view", JsonType, nullable=False),
    sa.Column("summary", JsonType, nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("erased_at", UtcDateTime),
    sa.UniqueConstraint("stream_id", name="uq_streams_stream_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("stream_id", sa.String(128), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("payload", JsonType, nullable=False),
    sa.PrimaryKeyConstraint("stream_id", "seq", name="pk_events"),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("stream_id", sa.String(128), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    # Who erased (operator or schedule); NULL for erasures recorded before revision 0002.
    sa.Column("erased_by", sa.String(200)),
)
sa.Index("ix_erasures_stream_id", erasures.c.stream_id)
# Revision 0003: the monthly report finds a reopened period by its ``reopened`` event.
sa.Index("ix_events_type_at", events.c.type, events.c.at)

LIST_INDEXES = (
    ("ix_streams_opened_at", ("opened_at", "id")),
    ("ix_streams_resolved_at", ("resolved_at",)),
    ("ix_streams_status_opened_at", ("status", "opened_at", "id")),
    ("ix_streams_company_opened_at", ("company", "opened_at", "id")),
    ("ix_streams_kind_opened_at", ("kind", "opened_at", "id")),
)
"""The indexes lists and month reports use: newest first within a filter, read
backwards in index order (``id`` breaks ties, so no sort step is needed)."""

for _name, _columns in LIST_INDEXES:
    sa.Index(_name, *(streams.c[c] for c in _columns))
