"""E-mail transports: an outbox of ``.eml`` files (default) or SMTP.

Both are idempotent per Message-ID as far as they can be: the outbox writes
one file per Message-ID (a retry overwrites it with identical bytes); SMTP may
deliver a retried message twice, but with the same Message-ID, which mail
clients and our reliability checks treat as one message.

SMTP never sends a password in clear text: with a password, STARTTLS is on
unless the port is 465 (implicit TLS); a server that does not offer STARTTLS is
refused before the login. Switching TLS off explicitly
(``SLA_SMTP_STARTTLS=false``) with a password is refused unless the server is on
a loopback address (a local relay). The password shows in no ``repr``.
"""

from __future__ import annotations

import asyncio
import email.policy
import ipaddress
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr
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


class InsecureSmtpConfigError(ValueError):
    """The SMTP settings would send the password in clear text."""


IMPLICIT_TLS_PORT = 465
"""SMTP submission over TLS from the first byte (RFC 8314)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address literal.

    Names are not resolved: a name that happens to resolve to 127.0.0.1 today
    may not tomorrow, so only what the configuration itself says counts.
    """
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def use_starttls(
    host: str, *, password_set: bool, starttls: bool | None, implicit_tls: bool = False
) -> bool:
    """Whether to send STARTTLS; refuses settings that would expose the password.

    Args:
        host: The SMTP server.
        password_set: Whether a password will be sent (login).
        starttls: ``True``/``False`` when configured, ``None`` when not: then
            STARTTLS is on exactly when a password is set.
        implicit_tls: The connection is TLS from the start (port 465).

    Raises:
        InsecureSmtpConfigError: A password without any TLS to a server that is
            not on a loopback address; or STARTTLS inside implicit TLS.
    """
    if implicit_tls:
        if starttls:
            raise InsecureSmtpConfigError(
                "SMTP with implicit TLS (port 465) cannot also use STARTTLS: "
                "unset SLA_SMTP_STARTTLS or use port 587"
            )
        return False
    if starttls is None:
        return password_set
    if not starttls and password_set and not is_loopback_host(host):
        raise InsecureSmtpConfigError(
            f"SMTP to {host} with a password but without TLS (SLA_SMTP_STARTTLS=false) would "
            "send the password in clear text: set SLA_SMTP_STARTTLS=true (or leave it unset), "
            f"use port {IMPLICIT_TLS_PORT} for implicit TLS, or relay through a loopback address"
        )
    return starttls


def _tls_context() -> ssl.SSLContext:
    """Certificate and host name verified against the system's CAs."""
    return ssl.create_default_context()


