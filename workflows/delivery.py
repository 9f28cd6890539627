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

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.mail import DeliveryReport


@dataclass(frozen=True)
class Undelivered:
    """Recipients a message did not reach, and why."""

    to: tuple[str, ...]
    error: str


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
        return Undelivered(refused, "; ".join(f"{a}: {why}" for a, why in report.refused.items()))
    return None
