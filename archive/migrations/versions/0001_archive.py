"""The archive: streams, events, erasures and the full-text index.

Revision ID: 0001_archive
Revises:
Create Date: 2026-12-01

The full-text index is dialect-specific DDL:

* SQLite: an FTS5 table ``streams_fts`` with external content (``streams``,
  rowid = ``streams.id``), so the text is stored once; triggers keep it in step
  with every insert, update and delete. ``unicode61 remove_diacritics 2`` folds
  case and accents: "Stoerung" no, but "storung" finds "Störung".
* PostgreSQL: a stored generated ``tsvector`` (``german`` configuration:
  stemming, German stop words) and a GIN index on it.

Written out here rather than taken from ``archive.tables``: a revision is a
snapshot, and must not change when the tables module does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_archive"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE streams_fts USING fts5("
    "search_text, content='streams', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER streams_fts_insert AFTER INSERT ON streams BEGIN "
    "INSERT INTO streams_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER streams_fts_delete AFTER DELETE ON streams BEGIN "
    "INSERT INTO streams_fts(streams_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    # Only when the text changes: most updates (a new status) leave it alone.
    "CREATE TRIGGER streams_fts_update AFTER UPDATE OF search_text ON streams BEGIN "
    "INSERT INTO streams_fts(streams_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO streams_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
)

_POSTGRES_FTS = (
    "ALTER TABLE streams ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('german'::regconfig, search_text)) STORED",
    "CREATE INDEX ix_streams_search_vector ON streams USING gin (search_vector)",
)


def upgrade() -> None:
    """Create the tables, the list indexes and the dialect's full-text index."""
    op.create_table(
        "streams",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("stream_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("company", sa.String(200)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("reporter_name", sa.String(200)),
        sa.Column("reporter_email", sa.String(254)),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("resolved_at", _TIME),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("view", _JSON, nullable=False),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("erased_at", _TIME),
        sa.UniqueConstraint("stream_id", name="uq_streams_stream_id"),
    )
    # Lists read newest first within a filter: (filter, opened_at, id) backwards.
    op.create_index("ix_streams_opened_at", "streams", ["opened_at", "id"])
    op.create_index("ix_streams_resolved_at", "streams", ["resolved_at"])
    op.create_index("ix_streams_status_opened_at", "streams", ["status", "opened_at", "id"])
    op.create_index("ix_streams_company_opened_at", "streams", ["company", "opened_at", "id"])
    op.create_index("ix_streams_kind_opened_at", "streams", ["kind", "opened_at", "id"])
    op.create_table(
        "events",
        sa.Column("stream_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("stream_id", "seq", name="pk_events"),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("stream_id", sa.String(128), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_at", _TIME, nullable=False),
    )
    op.create_index("ix_erasures_stream_id", "erasures", ["stream_id"])

    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_FTS, "postgresql": _POSTGRES_FTS}.get(dialect)
    if statements is None:
        raise RuntimeError(f"the archive runs on SQLite or PostgreSQL, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything this revision created."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("streams_fts_insert", "streams_fts_delete", "streams_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS streams_fts")
    op.drop_table("erasures")
    op.drop_table("events")
    op.drop_table("streams")
