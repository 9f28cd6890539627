"""One rule for every workflow that sends mail: what counts as "not delivered".

Transient failures are retried by the activity's retry policy for at most
the policy's ``[effects] give_up_after`` (schedule-to-close; default
:data:`~workflows.options.EFFECT_GIVE_UP`). A permanent failure (a non-retryable
``ApplicationError``, e.g. a 5xx answer, a message that cannot be composed), a
message still not delivered when that time is up, and recipients the server
refused while accepting others come back as :class:`Undelivered`, which each
workflow records as its own domain event. :func:`attempt` does the same for any
other side effect (status posts, tracker updates): it never raises for them.

:func:`deliver_notification` sends an incident's e-mail *local first*: one
quick attempt as a local activity inside the workflow task, and only when that
fails a regular activity that retries with backoff (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    RetryState,
    TimeoutType,
)
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from workflows.options import EFFECT_GIVE_UP

with workflow.unsafe.imports_passed_through():
    from activities.mail import DeliveryReport
    from activities.notifications import NotificationActivities
    from domain.messages import OutgoingMessage
    from domain.notifications import Notification

# How long the local attempt may hold the workflow task. A local activity runs
# inside the task, so timers and updates that arrive meanwhile wait for it: a
# hanging mail server must not hold them for longer than this. Anything slower
# goes to the regular activity.
LOCAL_ATTEMPT = timedelta(seconds=10)
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# Regular mail activities: a message (rendered and sent) never takes a minute.
_MAIL_TIMEOUT = timedelta(seconds=60)


T = TypeVar("T")


@dataclass(frozen=True)
class Failed:
    """A side effect that failed for good (permanently, or after retrying for too long)."""

    error: str


@dataclass(frozen=True)
class Undelivered:
    """Recipients a message did not reach, and why."""

    to: tuple[str, ...]
    error: str
    # True: the server accepted the message for the other recipients.
    partial: bool = False


async def attempt(effect: Awaitable[T], give_up: timedelta = EFFECT_GIVE_UP) -> T | Failed:
    """Await a side-effect activity; failing for good is returned as :class:`Failed`.

    The activity must be scheduled with ``schedule_to_close_timeout`` (see
    :data:`~workflows.options.EFFECT_GIVE_UP`); other failures end the
    workflow task as before.
    """
    try:
        return await effect
    except ActivityError as error:
        reason = _final(error, give_up)
        if reason is None:
            raise
        return Failed(reason)


async def deliver(
    send: Awaitable[DeliveryReport], to: tuple[str, ...], give_up: timedelta = EFFECT_GIVE_UP
) -> Undelivered | None:
    """Await a mail activity; ``None`` when every recipient got the message."""
    result = await attempt(send, give_up)
    if isinstance(result, Failed):
        return Undelivered(to, result.error)
    return _judged(result, to)


def _final(error: ActivityError, give_up: timedelta) -> str | None:
    """Why a failed side effect will not succeed by itself, or ``None`` if it might."""
    permanent = _permanent(error)
    if permanent is not None:
        return permanent.message
    cause = error.cause
    timed_out = isinstance(cause, ActivityTimeoutError) and (
        cause.type == TimeoutType.SCHEDULE_TO_CLOSE
    )
    # The server also stops retrying, with the last failure as the cause, when
    # the next attempt would start after the schedule-to-close deadline.
    if timed_out or error.retry_state == RetryState.TIMEOUT:
        last = cause.cause if timed_out and isinstance(cause, ActivityTimeoutError) else cause
        hours = give_up.total_seconds() / 3600
        return f"gave up after {hours:g} h of retries; last error: {last or error}"
    return None


def _permanent(error: FailureError) -> ApplicationError | None:
    """The non-retryable cause of a failed mail activity, if that is why it failed."""
    # A regular activity's failure wraps the cause in an ActivityError; a local
    # activity's last attempt can surface as the ApplicationError itself.
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return cause
    return None


def _judged(report: DeliveryReport, to: tuple[str, ...]) -> Undelivered | None:
    if report.refused:
        # Delivered to some recipients only: resending would duplicate for the others.
        refused = tuple(report.refused)
        reasons = "; ".join(f"{a}: {why}" for a, why in report.refused.items())
        return Undelivered(refused, reasons, partial=True)
    return None


async def deliver_message(
    message: OutgoingMessage, retry_policy: RetryPolicy, give_up: timedelta = EFFECT_GIVE_UP
) -> Undelivered | None:
    """Send one templated e-mail (``send_message`` activity) and judge it with :func:`deliver`."""
    return await deliver(
        workflow.execute_activity_method(
            NotificationActivities.send_message,
            message,
            start_to_close_timeout=_MAIL_TIMEOUT,
            schedule_to_close_timeout=give_up,
            retry_policy=retry_policy,
            summary=f"e-mail {message.template} to {', '.join(message.to)}",
        ),
        message.to,
        give_up,
    )


async def deliver_notification(
    notification: Notification,
    retry_policy: RetryPolicy,
    *,
    local_first: bool = True,
    give_up: timedelta = EFFECT_GIVE_UP,
) -> Undelivered | None:
    """Send an incident's e-mail (``send_notification``) and judge it with :func:`deliver`.

    Local first: a message that goes out at once costs one marker event in
    history instead of an activity's three events and the workflow task that
    reports its completion. Only a transient failure of that single attempt
    (mail server down, or slower than :data:`LOCAL_ATTEMPT`) hands the message
    to a regular activity with ``retry_policy``; a permanent failure is final
    either way. A worker crash during the attempt fails the workflow task, and
    its retry attempts again. Every path sends the same message with the same
    Message-ID, so a message sent twice around a failure (e.g. a slow server
    that accepted it after the attempt timed out) is a duplicate a receiver
    drops, never a second distinct message.

    Args:
        notification: The e-mail to send.
        retry_policy: Retries of the regular activity (backoff during an outage).
        local_first: ``False`` keeps the regular activity only (incidents
            started before local-first delivery replay that way).
        give_up: How long the regular activity retries (schedule-to-close).

    Returns:
        ``None`` when every recipient got the message, else who did not and why.
    """
    summary = f"e-mail {notification.kind.value} to {', '.join(notification.to)}"
    if local_first:
        try:
            report = await workflow.execute_local_activity_method(
                NotificationActivities.send_notification,
                notification,
                start_to_close_timeout=LOCAL_ATTEMPT,
                retry_policy=_ONE_ATTEMPT,
                summary=summary,
            )
        except CancelledError:
            raise
        except FailureError as error:
            permanent = _permanent(error)
            if permanent is not None:
                return Undelivered(notification.to, permanent.message)
            workflow.logger.info(
                "e-mail %s not sent at once (%s): retrying with backoff",
                notification.kind.value,
                error.cause or error,
            )
        else:
            return _judged(report, notification.to)
    return await deliver(
        workflow.execute_activity_method(
            NotificationActivities.send_notification,
            notification,
            start_to_close_timeout=_MAIL_TIMEOUT,
            schedule_to_close_timeout=give_up,
            retry_policy=retry_policy,
            summary=summary,
        ),
        notification.to,
        give_up,
    )
