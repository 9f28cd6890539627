"""The incident side of the mailbox intake: :class:`service.mailbox.IntakeSink` over Temporal.

A new mail opens an incident through the same intake as every other door
(idempotent by the mail's Message-ID, which is its ``request_id``); a reply
joins its incident as a customer message (once per Message-ID). A reply to
a resolved ticket within the policy's reopen window (``[reopen]``) is kept on
that ticket: as a timeline message with the team told (``on_reply = "note"``,
the default), or it reopens the ticket (``"reopen"``), see
:mod:`service.reopen`. A reply to an unknown ticket, or after the window, is
answered ``False``: the mailbox intake then opens a new ticket from it, so
nothing a customer writes is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import IntakeError, describe_validation_error
from domain.incident import NoteReply, RecordCustomerMessage
from domain.sla import SlaPolicy
from service.archive import open_archive_if_any
from service.incident_source import ArchiveOpener, IncidentNotFound
from service.incident_updates import UpdateNotTaken, add_customer_message
from service.incidents import Targets, open_incident
from service.reopen import ReopenRefused, ReplyOutcome, reply_to_closed

__all__ = ["MAILBOX_SOURCE", "TemporalIntakeSink", "company_of_sender"]

MAILBOX_SOURCE = "mailbox"
"""The intake source recorded on reports that came by e-mail."""


def company_of_sender(policy: SlaPolicy, sender: str) -> str | None:
    """The directory company that lists ``sender`` as a contact, if exactly one does."""
    address = sender.strip().lower()
    found = {c.company for c in policy.customers if address in {a.lower() for a in c.contacts}}
    return next(iter(found)) if len(found) == 1 else None


class TemporalIntakeSink:
    """Opens incidents and records replies for :class:`service.mailbox.MailIntake`."""

    def __init__(
        self,
        client: Client,
        policy: SlaPolicy,
        *,
        targets: Targets | None = None,
        archive: ArchiveOpener | None = open_archive_if_any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Use ``client``; incidents run under ``policy`` on ``targets``.

        ``archive`` finds tickets Temporal no longer holds (a reply within the
        reopen window to one whose run is gone); ``clock`` is what the window
        is judged by.
        """
        self._client = client
        self._policy = policy
        self._targets = targets or Targets()
        self._archive = archive
        self._clock = clock

    async def open_report(self, fields: dict[str, object]) -> str:
        """Open (or find again) the incident of one mail; returns its ticket ID.

        Raises:
            IntakeError: The report is refused (e.g. no text at all).
        """
        if "company" not in fields and isinstance(fields.get("email"), str):
            company = company_of_sender(self._policy, str(fields["email"]))
            if company is not None:
                fields = {**fields, "company": company}
        opened = await open_incident(
            self._client,
            fields,
            policy=self._policy,
            source=MAILBOX_SOURCE,
            task_queue=self._targets.task_queue,
            status_page_id=self._targets.status_page_id,
        )
        return opened.ticket_id

    async def add_customer_message(
        self,
        ticket_id: str,
        *,
        message_id: str,
        sender: str,
        subject: str,
        text: str,
        attachments: tuple[str, ...],
    ) -> bool:
        """Record a reply on ``ticket_id``; ``False`` when a new report should be opened.

        A reply to a resolved ticket within the reopen window is kept on it
        (or reopens it, as the policy says); ``False`` for an unknown ticket
        and after the window.

        Raises:
            IntakeError: The message cannot be recorded as it is (a malformed
                sender, say): the mail is set aside, not retried forever.
        """
        try:
            command = RecordCustomerMessage(
                message_id=message_id,
                sender=sender,
                subject=subject,
                text=text,
                attachments=attachments,
            )
        except ValidationError as error:
            raise IntakeError(f"reply refused: {describe_validation_error(error)}") from None
        try:
            await add_customer_message(self._client, ticket_id, command)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return await self._to_closed(ticket_id, command)  # the archive may have it
            raise
        except UpdateNotTaken as error:
            if error.closed:
                return await self._to_closed(ticket_id, command)
            raise
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in ("WrongStatus",):
                # Resolved while the mail was on its way.
                return await self._to_closed(ticket_id, command)
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            raise IntakeError(f"reply refused: {message}") from None
        return True

    async def _to_closed(self, ticket_id: str, command: RecordCustomerMessage) -> bool:
        """A reply to a closed ticket: noted or reopening within the window, else ``False``."""
        reply = NoteReply(**command.model_dump(exclude={"kind"}))
        try:
            outcome = await reply_to_closed(
                self._client,
                ticket_id,
                reply,
                policy=self._policy,
                targets=self._targets,
                now=self._clock(),
                archive=self._archive,
            )
        except IncidentNotFound:
            return False
        except ReopenRefused as error:
            # Its last run is still closing (or it was reopened a moment ago):
            # a transient state, so the mail is tried again in the next round.
            raise ConnectionError(f"reply to {ticket_id} deferred: {error.message}") from None
        return outcome is not ReplyOutcome.OUTSIDE_WINDOW
