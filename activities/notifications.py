"""The notification activity: render a German e-mail and hand it to the mail transport.

Composition (headers, text and HTML parts, threading) is :mod:`activities.composer`.

Both activities count deliveries with the activity's metric meter
(docs/OBSERVABILITY.md): ``sla_emails_sent{kind}`` for every message the
transport accepted, ``sla_emails_failed{reason}`` for every failed attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from enum import StrEnum

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.composer import Brand, MailComposer, header_text
from activities.mail import DeliveryReport, Mailer
from activities.rendering import MessageRenderer
from domain.messages import OutgoingMessage
from domain.notifications import Notification

__all__ = [
    "EMAILS_FAILED",
    "EMAILS_SENT",
    "MESSAGE_NOT_COMPOSABLE",
    "FailureReason",
    "NotificationActivities",
    "composed",
    "deliver_counted",
    "failure_reason",
    "header_text",
]

EMAILS_SENT = "sla_emails_sent"
EMAILS_FAILED = "sla_emails_failed"
_SENT_HELP = "E-mails the transport accepted, by kind"
_FAILED_HELP = "Failed e-mail delivery attempts, by reason"


class FailureReason(StrEnum):
    """The ``reason`` label of ``sla_emails_failed`` (a small, fixed set)."""

    PERMANENT = "permanent"  # the server refused the message or every recipient (5xx)
    CONFIGURATION = "configuration"  # e.g. the SMTP login was refused
    TRANSIENT = "transient"  # anything Temporal retries: connection refused, 4xx, timeout
    RECIPIENTS_REFUSED = "recipients_refused"  # sent, but some recipients were refused


def failure_reason(error: Exception) -> FailureReason:
    """Classify a failed delivery attempt the way the transports raise it (activities/mail.py)."""
    if isinstance(error, ApplicationError) and error.non_retryable:
        if error.type == "SmtpConfigurationError":
            return FailureReason.CONFIGURATION
        return FailureReason.PERMANENT
    return FailureReason.TRANSIENT


async def deliver_counted(mailer: Mailer, message: EmailMessage, kind: str) -> DeliveryReport:
    """Send ``message`` through ``mailer`` and count the outcome on the activity's meter.

    Every attempt counts, so a message that fails twice and then goes out adds
    two failures and one delivery. Failures are re-raised unchanged.

    Args:
        mailer: The transport.
        message: The composed message.
        kind: The ``kind`` label of ``sla_emails_sent`` (notification kind or template).

    Returns:
        The transport's report.
    """
    meter = activity.metric_meter()
    try:
        report = await mailer.send(message)
    except Exception as error:
        failed = meter.create_counter(EMAILS_FAILED, _FAILED_HELP)
        failed.add(1, {"reason": failure_reason(error).value})
        raise
    meter.create_counter(EMAILS_SENT, _SENT_HELP).add(1, {"kind": kind})
    if report.refused:
        failed = meter.create_counter(EMAILS_FAILED, _FAILED_HELP)
        failed.add(1, {"reason": FailureReason.RECIPIENTS_REFUSED.value})
    return report


MESSAGE_NOT_COMPOSABLE = "MessageNotComposable"
"""``ApplicationError`` type of a message that cannot be rendered or put into an e-mail."""


def composed(build: Callable[[], EmailMessage], what: str) -> EmailMessage:
    """``build()`` the e-mail; any failure is permanent.

    Rendering and composing are deterministic: a template error, a date a
    template cannot format or a header that does not encode fails every retry
    the same way. So it is a non-retryable failure the workflow records as
    undelivered at once, instead of retrying it and holding back the effects
    behind it.

    Raises:
        ApplicationError: ``MessageNotComposable``, not retryable.
    """
    try:
        return build()
    except Exception as error:  # deterministic: see above
        raise ApplicationError(
            f"{what} e-mail cannot be composed: {type(error).__name__}: {error}",
            type=MESSAGE_NOT_COMPOSABLE,
            non_retryable=True,
        ) from error


class NotificationActivities:
    """E-mail activities; the transport and renderer are injected (``worker.py`` wires them)."""

    def __init__(
        self,
        mailer: Mailer,
        renderer: MessageRenderer,
        sender: str,
        *,
        reply_to: str | None = None,
        status_page_url: str | None = None,
        brand: Brand | None = None,
    ) -> None:
        """Create the activities.

        Args:
            mailer: Outbox or SMTP transport.
            renderer: Template renderer.
            sender: ``From`` address, e.g. ``myconvento Support <support@myconvento.com>``.
            reply_to: ``Reply-To``; the sender (the support address) when not given.
            status_page_url: The policy's status page, for mails whose data names none.
            brand: The company the HTML part names.
        """
        self._mailer = mailer
        self._composer = MailComposer(
            renderer, sender, reply_to=reply_to, status_page_url=status_page_url, brand=brand
        )

    def compose(self, notification: Notification) -> EmailMessage:
        """The complete message; identical bytes for identical notifications.

        Raises:
            ApplicationError: ``MessageNotComposable`` (not retryable), see :func:`composed`.
        """
        return composed(lambda: self._composer.notification(notification), notification.kind.value)

    def compose_message(self, message: OutgoingMessage) -> EmailMessage:
        """A templated message; identical bytes for identical input.

        Raises:
            ApplicationError: ``MessageNotComposable`` (not retryable), see :func:`composed`.
        """
        return composed(lambda: self._composer.message(message), message.template)

    @activity.defn
    async def send_message(self, message: OutgoingMessage) -> DeliveryReport:
        """Render and deliver a templated message (maintenance, on-call, audits …)."""
        kind = message.kind or message.template
        report = await deliver_counted(self._mailer, self.compose_message(message), kind)
        activity.logger.info(
            "sent %s to %s (%s)%s",
            kind,
            ", ".join(message.to),
            report.where,
            f"; refused: {', '.join(report.refused)}" if report.refused else "",
        )
        return report

    @activity.defn
    async def send_notification(self, notification: Notification) -> DeliveryReport:
        """Compose and deliver one notification; reports where it went and who was refused."""
        message = self.compose(notification)
        report = await deliver_counted(self._mailer, message, notification.kind.value)
        activity.logger.info(
            "sent %s for %s to %s (%s)%s",
            notification.kind.value,
            notification.facts.ticket_id,
            ", ".join(notification.to),
            report.where,
            f"; refused: {', '.join(report.refused)}" if report.refused else "",
        )
        return report
