"""The notification activity: render a German e-mail and hand it to the mail transport."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from temporalio import activity

from activities.mail import DeliveryReport, Mailer
from activities.rendering import MessageRenderer
from domain.messages import OutgoingMessage
from domain.notifications import Notification


class NotificationActivities:
    """E-mail activities; the transport and renderer are injected (``worker.py`` wires them)."""

    def __init__(self, mailer: Mailer, renderer: MessageRenderer, sender: str) -> None:
        """Create the activities.

        Args:
            mailer: Outbox or SMTP transport.
            renderer: Template renderer.
            sender: ``From`` address, e.g. ``myconvento Support <support@myconvento.com>``.
        """
        self._mailer = mailer
        self._renderer = renderer
        self._sender = sender

    def compose(self, notification: Notification) -> EmailMessage:
        """The complete message; identical bytes for identical notifications."""
        subject, body = self._renderer.render(notification)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(notification.to)
        message["Subject"] = subject
        # Date and Message-ID come from the event, not the clock, so a retried
        # activity produces the very same message.
        message["Date"] = format_datetime(notification.event.at)
        message["Message-ID"] = notification.message_id
        message["X-SLA-Ticket"] = notification.facts.ticket_id
        message["X-SLA-Kind"] = notification.kind.value
        message.set_content(body, charset="utf-8", cte="quoted-printable")
        return message

    def compose_message(self, message: OutgoingMessage) -> EmailMessage:
        """A templated message; identical bytes for identical input."""
        subject, body = self._renderer.render_message(message)
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = ", ".join(message.to)
        email["Subject"] = subject
        email["Date"] = format_datetime(message.date)
        email["Message-ID"] = message.message_id
        email["X-SLA-Kind"] = message.kind or message.template
        email.set_content(body, charset="utf-8", cte="quoted-printable")
        return email

    @activity.defn
    async def send_message(self, message: OutgoingMessage) -> DeliveryReport:
        """Render and deliver a templated message (maintenance, on-call, audits …)."""
        report = await self._mailer.send(self.compose_message(message))
        activity.logger.info(
            "sent %s to %s (%s)%s",
            message.kind or message.template,
            ", ".join(message.to),
            report.where,
            f"; refused: {', '.join(report.refused)}" if report.refused else "",
        )
        return report

    @activity.defn
    async def send_notification(self, notification: Notification) -> DeliveryReport:
        """Compose and deliver one notification; reports where it went and who was refused."""
        message = self.compose(notification)
        report = await self._mailer.send(message)
        activity.logger.info(
            "sent %s for %s to %s (%s)%s",
            notification.kind.value,
            notification.facts.ticket_id,
            ", ".join(notification.to),
            report.where,
            f"; refused: {', '.join(report.refused)}" if report.refused else "",
        )
        return report
