"""Engines for the archive: SQLite tuned for a writer and concurrent readers, PostgreSQL as is."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from archive.errors import ArchiveError

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another's lock before giving up."""

WRITE = {"archive_write": True}
"""Execution option of a connection that will write (SQLite: ``BEGIN IMMEDIATE``)."""

SUPPORTED = ("sqlite", "postgresql")


def make_url(url: str | URL) -> URL:
    """``url`` parsed; an unparsable or unsupported URL is an :class:`ArchiveError`."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ArchiveError(
            "SLA_ARCHIVE_URL is not a database URL (e.g. sqlite:///archive.sqlite3 or "
            "postgresql+psycopg://user:password@host/sla_archive)"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise ArchiveError(
            f"the archive runs on SQLite or PostgreSQL, not {parsed.get_backend_name()!r}"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; psycopg2 is not installed.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(url: str | URL) -> Engine:
    """An engine for ``url`` with the archive's connection settings.

    SQLite: write-ahead log (readers never block the writer), secure delete
    (erased personal data does not linger in free pages), a busy timeout
    (a second writer waits instead of failing), and transactions that begin
    when asked: pysqlite's own late ``BEGIN`` would let two appends read the
    same ``last_seq`` and then fail to upgrade their locks, so a writing
    connection begins with ``BEGIN IMMEDIATE`` (see :data:`WRITE`).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Freed pages are zeroed: an erasure must not leave the old text in the file.
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writing = connection.get_execution_options().get("archive_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
