"""The incident side of the mailbox intake: :class:`service.mailbox.IntakeSink` over Temporal.

A new mail opens an incident through the same intake as every other door
(idempotent by the mail's Message-ID, which is its ``request_id``); a reply
joins its incident as a customer message (once per Message-ID). A reply to
a closed or unknown ticket is answered ``False``: the mailbox intake then
opens a new ticket from it, so nothing a customer writes is dropped.
"""

from __future__ import annotations

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import IntakeError, describe_validation_error
from domain.incident import RecordCustomerMessage
from domain.sla import SlaPolicy
from service.incident_updates import UpdateNotTaken, add_customer_message
from service.incidents import Targets, open_incident

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
        self, client: Client, policy: SlaPolicy, *, targets: Targets | None = None
    ) -> None:
        """Use ``client``; incidents run under ``policy`` on ``targets``."""
        self._client = client
        self._policy = policy
        self._targets = targets or Targets()

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
        """Record a reply on ``ticket_id``; ``False`` when the ticket is unknown or closed.

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
                return False
            raise
        except UpdateNotTaken as error:
            if error.closed:
                return False
            raise
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in ("WrongStatus",):
                return False  # resolved while the mail was on its way
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            raise IntakeError(f"reply refused: {message}") from None
        return True
