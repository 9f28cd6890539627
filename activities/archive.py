"""The archive feed's activity: append one batch of a stream's events (idempotent).

The workflows hand over what each workflow task recorded (``domain.archive``);
this activity stores it through :class:`archive.store.ArchiveStore`, exactly
once by ``(stream_id, seq)``. An unreachable database raises, and Temporal
retries with backoff while the incident goes on (its deadlines never wait for
the archive); a batch that starts after a missing event is answered with the
position the archive needs (``ArchiveGap``, not retryable: the workflow resends
from there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from archive.errors import ArchiveGap, ArchiveNotMigrated
from archive.store import ArchiveStore
from domain.archive import ArchiveBatch

ARCHIVE_GAP = "ArchiveGap"
"""``ApplicationError`` type: resend from the position in the error's details."""


class LazyArchive:
    """One archive store for a worker's activities, opened on first use (the worker checked it).

    The feed and the automatic erasure share it: one connection pool per worker.

    Args:
        open_store: Opens the store (``ArchiveStore.from_url``; the embedded
            SQLite default migrates itself there).
    """

    def __init__(self, open_store: Callable[[], ArchiveStore]) -> None:
        self._open_store = open_store
        self._store: ArchiveStore | None = None
        self._lock = threading.Lock()

    def opened(self) -> ArchiveStore:
        """The store, opened now if it was not yet (blocking: call it in a thread)."""
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def close(self) -> None:
        """Release the database connections (worker shutdown, tests)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class ArchiveActivities:
    """The feed's activity over one archive.

    Args:
        archive: The worker's archive, or how to open one (tests).
    """

    def __init__(self, archive: LazyArchive | Callable[[], ArchiveStore]) -> None:
        self._archive = archive if isinstance(archive, LazyArchive) else LazyArchive(archive)

    def close(self) -> None:
        """Release the database connections (worker shutdown)."""
        self._archive.close()

    @activity.defn(name="archive_append")
    async def append(self, batch: ArchiveBatch) -> int:
        """Store the batch's new events and the view after them; returns the last ``seq`` stored.

        Raises:
            ApplicationError: ``ArchiveGap`` (not retryable) with the ``seq``
                the archive needs next as its detail; ``ArchiveNotMigrated``
                (not retryable) when the schema is behind the program.
        """
        try:
            result = await asyncio.to_thread(lambda: self._archive.opened().append(batch))
        except ArchiveGap as gap:
            raise ApplicationError(
                str(gap), gap.expected, type=ARCHIVE_GAP, non_retryable=True
            ) from None
        except ArchiveNotMigrated as error:
            raise ApplicationError(
                str(error), type="ArchiveNotMigrated", non_retryable=True
            ) from None
        return result.last_seq


def embedded_store(url: str) -> ArchiveStore:
    """The embedded SQLite archive, migrated on first use (``sla dev``, tests).

    A production database (``SLA_ARCHIVE_URL``) is migrated by ``sla archive
    migrate`` as a deployment step; the worker refuses to start before.
    """
    store = ArchiveStore.from_url(url)
    store.migrate()
    return store
