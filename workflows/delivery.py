"""One rule for every workflow that sends mail: what counts as "not delivered".

Transient failures are retried by the activity's retry policy and surface
here only as the exception that ends the workflow task (to be retried). A
permanent failure (a non-retryable ``ApplicationError``, e.g. a 5xx answer) and
recipients the server refused while accepting others come back as
:class:`Undelivered`, which each workflow records as its own domain event.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.mail import DeliveryReport
    from activities.notifications import NotificationActivities
    from domain.messages import OutgoingMessage


@dataclass(frozen=True)
class Undelivered:
    """Recipients a message did not reach, and why."""

    to: tuple[str, ...]
    error: str
    # True: the server accepted the message for the other recipients.
    partial: bool = False


async def deliver(send: Awaitable[DeliveryReport], to: tuple[str, ...]) -> Undelivered | None:
    """Await a mail activity; ``None`` when every recipient got the message."""
    try:
        report = await send
    except ActivityError as error:
        cause = error.cause
        if not (isinstance(cause, ApplicationError) and cause.non_retryable):
            raise
        return Undelivered(to, cause.message)
    if report.refused:
        # Delivered to some recipients only: resending would duplicate for the others.
        refused = tuple(report.refused)
        reasons = "; ".join(f"{a}: {why}" for a, why in report.refused.items())
        return Undelivered(refused, reasons, partial=True)
    return None


async def deliver_message(
    message: OutgoingMessage, retry_policy: RetryPolicy
) -> Undelivered | None:
    """Send one templated e-mail (``send_message`` activity) and judge it with :func:`deliver`."""
    return await deliver(
        workflow.execute_activity_method(
            NotificationActivities.send_message,
            message,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=retry_policy,
            summary=f"e-mail {message.template} to {', '.join(message.to)}",
        ),
        message.to,
    )
