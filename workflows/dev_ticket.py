"""Short workflows for ``sla dev-ticket …``: the tracker lives with the worker.

The development-ticket tracker (``$SLA_DATA_DIR/devtickets.sqlite3`` of the
worker, or Jira …) is only ever touched by the worker's adapter, so the
command line reaches it through these workflows on the task queue (like
``LinkBugWorkflow``):

* ``ReadDevTicketsWorkflow`` — one ticket (``show``) or a filtered list (``list``);
* ``TransitionDevTicketWorkflow`` — an operator's move of a bug ticket, checked
  by the tracker (``domain.dev_ticket.check_transition``); a release starts
  ``NotifyReportersWorkflow`` with one German mail per linked incident's
  reporter and returns without waiting for the mail;
* ``NotifyReportersWorkflow`` — sends reporters' bug mails (also the DEV ID
  mail ``LinkBugWorkflow`` starts for a resolved incident), one Message-ID per
  dev ticket, incident and kind, so a retried send is the same message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

from workflows.delivery import deliver_message
from workflows.options import ACTIVITY_TIMEOUT, EFFECT_GIVE_UP, OPERATOR_RETRY, RETRY

with workflow.unsafe.imports_passed_through():
    from activities.dev_tickets import (
        DevTicket,
        DevTicketActivities,
        DevTicketList,
        DevTicketQuery,
        DevTicketRef,
    )
    from domain.dev_ticket import (
        DevTicketId,
        DevTicketKind,
        DevTicketStatus,
        DevTicketTransition,
        TransitionSource,
        bug_released_messages,
        unreachable_links,
    )
    from domain.messages import OutgoingMessage


# -- read -----------------------------------------------------------------------


class DevTicketRead(BaseModel):
    """Input of :class:`ReadDevTicketsWorkflow`: one ticket by ID, else a filtered list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dev_ticket_id: DevTicketId | None = None
    status: tuple[DevTicketStatus, ...] = ()
    kind: DevTicketKind | None = None


@workflow.defn
class ReadDevTicketsWorkflow:
    """Read the tracker for ``sla dev-ticket list|show``."""

    @workflow.run
    async def run(self, read: DevTicketRead) -> DevTicketList:
        """The ticket named (an unknown ID fails the workflow) or the matching tickets."""
        if read.dev_ticket_id is not None:
            ticket = await _operator_step(
                workflow.execute_activity_method(
                    DevTicketActivities.get_dev_ticket,
                    DevTicketRef(dev_ticket_id=read.dev_ticket_id),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=OPERATOR_RETRY,
                    summary=f"read {read.dev_ticket_id}",
                )
            )
            return DevTicketList(tickets=(ticket,))
        return await workflow.execute_activity_method(
            DevTicketActivities.list_dev_tickets,
            DevTicketQuery(status=read.status, kind=read.kind),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=OPERATOR_RETRY,
            summary="list development tickets",
        )


# -- transition -----------------------------------------------------------------


class DevTicketMove(BaseModel):
    """Input of :class:`TransitionDevTicketWorkflow`.

    Attributes:
        dev_ticket_id: The bug ticket.
        status: Where it goes (``in_progress``, ``fixed``, ``released``).
        note: Why (kept in the ticket's history; not sent to customers).
        release: The release that ships the fix (required for ``released``).
        timezone: Zone for times in the German release mails.
        give_up_after: How long a release mail is retried (the policy's
            ``[effects] give_up_after``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dev_ticket_id: DevTicketId
    status: DevTicketStatus
    note: str | None = Field(default=None, max_length=10_000)
    release: str | None = Field(default=None, max_length=64)
    timezone: str = "Europe/Berlin"
    give_up_after: timedelta = EFFECT_GIVE_UP


class DevTicketMoved(BaseModel):
    """Result of :class:`TransitionDevTicketWorkflow`.

    Attributes:
        ticket: The ticket after the move.
        notifying: Linked incidents whose reporters are being told of the release.
        not_notified: Linked incidents without a stored address (nobody to tell).
        notification_workflow: The workflow sending the release mails, if any.
    """

    model_config = ConfigDict(frozen=True)

    ticket: DevTicket
    notifying: tuple[str, ...] = ()
    not_notified: tuple[str, ...] = ()
    notification_workflow: str | None = None


class ReporterMails(BaseModel):
    """Input of :class:`NotifyReportersWorkflow`: mails fixed by the workflow that starts it."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[OutgoingMessage, ...]
    give_up_after: timedelta = EFFECT_GIVE_UP


