"""The incident archive: every event of every stream, kept after Temporal forgot it (issue 17).

SQLAlchemy Core tables (:mod:`archive.tables`), Alembic migrations
(``archive/migrations``), and :class:`archive.store.ArchiveStore`, which
appends batches exactly once and reads them back (lists, full-text search,
monthly exports, erasure). SQLite (FTS5) is the embedded default; PostgreSQL
(German full text) is the production database.
"""
