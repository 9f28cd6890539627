"""E-mail transports: an outbox of ``.eml`` files (default) or SMTP.

Both are idempotent per Message-ID as far as they can be: the outbox writes
one file per Message-ID (a retry overwrites it with identical bytes); SMTP may
deliver a retried message twice, but with the same Message-ID, which mail
clients and our reliability checks treat as one message.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from temporalio.exceptions import ApplicationError

from activities.files import write_atomic


class DeliveryReport(BaseModel):
    """Where a message went, and the recipients the server refused (address → reason)."""

    model_config = ConfigDict(frozen=True)

    where: str
    refused: dict[str, str] = {}


class Mailer(Protocol):
    """Something that delivers an e-mail message."""

    async def send(self, message: EmailMessage) -> DeliveryReport:
        """Deliver ``message``; says where it went and who was refused."""
        ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def outbox_name(message_id: str) -> str:
    """File name for a Message-ID: ``<INC-1.3.receipt@host>`` → ``INC-1.3.receipt.eml``."""
    local = message_id.strip("<>").split("@", 1)[0]
    return _UNSAFE.sub("_", local) + ".eml"


@dataclass(frozen=True)
class OutboxMailer:
    """Writes each message as an RFC 5322 ``.eml`` file into ``directory``."""

    directory: Path

    async def send(self, message: EmailMessage) -> DeliveryReport:
        """Write ``message`` atomically to ``<directory>/<message-id>.eml``."""
        path = self.directory / outbox_name(str(message["Message-ID"]))
        await asyncio.to_thread(write_atomic, path, bytes(message))
        return DeliveryReport(where=str(path))


class PermanentDeliveryError(Exception):
    """Delivery failed in a way a retry cannot fix."""


@dataclass(frozen=True)
class SmtpMailer:
    """Delivers through an SMTP server (optionally STARTTLS and login)."""

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0

    async def send(self, message: EmailMessage) -> DeliveryReport:
        """Send ``message``; 5xx answers become non-retryable ``ApplicationError``s.

        When the server accepts some recipients and refuses others, the message
        is not sent again (the accepted ones have it): the refused ones are
        returned in the report instead.
        """
        try:
            refused = await asyncio.to_thread(self._send_blocking, message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(code >= 500 for code in codes):
                raise ApplicationError(
                    f"recipients refused: {', '.join(exc.recipients)}",
                    type="PermanentDeliveryError",
                    non_retryable=True,
                ) from exc
            raise
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if exc.smtp_code >= 500:
                raise ApplicationError(
                    f"SMTP server refused the message: {exc.smtp_code} {exc.smtp_error!r}",
                    type="PermanentDeliveryError",
                    non_retryable=True,
                ) from exc
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ApplicationError(
                f"SMTP login refused: {exc.smtp_code}",
                type="SmtpConfigurationError",
                non_retryable=True,
            ) from exc
        return DeliveryReport(
            where=f"smtp://{self.host}:{self.port}",
            refused={
                address: f"{code} {reason.decode('utf-8', 'replace')}"
                for address, (code, reason) in refused.items()
            },
        )

    def _send_blocking(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            return smtp.send_message(message)