class ReportersNotified(BaseModel):
    """Result of :class:`NotifyReportersWorkflow`: Message-IDs sent, and those not delivered."""

    model_config = ConfigDict(frozen=True)

    sent: tuple[str, ...] = ()
    undelivered: dict[str, str] = {}


async def start_reporter_mails(
    messages: list[OutgoingMessage], give_up: timedelta, *, about: str
) -> str | None:
    """Start :class:`NotifyReportersWorkflow` for ``messages`` without waiting for the mail.

    The operator gets the answer at once; the mails ride out a mail server
    outage on their own (``ABANDON``: they outlive the starting run). The
    child's ID (``bug-mails.<about>.<uuid>``, the UUID from the workflow's
    deterministic source) never collides with a notification still retrying
    for a repeated command. Returns the child's ID (``None``: no mail).
    """
    if not messages:
        return None
    child_id = f"bug-mails.{about}.{workflow.uuid4()}"
    await workflow.start_child_workflow(
        NotifyReportersWorkflow.run,
        ReporterMails(messages=tuple(messages), give_up_after=give_up),
        id=child_id,
        parent_close_policy=ParentClosePolicy.ABANDON,
    )
    return child_id


@workflow.defn
class TransitionDevTicketWorkflow:
    """An operator moves a bug ticket (``sla dev-ticket transition``)."""

    @workflow.run
    async def run(self, move: DevTicketMove) -> DevTicketMoved:
        """Move the ticket; a release starts the reporters' notification and returns.

        The move's idempotency key is this run: a retried activity is a no-op,
        a repeated command is a new move the tracker judges again (e.g. a
        second ``released`` is refused: released is final).
        """
        info = workflow.info()
        ticket = await _operator_step(
            workflow.execute_activity_method(
                DevTicketActivities.transition_dev_ticket,
                DevTicketTransition(
                    dev_ticket_id=move.dev_ticket_id,
                    status=move.status,
                    key=f"{info.workflow_id}.{info.run_id}",
                    note=move.note,
                    release=move.release,
                    by=TransitionSource.OPERATOR,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=OPERATOR_RETRY,
                summary=f"{move.dev_ticket_id} → {move.status.value}",
            )
        )
        if ticket.status is not DevTicketStatus.RELEASED:
            return DevTicketMoved(ticket=ticket)
        messages = bug_released_messages(ticket, workflow.now(), move.timezone)
        child_id = await start_reporter_mails(
            messages, move.give_up_after, about=move.dev_ticket_id
        )
        return DevTicketMoved(
            ticket=ticket,
            notifying=tuple(link.ticket_id for link in ticket.linked if link.contact.email),
            not_notified=unreachable_links(ticket),
            notification_workflow=child_id,
        )


@workflow.defn
class NotifyReportersWorkflow:
    """Send reporters' mails about their bug (its DEV ID, its released fix), side by side.

    Each mail's Message-ID is one per (incident, dev ticket, kind): a retried
    send is the same message, never a second one.
    """

    @workflow.run
    async def run(self, mails: ReporterMails) -> ReportersNotified:
        """Send every mail; returns which went out and which did not (and why)."""
        results = await asyncio.gather(
            *(deliver_message(m, RETRY, mails.give_up_after) for m in mails.messages)
        )
        undelivered = {
            m.message_id: result.error
            for m, result in zip(mails.messages, results, strict=True)
            if result is not None
        }
        for message_id, error in undelivered.items():
            workflow.logger.warning("reporter mail %s not delivered: %s", message_id, error)
        return ReportersNotified(
            sent=tuple(m.message_id for m in mails.messages if m.message_id not in undelivered),
            undelivered=undelivered,
        )


async def _operator_step(step: Awaitable[DevTicket]) -> DevTicket:
    """Await a tracker activity an operator waits for; the tracker's refusal fails the run.

    The operator reads the tracker's words (an unknown ID, an illegal move),
    not an activity wrapper's.
    """
    try:
        return await step
    except ActivityError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError):
            raise ApplicationError(
                cause.message, type=cause.type or "TrackerFailed", non_retryable=True
            ) from None
        raise ApplicationError(str(error), type="TrackerFailed", non_retryable=True) from None
