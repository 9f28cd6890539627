"""Reopening a closed ticket, and a customer's reply to one (``[reopen]`` in the policy).

Shared by ``sla reopen`` and the mailbox intake. A closed ticket is found in
Temporal first, in the archive once Temporal has forgotten it (its view
carries every event of every run, folded here with :func:`domain.incident.fold`);
the rules say whether it may be reopened (:func:`domain.reopen.refusal`), and a
new run of :class:`~workflows.incident.IncidentWorkflow` with the same
workflow ID (the ticket ID) starts from the closed state: with
``IncidentInput.reopen`` it reopens the ticket, with ``IncidentInput.note`` it
only keeps the reply on the timeline, tells the team and ends closed again.
Only a closed run's ID is reused: a running one makes the start fail.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from archive.errors import ArchiveError, UnknownStream
from domain import reopen
from domain.errors import describe_validation_error
from domain.incident import (
    CustomerMessageReceived,
    IncidentReopened,
    IncidentState,
    NoteReply,
    ReopenSource,
    fold,
)
from domain.sla import ReplyHandling, Severity, SlaPolicy
from service.archive import open_archive_if_any
from service.incident_source import (
    ArchiveOpener,
    IncidentNotFound,
    IncidentSource,
    find_incident,
)
from service.incidents import Targets, oncall_windows_for
from service.queries import incident_view
from workflows.incident import IncidentInput, IncidentWorkflow, Reopening

__all__ = [
    "ClosedTicket",
    "IncidentNotFound",
    "ReopenRefused",
    "ReopenResult",
    "ReplyOutcome",
    "closed_ticket",
    "note_reply",
    "reopen_incident",
    "reply_to_closed",
    "window_end_of",
]

log = logging.getLogger(__name__)

APPLIED_WAIT = timedelta(seconds=20)
"""How long :func:`reopen_incident` waits for the new run to report its deadlines."""


class ReopenRefused(Exception):
    """The ticket cannot be reopened (or noted); the message says why, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClosedTicket(BaseModel):
    """A ticket as the reopen rules see it.

    Attributes:
        state: Every event of every run, folded.
        source: Where it was read (Temporal, or the archive).
        erased: The reporter's personal data was erased in the archive.
        memo: The last run's memo (the intake request ID), carried to the new run.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    state: IncidentState
    source: IncidentSource
    erased: bool = False
    memo: dict[str, Any] = {}


class ReopenResult(BaseModel):
    """What ``sla reopen`` answers.

    Attributes:
        ticket_id: The ticket (also the new run's workflow ID).
        run_id: The new run.
        source: Where the closed ticket was read.
        period: The number of the new period (2 after the first reopen).
        reopened_at: The reopen instant (``None``: the worker has not applied it yet).
        severity: The severity the new clock runs on.
        reaction_due: The new reaction deadline (``None`` as for ``reopened_at``).
        resolution_due: The new resolution deadline (``None`` likewise).
        window_end: When the reopen window closed.
    """

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    run_id: str | None
    source: IncidentSource
    period: int
    reopened_at: datetime | None
    severity: Severity
    reaction_due: datetime | None
    resolution_due: datetime | None
    window_end: datetime


class ReplyOutcome(StrEnum):
    """What a customer's reply to a closed ticket did."""

    NOTED = "noted"  # kept on the timeline, the team told; still closed
    REOPENED = "reopened"
    OUTSIDE_WINDOW = "outside_window"  # the caller opens a new report


async def closed_ticket(
    client: Client, ticket_id: str, *, archive: ArchiveOpener | None = open_archive_if_any
) -> ClosedTicket:
    """The ticket's folded state, from Temporal or the archive.

    Raises:
        IncidentNotFound: Neither knows it.
        RPCError: Temporal failed otherwise.
    """
    located = await find_incident(client, ticket_id, archive=archive)
    erased = located.erased_at is not None
    memo: dict[str, Any] = {}
    if located.source is IncidentSource.TEMPORAL:
        erased = erased or await asyncio.to_thread(_erased_in_archive, archive, ticket_id)
        try:
            memo = dict(await (await client.get_workflow_handle(ticket_id).describe()).memo())
        except RPCError as error:  # pragma: no cover - deleted between the two reads
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
    state = fold(None, located.events)
    return ClosedTicket(state=state, source=located.source, erased=erased, memo=memo)


def _erased_in_archive(archive: ArchiveOpener | None, ticket_id: str) -> bool:
    """Whether the archive erased the ticket's personal data while Temporal still has the run."""
    if archive is None:
        return False
    try:
        store = archive()
        if store is None:
            return False
        try:
            return store.get(ticket_id).erased_at is not None
        finally:
            store.close()
    except UnknownStream:
        return False
    except ArchiveError as error:
        # Temporal's copy is the live one; an archive that cannot be read
        # cannot have erased what Temporal still holds unerased.
        log.warning("archive not read for %s: %s", ticket_id, error)
        return False


def window_end_of(state: IncidentState, policy: SlaPolicy) -> datetime | None:
    """When ``state``'s reopen window closes under ``policy`` (``None``: off or open)."""
    if state.resolved_at is None:
        return None
    return reopen.window_end(policy.calendar, state.resolved_at, policy.reopen.window_business_days)


async def reopen_incident(
    client: Client,
    ticket_id: str,
    *,
    reason: str,
    by: str,
    policy: SlaPolicy | None = None,
    source: ReopenSource = ReopenSource.OPERATOR,
    targets: Targets | None = None,
    now: datetime | None = None,
    archive: ArchiveOpener | None = open_archive_if_any,
    wait: timedelta = APPLIED_WAIT,
    reply: NoteReply | None = None,
) -> ReopenResult:
    """Reopen the closed ticket ``ticket_id`` in a new run with the same workflow ID.

    Args:
        client: Temporal.
        ticket_id: The ticket.
        reason: Why (told to the customer); one line or a short text.
        by: Who asks.
        policy: The policy (window, calendar; default: the shipped one).
        source: An operator, or a customer's reply.
        targets: Task queue and status page of the new run.
        now: The instant the window is judged at (default: now).
        archive: Opens the archive for tickets Temporal no longer has.
        wait: How long to wait for the new run to report its deadlines.
        reply: The customer's reply that reopens it (recorded after the reopen).

    Raises:
        IncidentNotFound: Unknown ticket.
        ReopenRefused: Still open, outside the window (its end named), erased,
            a change request, reopening off, a bad reason, or the run is
            still closing.
    """
    policy = policy or SlaPolicy.default()
    targets = targets or Targets()
    ticket = await closed_ticket(client, ticket_id, archive=archive)
    state = ticket.state
    end = window_end_of(state, policy)
    why = reopen.refusal(state, now or datetime.now(UTC), end, erased=ticket.erased)
    if why is not None or end is None:
        raise ReopenRefused(why or "reopening is off in this policy")
    try:
        reopening = Reopening(reason=reason, by=by, source=source, window_end=end)
    except ValidationError as error:
        raise ReopenRefused(f"reopen refused: {describe_validation_error(error)}") from None
    handle = await _start_run(client, ticket, policy, targets, reopen=reopening, note=reply)
    applied = await _reopened_event(client, ticket_id, len(state.events), wait)
    deadlines = applied.deadlines[applied.severity] if applied is not None else None
    return ReopenResult(
        ticket_id=ticket_id,
        run_id=handle.result_run_id,
        source=ticket.source,
        period=state.period + 1,
        reopened_at=applied.at if applied is not None else None,
        severity=state.severity,
        reaction_due=deadlines.reaction_due if deadlines is not None else None,
        resolution_due=deadlines.resolution_due if deadlines is not None else None,
        window_end=end,
    )


async def note_reply(
    client: Client,
    ticket: ClosedTicket,
    reply: NoteReply,
    *,
    policy: SlaPolicy,
    targets: Targets | None = None,
) -> bool:
    """Keep ``reply`` on the closed ``ticket`` in a short run (same workflow ID).

    Returns:
        ``True`` when a run was started; ``False`` when the reply was already
        recorded (the same Message-ID): nothing to do.

    Raises:
        ReopenRefused: The ticket's last run has not closed yet.
    """
    if any(
        isinstance(e, CustomerMessageReceived) and e.message_id == reply.message_id
        for e in ticket.state.events
    ):
        return False
    await _start_run(client, ticket, policy, targets or Targets(), note=reply)
    return True


async def reply_to_closed(
    client: Client,
    ticket_id: str,
    reply: NoteReply,
    *,
    policy: SlaPolicy,
    targets: Targets | None = None,
    now: datetime | None = None,
    archive: ArchiveOpener | None = open_archive_if_any,
) -> ReplyOutcome:
    """A customer's reply to a closed ticket: noted or reopening within the window.

    ``[reopen] on_reply`` decides which; after the window (or when the ticket
    cannot be reopened at all) the caller opens a new report from the mail.

    Raises:
        IncidentNotFound: Unknown ticket.
        ReopenRefused: The ticket's last run has not closed yet (try again).
    """
    ticket = await closed_ticket(client, ticket_id, archive=archive)
    state = ticket.state
    end = window_end_of(state, policy)
    if reopen.refusal(state, now or datetime.now(UTC), end, erased=ticket.erased) is not None:
        if state.is_open:
            raise ReopenRefused(f"incident {ticket_id} is open again; send the reply to it")
        return ReplyOutcome.OUTSIDE_WINDOW
    if policy.reopen.on_reply is ReplyHandling.NOTE:
        await note_reply(client, ticket, reply, policy=policy, targets=targets)
        return ReplyOutcome.NOTED
    if any(
        isinstance(e, CustomerMessageReceived) and e.message_id == reply.message_id
        for e in state.events
    ):
        return ReplyOutcome.REOPENED  # this mail reopened it before (fetched twice)
    lines = reply.text.strip().splitlines()
    about = reply.subject or (lines[0] if lines else "")
    await reopen_incident(
        client,
        ticket_id,
        reason=f"Antwort des Kunden ({reply.sender}): {about}"[:500],
        by=reply.sender,
        policy=policy,
        source=ReopenSource.CUSTOMER_REPLY,
        targets=targets,
        now=now,
        archive=archive,
        wait=timedelta(0),
        reply=reply,
    )
    return ReplyOutcome.REOPENED


async def _start_run(
    client: Client,
    ticket: ClosedTicket,
    policy: SlaPolicy,
    targets: Targets,
    *,
    reopen: Reopening | None = None,
    note: NoteReply | None = None,
) -> WorkflowHandle[IncidentWorkflow, Any]:
    state = ticket.state
    windows = await oncall_windows_for(client, state.report.company, policy)
    try:
        return await client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(
                ticket_id=state.ticket_id,
                report=state.report,
                received_at=state.received_at,
                policy=policy,
                status_page_id=targets.status_page_id,
                state=state,
                customer_lane=True,
                rules=state.rules,
                oncall_windows=windows,
                reopen=reopen,
                note=note,
                # Its events go to the archive again from the first: the
                # archive keeps each (stream_id, seq) once and adds the new ones.
                archive_feed=True,
            ),
            id=state.ticket_id,
            task_queue=targets.task_queue,
            # The same ticket continues: a closed run's ID is taken again, a
            # running one's never (the start fails instead).
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            memo=ticket.memo or None,
            static_summary=(
                f"{state.ticket_id} · {state.report.company_or_unknown} · "
                + ("wieder eröffnet" if reopen is not None else "Antwort des Kunden")
            ),
        )
    except WorkflowAlreadyStartedError:
        raise ReopenRefused(
            f"incident {state.ticket_id} is still running (closing, or reopened meanwhile); "
            "try again in a moment"
        ) from None


async def _reopened_event(
    client: Client, ticket_id: str, before: int, wait: timedelta
) -> IncidentReopened | None:
    """The new run's ``IncidentReopened`` once its worker recorded it (``None`` after ``wait``).

    The deadlines are computed by the run (from its own instant, in a local
    activity), so the answer reads them back rather than guessing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait.total_seconds()
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, ticket_id)
    while True:
        status = (await handle.describe()).status
        if status == WorkflowExecutionStatus.FAILED:
            # The run refused (the window closed between our check and its start).
            try:
                await handle.result(follow_runs=False)
            except WorkflowFailureError as error:
                cause = error.cause
                raise ReopenRefused(
                    cause.message if isinstance(cause, ApplicationError) else str(error)
                ) from None
        try:
            view = await incident_view(client, ticket_id, status)
        except (RPCError, WorkflowQueryFailedError):
            view = None  # the worker has not answered yet
        if view is not None:
            found = [e for e in view.events[before:] if isinstance(e, IncidentReopened)]
            if found:
                return found[0]
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.2)
