"""The archive feed's activity: append one batch of a stream's events (idempotent).

The workflows hand over what each workflow task recorded (``domain.archive``,
``workflows/archive_feed.py``): first as a local activity inside the task, and
only when that fails as a regular activity that Temporal retries with backoff.
This activity stores it through :class:`archive.store.ArchiveStore`, exactly
once by ``(stream_id, seq)``, in group commits (:class:`GroupCommit`). While
the database is down it answers at once (the workflow task must not wait for
it; the incident's deadlines never do); a batch that starts after a missing
event is answered with the position the archive needs (``ArchiveGap``, not
retryable: the workflow resends from there).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from archive.errors import ArchiveGap, ArchiveNotMigrated, ArchiveUnavailable
from archive.records import AppendResult
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


GROUP_MAX = 200
"""Batches one group commit takes at most (one transaction, one lock)."""

STALLED = 2.0
"""Seconds a group may be writing before new batches are refused at once (a lock outage)."""

RESTING = 10.0
"""Seconds after a failed group during which new batches are refused at once."""


class GroupCommit:
    """The worker's appends, written by one writer in shared transactions.

    Every incident workflow hands over a batch per workflow task, many at
    once under load. Each in its own transaction, they would queue for
    SQLite's single write lock (its busy handler polls with sleeps) or for
    PostgreSQL's row locks and WAL flushes, and hold activity slots the
    e-mails need. Here one writer takes whatever batches wait, applies them
    in one transaction (a gap answers that batch only: it writes nothing)
    and answers each; while it writes, the next group gathers.

    Args:
        archive: The worker's archive.
    """

    def __init__(self, archive: LazyArchive) -> None:
        self._archive = archive
        self._waiting: list[tuple[ArchiveBatch, asyncio.Future[AppendResult | ArchiveGap]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._writing_since: float | None = None
        self._failed_at: float | None = None

    async def append(self, batch: ArchiveBatch) -> AppendResult:
        """Store ``batch`` with whatever else waits; its answer alone.

        Raises:
            ArchiveGap: The archive needs earlier events of this stream first.
            ArchiveError: The database failed (every batch of the group gets it).
        """
        self._refuse_while_down()
        answer: asyncio.Future[AppendResult | ArchiveGap] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((batch, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        result = await answer
        if isinstance(result, ArchiveGap):
            raise result
        return result

    def _refuse_while_down(self) -> None:
        """Fail at once while the archive is down: the workflow task waits for a local attempt.

        Raises:
            ArchiveUnavailable: A group has been writing for :data:`STALLED`
                seconds (a lock held elsewhere) or failed in the last
                :data:`RESTING` seconds; the workflow hands the batch to a
                regular activity, which retries with backoff.
        """
        now = time.monotonic()
        if self._writing_since is not None and now - self._writing_since > STALLED:
            raise ArchiveUnavailable(
                f"the archive has been writing for {now - self._writing_since:.0f} s; "
                "trying again later"
            )
        if self._failed_at is not None and now - self._failed_at < RESTING:
            raise ArchiveUnavailable(
                f"the archive failed {now - self._failed_at:.0f} s ago; trying again later"
            )

    def _append_many(self, batches: list[ArchiveBatch]) -> list[AppendResult | ArchiveGap]:
        return self._archive.opened().append_many(batches)

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:GROUP_MAX], self._waiting[GROUP_MAX:]
            self._writing_since = time.monotonic()
            try:
                answers = await asyncio.to_thread(self._append_many, [b for b, _ in group])
            except Exception as error:  # each caller gets the failure to retry
                self._failed_at = time.monotonic()
                for _, answer in group:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            finally:
                self._writing_since = None
            self._failed_at = None
            for (_, answer), result in zip(group, answers, strict=True):
                if not answer.done():
                    answer.set_result(result)


class ArchiveActivities:
    """The feed's activity over one archive.

    Args:
        archive: The worker's archive, or how to open one (tests).
    """

    def __init__(self, archive: LazyArchive | Callable[[], ArchiveStore]) -> None:
        self._archive = archive if isinstance(archive, LazyArchive) else LazyArchive(archive)
        self._group = GroupCommit(self._archive)

    def close(self) -> None:
        """Release the database connections (worker shutdown)."""
        self._archive.close()

    async def feed(self, batch: ArchiveBatch) -> int:
        """Store a batch an activity built (a dev ticket's): through the same group commit.

        Not an activity: the tracker's activities call it after their change
        (``DevTicketActivities``). While the archive is down it fails at once,
        as for the workflows' local attempts.

        Returns:
            The stream's last ``seq`` in the archive afterwards.

        Raises:
            ArchiveError: Unreachable or refusing (``ArchiveUnavailable``), or
                ``ArchiveGap`` for a batch that starts after a missing event.
        """
        return (await self._group.append(batch)).last_seq

    @activity.defn(name="archive_append")
    async def append(self, batch: ArchiveBatch) -> int:
        """Store the batch's new events and the view after them; returns the last ``seq`` stored.

        Raises:
            ApplicationError: ``ArchiveGap`` (not retryable) with the ``seq``
                the archive needs next as its detail; ``ArchiveNotMigrated``
                (not retryable) when the schema is behind the program.
        """
        try:
            result = await self._group.append(batch)
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
