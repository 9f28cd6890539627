"""``sla erase``: erase a closed stream's personal data from the archive (GDPR, issue 17).

The archive does the erasure (:meth:`archive.store.ArchiveStore.erase`); this
module adds what only the client side can know: whether Temporal still holds
the stream open. An incident that is still being worked on is refused: its
workflow would go on writing the reporter's data into mails and the status
page, and an erasure there would be a promise the system does not keep.
Temporal answering NOT_FOUND is fine: the run is past its retention and only
the archive has the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from archive.records import ErasureRecord
from archive.store import ArchiveStore
from service.mail_parse import remove_attachments


class ErasureRefused(Exception):
    """An erasure that must not happen now; ``str(error)`` is one line for the operator."""


async def temporal_status(client: Client, stream_id: str) -> WorkflowExecutionStatus | None:
    """The status of the newest run of workflow ``stream_id``; ``None`` when Temporal has none.

    Raises:
        RPCError: Temporal failed otherwise (unreachable, permission).
    """
    try:
        description = await client.get_workflow_handle(stream_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.status


async def erase_closed(
    connect: Callable[[], Awaitable[Client]],
    store: ArchiveStore,
    stream_id: str,
    reason: str,
    *,
    by: str | None,
    at: datetime,
    attachments_root: Path | None = None,
) -> ErasureRecord:
    """Erase ``stream_id``'s personal data from the archive, unless Temporal still holds it open.

    The archive is asked first, so that an unknown ticket is named as such
    even when Temporal cannot be reached.

    Args:
        connect: Connects to the Temporal namespace the stream's workflow ran
            in; called only once the archive knows the stream.
        store: The archive.
        stream_id: The ticket (or other stream) ID; it is the workflow ID.
        reason: Why (legal ground, request reference); checked by the caller.
        by: Who erases.
        at: When the erasure was asked for (aware).
        attachments_root: The data directory whose ``attachments/<ticket>/``
            the mailbox intake filled (``$SLA_DATA_DIR``); its files are
            deleted after the archive's erasure. ``None``: none kept here.

    Raises:
        UnknownStream: Nothing archived under ``stream_id``.
        ErasureRefused: Temporal still runs the stream's workflow.
        ArchiveError: The archive cannot be read or written.
        RPCError: Temporal cannot be asked (and whatever ``connect`` raises).
    """
    await asyncio.to_thread(store.get, stream_id)
    status = await temporal_status(await connect(), stream_id)
    if status == WorkflowExecutionStatus.RUNNING:
        raise ErasureRefused(
            f"{stream_id} is still open in Temporal: it is still being worked on; "
            "erase it after it is resolved and its workflow has closed"
        )
    record = await asyncio.to_thread(lambda: store.erase(stream_id, reason, at, by=by))
    if attachments_root is None:
        return record
    removed = await asyncio.to_thread(remove_attachments, attachments_root, stream_id)
    return record.model_copy(update={"attachments_removed": removed})
