"""The automatic erasure's activity: erase the personal data of streams resolved long enough ago.

``[archive] personal_data_days`` after resolution, a reporter's personal data
leaves the archive (GDPR storage limitation); the SLA figures stay. The
nightly :class:`~workflows.erasure.PersonalDataErasureWorkflow` calls
:meth:`ErasureActivities.erase_due` by name (:data:`domain.archive.ERASE_DUE_ACTIVITY`)
so that ``workflows/`` never imports the archive.

A run is bounded (``limit`` streams, oldest resolution first); what it leaves
is the next night's. It is idempotent: an erased stream is never due again,
so a retried or repeated run only erases what is still left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.archive import LazyArchive
from archive.errors import ArchiveNotMigrated, UnknownStream
from archive.store import ArchiveStore
from domain.archive import (
    ERASE_DUE_ACTIVITY,
    DueErasure,
    DueErasureResult,
    automatic_erasure_reason,
)


class ErasureActivities:
    """The automatic erasure over one archive.

    Args:
        archive: The worker's archive, or how to open one (tests).
        remove_attachments: Deletes a ticket's saved attachment files with its
            personal data (the worker passes ``service.mail_parse.remove_attachments``
            on its data directory); ``None``: none kept here.
    """

    def __init__(
        self,
        archive: LazyArchive | Callable[[], ArchiveStore],
        remove_attachments: Callable[[str], int] | None = None,
    ) -> None:
        self._archive = archive if isinstance(archive, LazyArchive) else LazyArchive(archive)
        self._remove_attachments = remove_attachments

    def close(self) -> None:
        """Release the database connections (worker shutdown, tests)."""
        self._archive.close()

    @activity.defn(name=ERASE_DUE_ACTIVITY)
    async def erase_due(self, request: DueErasure) -> DueErasureResult:
        """Erase the streams resolved more than ``personal_data_days`` before ``now``.

        Each stream is its own transaction, so a run cut short keeps what it
        did; the SQLite index is merged once at the end (not per stream).
        Recorded with the reason ``automatic: personal_data_days=N``, by the
        run's workflow ID, at ``now``.

        Raises:
            ApplicationError: ``ArchiveNotMigrated`` (not retryable) when the
                schema is behind the program. An unreachable database raises
                as is, and Temporal retries with backoff.
        """
        before = request.now - timedelta(days=request.personal_data_days)
        info = activity.info()
        by = f"automatic erasure ({info.workflow_id})" if info.workflow_id else "automatic erasure"
        reason = automatic_erasure_reason(request.personal_data_days)
        try:
            store = await asyncio.to_thread(self._archive.opened)
            # One more than the limit tells whether the next run has work left.
            due = await asyncio.to_thread(store.due_for_erasure, before, request.limit + 1)
            erased: list[str] = []
            try:
                for stream_id in due[: request.limit]:
                    try:
                        await asyncio.to_thread(
                            partial(store.erase, stream_id, reason, request.now, by=by, purge=False)
                        )
                    except UnknownStream:
                        continue  # removed since it was listed: nothing left to erase
                    if self._remove_attachments is not None:
                        await asyncio.to_thread(self._remove_attachments, stream_id)
                    erased.append(stream_id)
                    activity.heartbeat(len(erased))
            finally:
                if erased:
                    await asyncio.to_thread(store.purge_index)
        except ArchiveNotMigrated as error:
            raise ApplicationError(
                str(error), type="ArchiveNotMigrated", non_retryable=True
            ) from None
        if erased:
            activity.logger.info(
                "erased the personal data of %d streams resolved before %s", len(erased), before
            )
        return DueErasureResult(before=before, erased=tuple(erased), more=len(due) > request.limit)