@dataclass(frozen=True)
class SmtpMailer:
    """Delivers through an SMTP server, with login and TLS as configured.

    Attributes:
        host: SMTP server.
        port: SMTP port; 465 means implicit TLS when ``implicit_tls`` is not given.
        user: Login name; no login without it.
        password: Login password. Kept as a :class:`~pydantic.SecretStr`, so it
            shows in no ``repr``, ``str`` or ``dataclasses.asdict``.
        starttls: ``None`` (default): STARTTLS exactly when a password is set.
            ``False`` with a password is refused unless ``host`` is loopback.
        timeout: Socket timeout in seconds.
        implicit_tls: TLS from the first byte; ``None``: when ``port`` is 465.

    Raises:
        InsecureSmtpConfigError: At construction, see :func:`use_starttls`.
    """

    host: str
    port: int = 25
    user: str | None = None
    # A plain str is accepted (the environment gives one) and wrapped at once.
    password: SecretStr | str | None = field(default=None, repr=False)
    starttls: bool | None = None
    timeout: float = 30.0
    implicit_tls: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.password, str):
            object.__setattr__(self, "password", SecretStr(self.password))
        if self.implicit_tls is None:
            object.__setattr__(self, "implicit_tls", self.port == IMPLICIT_TLS_PORT)
        # Refused when built (at worker start), not at the first e-mail.
        _ = self.uses_starttls

    @property
    def uses_starttls(self) -> bool:
        """Whether the connection is upgraded with STARTTLS before anything else."""
        return use_starttls(
            self.host,
            password_set=self._password() is not None,
            starttls=self.starttls,
            implicit_tls=bool(self.implicit_tls),
        )

    def _password(self) -> str | None:
        secret = self.password
        if secret is None:
            return None
        return secret.get_secret_value() if isinstance(secret, SecretStr) else secret

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
        except smtplib.SMTPNotSupportedError as exc:
            # No STARTTLS offered (or no AUTH, or an address that needs SMTPUTF8
            # the server lacks): a retry would meet the same server.
            raise ApplicationError(
                f"SMTP server {self.host}:{self.port} cannot be used as configured: {exc}",
                type="SmtpConfigurationError",
                non_retryable=True,
            ) from exc
        except ssl.SSLError:
            raise  # a certificate or TLS problem may pass (a renewed certificate): retried
        except (ValueError, UnicodeError) as exc:
            # The message itself cannot be put on the wire (e.g. a header that
            # does not encode): every retry would fail the same way.
            raise ApplicationError(
                f"message cannot be sent: {type(exc).__name__}: {exc}",
                type="PermanentDeliveryError",
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
        starttls = self.uses_starttls
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=_tls_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if starttls:
                # Raises SMTPNotSupportedError when the server does not offer
                # it: before the login, so the password never leaves.
                smtp.starttls(context=_tls_context())
            if self.user:
                smtp.login(self.user, self._password() or "")
            sender, recipients = _envelope(message)
            international = not all(a.isascii() for a in (sender, *recipients))
            smtp.ehlo_or_helo_if_needed()  # the server's extensions are known after it
            if international and not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError(
                    "an address needs SMTPUTF8, which the server does not offer"
                )
            # Flattened here, not by `send_message`: its generator (without a
            # policy) writes a body line "From …" as ">From …", an mbox habit
            # that changes what the customer reads. The SMTP policies do not,
            # and end lines with CRLF as SMTP wants.
            smtp_policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
            data = message.as_bytes(policy=smtp_policy)
            options = ("SMTPUTF8", "BODY=8BITMIME") if international else ()
            return smtp.sendmail(sender, recipients, data, mail_options=options)


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """Envelope sender and recipients from the headers (as ``send_message`` reads them).

    Raises:
        ValueError: No sender or no recipient (nothing could be delivered).
    """
    sender = str(message["Sender"] or message["From"] or "")
    sender = getaddresses([sender])[0][1] if sender else ""
    recipients = [
        address
        for _, address in getaddresses(
            [str(v) for h in ("To", "Cc", "Bcc") for v in message.get_all(h, [])]
        )
        if address
    ]
    if not sender or not recipients:
        raise ValueError("the message names no sender or no recipient")
    if message["Bcc"] is not None:
        raise ValueError("Bcc is not used: every recipient is named in To or Cc")
    return sender, recipients


def smtp_mailer_from_env(env: Mapping[str, str] | None = None) -> SmtpMailer | None:
    """The SMTP mailer configured by ``SLA_SMTP_*``, or ``None`` without ``SLA_SMTP_HOST``.

    ``SLA_SMTP_HOST``, ``SLA_SMTP_PORT`` (25; 465 means implicit TLS),
    ``SLA_SMTP_USER``, ``SLA_SMTP_PASSWORD`` and ``SLA_SMTP_STARTTLS``
    (``true``/``false``; unset: on exactly when a password is set).

    Raises:
        ValueError: A malformed port or ``SLA_SMTP_STARTTLS``.
        InsecureSmtpConfigError: A password without TLS to a non-loopback host.
    """
    env = os.environ if env is None else env
    host = env.get("SLA_SMTP_HOST", "").strip()
    if not host:
        return None
    port_text = env.get("SLA_SMTP_PORT", "25").strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"SLA_SMTP_PORT must be a port number, got {port_text!r}")
    starttls_text = env.get("SLA_SMTP_STARTTLS", "").strip().lower()
    starttls: bool | None
    if not starttls_text:
        starttls = None
    elif starttls_text in _TRUE:
        starttls = True
    elif starttls_text in _FALSE:
        starttls = False
    else:
        raise ValueError(f"SLA_SMTP_STARTTLS must be true or false, got {starttls_text!r}")
    return SmtpMailer(
        host=host,
        port=int(port_text),
        user=env.get("SLA_SMTP_USER") or None,
        password=env.get("SLA_SMTP_PASSWORD") or None,
        starttls=starttls,
    )
