"""Client-side access to the archive: open it from the environment, refuse an unmigrated one.

Used by the CLI (``sla archive``, ``sla search``, ``sla export``) and, later,
the worker (which must not start on an unmigrated schema) and the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from archive.config import archive_url
from archive.errors import ArchiveError
from archive.store import ArchiveStore


def open_archive(env: Mapping[str, str] | None = None, *, check: bool = True) -> ArchiveStore:
    """The archive ``SLA_ARCHIVE_URL`` (or the data dir's SQLite file) names.

    Args:
        env: The environment (default: ``os.environ``).
        check: Refuse a schema that is not at the current revision.

    Raises:
        ArchiveNotMigrated: ``check`` and the schema is not current (the
            message says to run ``sla archive migrate``).
        ArchiveError: A bad URL, or the database cannot be reached.
    """
    store = ArchiveStore.from_url(archive_url(env))
    if check:
        try:
            store.check_migrated()
        except ArchiveError:
            store.close()
            raise
    return store


def open_archive_if_any(env: Mapping[str, str] | None = None) -> ArchiveStore | None:
    """:func:`open_archive` for reading; ``None`` while the embedded SQLite file does not exist.

    Nothing was archived then (``sla dev`` has not run, or a fresh data dir):
    a read must not create an empty database file, nor call that an error.

    Raises:
        ArchiveNotMigrated: The schema is not current.
        ArchiveError: A bad URL, or the database cannot be reached.
    """
    url = archive_url(env)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            return None
    return open_archive(env)
