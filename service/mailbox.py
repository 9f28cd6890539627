r"""The support mailbox as an intake door: IMAP in, incident reports and customer messages out.

:class:`MailIntake` reads new mail from one IMAP mailbox (``SLA_IMAP_*``,
:class:`ImapSettings`), lets :func:`service.mail_parse.classify` decide what
each mail is, and hands it to an :class:`IntakeSink` (the Temporal side):

* a new mail opens a report (idempotent by Message-ID through the report's
  ``request_id``), its attachments are saved under
  ``$SLA_DATA_DIR/attachments/<ticket>/``;
* a reply to one of our mails joins its incident as a customer message (a
  reply to a ticket the sink does not know opens a report instead);
* auto-replies, bounces and our own mails are left alone.

A mail is flagged only after its outcome is safe (the ticket exists, the
files are written): a crash in between processes it again and the sink's
idempotency yields the same ticket. The flags, not a local database, say what
has been done, so a second intake (or a restarted one) agrees with the first:

* ``\Seen``, ``$SlaTicket`` and the ticket ID as keyword: a report or reply
  that reached its incident (``$SlaReply`` as well for a reply);
* ``$SlaIgnored``: an auto-reply, bounce or own mail; left unread for a person;
* ``$SlaRefused``: intake refused the report (e.g. neither subject nor
  text); left unread, so a person answers it.

A mail counts as new when it carries none of the three keywords and is
unread or arrived within ``recent_days`` (a colleague who opens it in a mail
client first does not hide it; years of read mail are not imported on the
first start). Servers that allow no keywords get ``\Seen`` alone, and only
unread mail is read there. ``imapclient`` is synchronous: every call runs in a worker thread
(``asyncio.to_thread``), one at a time, on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import imapclient  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]
from pydantic import SecretStr

from activities.mail import is_loopback_host
from domain.errors import IntakeError
from domain.values import ATTACHMENTS_MAX
from service.mail_parse import (
    TICKET_ID_PATTERN,
    Attachment,
    Ignored,
    NewReport,
    Reply,
    classify,
    planned_attachment_names,
    save_attachments,
)

__all__ = [
    "IGNORED",
    "REFUSED",
    "REPLY",
    "TICKET",
    "ImapSettings",
    "InsecureImapConfigError",
    "IntakeRound",
    "IntakeSink",
    "MailIntake",
]

log = logging.getLogger("sla.mail_intake")

TICKET = "$SlaTicket"
"""Keyword of a mail that reached its incident (new report or reply)."""
REPLY = "$SlaReply"
"""Keyword of a mail that joined an incident as a customer message."""
IGNORED = "$SlaIgnored"
"""Keyword of an auto-reply, bounce or own mail: no ticket."""
REFUSED = "$SlaRefused"
"""Keyword of a mail whose report intake refused (a person answers it)."""

SEEN = b"\\Seen"
IMPLICIT_TLS_PORT = 993
PLAIN_PORT = 143

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_TICKET_KEYWORD = re.compile(rf"^{TICKET_ID_PATTERN}$")
# After this many sink failures in a row the rest of the round waits: the
# sink (Temporal) is most likely down, and every further call would wait for
# its timeout too.
_FAILURES_BEFORE_PAUSE = 3


class InsecureImapConfigError(ValueError):
    """The IMAP settings would send the password in clear text."""


@dataclass(frozen=True)
class ImapSettings:
    """Where the support mailbox is and how to log in.

    Attributes:
        host: IMAP server.
        user: Login name.
        password: Login password; a :class:`~pydantic.SecretStr`, in no ``repr``.
        port: 993 with TLS, 143 without, unless given.
        mailbox: The folder to read (``INBOX``).
        tls: TLS from the first byte (default). Off: STARTTLS when the server
            offers it; a plain-text login only to a loopback host.
        ca_file: CA certificates (PEM) to trust instead of the system's (a private CA).
        timeout: Socket timeout in seconds for each command.
    """

    host: str
    user: str
    # A plain str is accepted and wrapped at once.
    password: SecretStr | str = field(repr=False)
    port: int = 0
    mailbox: str = "INBOX"
    tls: bool = True
    ca_file: Path | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.password, str):
            object.__setattr__(self, "password", SecretStr(self.password))
        if not self.port:
            object.__setattr__(self, "port", IMPLICIT_TLS_PORT if self.tls else PLAIN_PORT)
        if not self.host.strip():
            raise ValueError("SLA_IMAP_HOST must name the IMAP server")
        if not 0 < self.port < 65536:
            raise ValueError(f"SLA_IMAP_PORT must be a port number, got {self.port}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImapSettings:
        """The settings from ``SLA_IMAP_*`` (DESIGN §5).

        ``SLA_IMAP_HOST``, ``SLA_IMAP_USER`` and ``SLA_IMAP_PASSWORD`` are
        required; ``SLA_IMAP_PORT`` (993, or 143 without TLS),
        ``SLA_IMAP_MAILBOX`` (``INBOX``), ``SLA_IMAP_TLS`` (``true``) and
        ``SLA_IMAP_CA_FILE`` are optional.

        Raises:
            ValueError: A variable missing or malformed; the message names it.
        """
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "")
            if not value.strip():
                raise ValueError(f"{name} is not set (the mail intake needs it)")
            return value

        host = required("SLA_IMAP_HOST").strip()
        user = required("SLA_IMAP_USER").strip()
        password = required("SLA_IMAP_PASSWORD")
        tls_text = env.get("SLA_IMAP_TLS", "").strip().lower()
        if not tls_text or tls_text in _TRUE:
            tls = True
        elif tls_text in _FALSE:
            tls = False
        else:
            raise ValueError(f"SLA_IMAP_TLS must be true or false, got {tls_text!r}")
        port_text = env.get("SLA_IMAP_PORT", "").strip()
        port = 0
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"SLA_IMAP_PORT must be a port number, got {port_text!r}")
            port = int(port_text)
        mailbox = env.get("SLA_IMAP_MAILBOX", "").strip() or "INBOX"
        ca_text = env.get("SLA_IMAP_CA_FILE", "").strip()
        ca_file = Path(ca_text) if ca_text else None
        if ca_file is not None and not ca_file.is_file():
            raise ValueError(f"SLA_IMAP_CA_FILE names no readable file: {ca_text!r}")
        return cls(
            host=host,
            user=user,
            password=password,
            port=port,
            mailbox=mailbox,
            tls=tls,
            ca_file=ca_file,
        )

    def secret(self) -> str:
        """The password in clear (for the login only)."""
        password = self.password
        return password.get_secret_value() if isinstance(password, SecretStr) else password

    def ssl_context(self) -> ssl.SSLContext:
        """Certificate and host name verified, against ``ca_file`` or the system's CAs."""
        cafile = str(self.ca_file) if self.ca_file is not None else None
        return ssl.create_default_context(cafile=cafile)


class IntakeSink(Protocol):
    """Where the mailbox delivers: the incident side (Temporal), or a fake in tests."""

    async def open_report(self, fields: dict[str, object]) -> str:
        """Open (or find) the incident of a report; idempotent by ``fields["request_id"]``.

        Args:
            fields: The intake report (DESIGN §4 JSON shape, channel ``email``).

        Returns:
            The ticket ID (the same one for a repeated ``request_id``).

        Raises:
            IntakeError: The report is refused (the message says why).
        """
        ...

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
        """Add a customer's mail to an incident's timeline; idempotent by ``message_id``.

        Returns:
            ``False`` when no incident has ``ticket_id``.

        Raises:
            IntakeError: The message is refused (the message says why).
        """
        ...


@dataclass(frozen=True)
class IntakeRound:
    """What one :meth:`MailIntake.run_once` did.

    Attributes:
        opened: Mails handed over as new reports (a repeated Message-ID counts
            again, with the same ticket).
        replies: Mails added to an existing incident.
        ignored: Auto-replies, bounces and own mails.
        refused: Reports intake refused (flagged ``$SlaRefused``).
        deferred: Mails left unflagged for the next round (sink or disk trouble).
        tickets: Ticket IDs the mails went to, without repeats, in order.
        backlog: Mails beyond ``batch_size``, not looked at in this round.
    """

    opened: int = 0
    replies: int = 0
    ignored: int = 0
    refused: int = 0
    deferred: int = 0
    tickets: tuple[str, ...] = ()
    backlog: int = 0

    @property
    def handled(self) -> int:
        """Mails that got their final flags in this round."""
        return self.opened + self.replies + self.ignored + self.refused


@dataclass
class _Tally:
    opened: int = 0
    replies: int = 0
    ignored: int = 0
    refused: int = 0
    deferred: int = 0
    tickets: list[str] = field(default_factory=list)
    backlog: int = 0

    def ticket(self, ticket_id: str) -> None:
        if ticket_id not in self.tickets:
            self.tickets.append(ticket_id)

    def result(self) -> IntakeRound:
        return IntakeRound(
            self.opened,
            self.replies,
            self.ignored,
            self.refused,
            self.deferred,
            tuple(self.tickets),
            self.backlog,
        )


class _Deferred(Exception):
    """The mail stays unflagged for the next round (already logged)."""


class MailIntake:
    """Reads the support mailbox into incidents; see the module docstring.

    One connection, one caller: :meth:`run_once` and :meth:`run_forever` are
    not meant to run concurrently on the same instance. A second intake on the
    same mailbox is safe only in the sense that the sink's idempotency gives
    the same tickets; run one.
    """

    def __init__(
        self,
        settings: ImapSettings,
        sink: IntakeSink,
        *,
        data_dir: Path,
        our_domains: frozenset[str],
        max_attachment_bytes: int = 10 * 1024 * 1024,
        max_attachments: int = 10,
        max_message_bytes: int = 40 * 1024 * 1024,
        batch_size: int = 100,
        recent_days: int = 2,
        poll_interval: float = 60.0,
        idle_timeout: float = 240.0,
        idle_slice: float = 1.0,
        max_backoff: float = 300.0,
        retry_deferred_after: float = 30.0,
        ticket_keywords: bool = True,
    ) -> None:
        """Create the intake; nothing connects until :meth:`run_once`.

        Args:
            settings: The mailbox.
            sink: The incident side.
            data_dir: ``$SLA_DATA_DIR``; attachments go to ``attachments/<ticket>/``.
            our_domains: Domains we send from (our Message-IDs, loop protection).
            max_attachment_bytes: Larger attachments are dropped (and logged).
            max_attachments: Attachments beyond this many are dropped (and logged).
            max_message_bytes: Of a larger mail only the header is read.
            batch_size: Mails handled per round at most (the rest next round).
            recent_days: Mails that arrived within this many days are read even
                when someone already opened them in a mail client; older ones
                only while unread (so a mailbox with years of read mail does
                not turn into tickets on the first start).
            poll_interval: Seconds between rounds on a server without IDLE.
            idle_timeout: IDLE is re-issued after this many seconds (≤ 300).
            idle_slice: How long one wait for IDLE news lasts; the stop event is
                looked at between slices.
            max_backoff: Longest wait between reconnection attempts.
            retry_deferred_after: Seconds until deferred mail is tried again
                (new mail may bring the next round sooner).
            ticket_keywords: Also flag a mail with its ticket ID as keyword
                (each ticket adds a keyword to the mailbox's list).

        Raises:
            ValueError: An ``idle_timeout`` above five minutes, a limit below one, or
                more attachments than a report may list.
        """
        if not 0 < idle_timeout <= 300:
            raise ValueError("idle_timeout must be at most 300 seconds (RFC 2177 servers)")
        if min(max_attachments, batch_size, max_message_bytes) < 1:
            raise ValueError("max_attachments, batch_size and max_message_bytes must be ≥ 1")
        if max_attachments > ATTACHMENTS_MAX:
            # More names than a report may list would make intake refuse the whole report.
            raise ValueError(f"max_attachments must be at most {ATTACHMENTS_MAX}")
        self.settings = settings
        self.sink = sink
        self.data_dir = data_dir
        self.our_domains = our_domains
        self.max_attachment_bytes = max_attachment_bytes
        self.max_attachments = max_attachments
        self.max_message_bytes = max_message_bytes
        self.batch_size = batch_size
        self.recent_days = recent_days
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout
        self.idle_slice = idle_slice
        self.max_backoff = max_backoff
        self.retry_deferred_after = retry_deferred_after
        self.ticket_keywords = ticket_keywords
        self._client: Any = None
        self._keywords = True
        self._idle = False

    async def __aenter__(self) -> MailIntake:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the rounds ---------------------------------------------------------------------

    async def run_once(self) -> IntakeRound:
        """Handle the mails not yet handled (at most ``batch_size``), oldest first.

        Returns:
            What was done.

        Raises:
            InsecureImapConfigError: A plain-text login to a non-loopback host.
            imapclient.exceptions.IMAPClientError: The server refused a command
                (login, select) or dropped the connection.
            OSError: The connection failed.
        """
        tally = _Tally()
        try:
            await self._connection()
            uids = await asyncio.to_thread(self._search)
            batch = uids[: self.batch_size]
            tally.backlog = len(uids) - len(batch)
            sizes = await asyncio.to_thread(self._sizes, batch)
            failures = 0
            for position, uid in enumerate(batch):
                if failures >= _FAILURES_BEFORE_PAUSE:
                    left = len(batch) - position
                    tally.deferred += left
                    log.warning("mail intake: pausing the round, %d mails wait for the next", left)
                    break
                raw = await asyncio.to_thread(self._fetch, uid, sizes.get(uid, 0))
                if raw is None:
                    continue  # expunged by someone else meanwhile
                try:
                    await self._handle(uid, raw, tally)
                    failures = 0
                except _Deferred:
                    tally.deferred += 1
                    failures += 1
        except (IMAPClientError, OSError):
            await self._discard()
            raise
        result = tally.result()
        if result.handled or result.deferred:
            log.info(
                "mail intake: %d opened, %d replies, %d ignored, %d refused, %d deferred%s",
                result.opened,
                result.replies,
                result.ignored,
                result.refused,
                result.deferred,
                f", {result.backlog} for the next round" if result.backlog else "",
            )
        return result

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set: IDLE between them where the server has it, else polling.

        Connection trouble is logged and retried with growing pauses (up to
        ``max_backoff``); the mailbox is logged out of at the end.

        Raises:
            InsecureImapConfigError: The settings would expose the password;
                retrying cannot help.
        """
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    result = await self.run_once()
                    backoff = 1.0
                    if stop.is_set():
                        break
                    if result.backlog and not result.deferred:
                        continue  # a full batch: the next one at once
                    # New mail wakes IDLE; deferred mail does not, so it gets a deadline.
                    await self._wait_for_mail(
                        stop, self.retry_deferred_after if result.deferred else None
                    )
                except InsecureImapConfigError:
                    raise
                except Exception as exc:
                    await self._discard()
                    pause = min(backoff, self.max_backoff) * random.uniform(0.8, 1.2)
                    log.error(
                        "mail intake: %s: %s; retrying in %.0f s",
                        type(exc).__name__,
                        exc,
                        pause,
                        exc_info=not isinstance(exc, IMAPClientError | OSError),
                    )
                    backoff = min(backoff * 2, self.max_backoff)
                    await _wait(stop, pause)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Log out (errors ignored: the connection may be gone already)."""
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_logout, client)

    # -- one mail -----------------------------------------------------------------------

    async def _handle(self, uid: int, raw: bytes, tally: _Tally) -> None:
        outcome = await asyncio.to_thread(
            classify,
            raw,
            our_domains=self.our_domains,
            max_attachment_bytes=self.max_attachment_bytes,
            max_attachments=self.max_attachments,
        )
        if isinstance(outcome, Ignored):
            log.info(
                "mail intake: ignored %s from %s: %s",
                outcome.message_id,
                outcome.sender or "(no sender)",
                outcome.reason,
            )
            await self._flag(uid, IGNORED)
            tally.ignored += 1
            return
        if outcome.dropped:
            log.warning(
                "mail intake: %s: attachments left out: %s",
                outcome.message_id,
                "; ".join(outcome.dropped),
            )
        if isinstance(outcome, Reply):
            if await self._reply(uid, outcome, tally):
                return
            log.info(
                "mail intake: %s replies to unknown ticket %s; opening a report",
                outcome.message_id,
                outcome.ticket_id,
            )
            outcome = outcome.fallback
        await self._report(uid, outcome, tally)

    async def _report(self, uid: int, report: NewReport, tally: _Tally) -> None:
        try:
            ticket_id = await self.sink.open_report(report.fields)
        except IntakeError as exc:
            log.warning("mail intake: report %s refused: %s", report.message_id, exc)
            await self._flag(uid, REFUSED)
            tally.refused += 1
            return
        except Exception as exc:
            log.warning(
                "mail intake: report %s deferred (%s: %s)",
                report.message_id,
                type(exc).__name__,
                exc,
            )
            raise _Deferred from exc
        await self._save(ticket_id, report, report.attachments)
        await self._flag(uid, TICKET, ticket_id)
        log.info("mail intake: %s → %s", report.message_id, ticket_id)
        tally.opened += 1
        tally.ticket(ticket_id)

    async def _reply(self, uid: int, reply: Reply, tally: _Tally) -> bool:
        """Add the reply to its ticket; ``False`` when the sink does not know the ticket."""
        try:
            names = await asyncio.to_thread(
                planned_attachment_names, self.data_dir, reply.ticket_id, reply.attachments
            )
            known = await self.sink.add_customer_message(
                reply.ticket_id,
                message_id=reply.message_id,
                sender=reply.sender,
                subject=reply.subject,
                text=reply.text,
                attachments=tuple(names),
            )
        except IntakeError as exc:
            log.warning("mail intake: reply %s refused: %s", reply.message_id, exc)
            await self._flag(uid, REFUSED)
            tally.refused += 1
            return True
        except Exception as exc:
            log.warning(
                "mail intake: reply %s deferred (%s: %s)", reply.message_id, type(exc).__name__, exc
            )
            raise _Deferred from exc
        if not known:
            return False
        await self._save(reply.ticket_id, reply, reply.attachments)
        await self._flag(uid, TICKET, reply.ticket_id, REPLY)
        log.info("mail intake: %s → customer message on %s", reply.message_id, reply.ticket_id)
        tally.replies += 1
        tally.ticket(reply.ticket_id)
        return True

    async def _save(
        self, ticket_id: str, mail: NewReport | Reply, attachments: Sequence[Attachment]
    ) -> None:
        if not attachments:
            return
        try:
            await asyncio.to_thread(save_attachments, self.data_dir, ticket_id, attachments)
        except (OSError, ValueError) as exc:
            log.error(
                "mail intake: attachments of %s for %s not saved (%s); the mail waits",
                mail.message_id,
                ticket_id,
                exc,
            )
            raise _Deferred from exc

    async def _flag(self, uid: int, outcome: str, ticket_id: str = "", *extra: str) -> None:
        await asyncio.to_thread(self._store_flags, uid, outcome, ticket_id, extra)

    # -- IMAP (blocking; called in a worker thread) ------------------------------------

    async def _connection(self) -> Any:
        if self._client is None:
            self._client = await asyncio.to_thread(self._connect)
        return self._client

    async def _discard(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_shutdown, client)

    def _connect(self) -> Any:
        s = self.settings
        context = s.ssl_context()
        client = imapclient.IMAPClient(
            s.host, port=s.port, ssl=s.tls, ssl_context=context, timeout=s.timeout
        )
        transport = "TLS" if s.tls else "plain text"
        try:
            if not s.tls:
                if client.has_capability("STARTTLS"):
                    client.starttls(context)
                    transport = "STARTTLS"
                elif not is_loopback_host(s.host):
                    raise InsecureImapConfigError(
                        f"IMAP server {s.host}:{s.port} offers no STARTTLS and SLA_IMAP_TLS is "
                        "off: the password would go in clear text. Use TLS (SLA_IMAP_TLS=true, "
                        "port 993) or a loopback address"
                    )
            client.login(s.user, s.secret())
            selected = client.select_folder(s.mailbox)
            permanent = tuple(selected.get(b"PERMANENTFLAGS", ()))
            self._keywords = b"\\*" in permanent or all(
                k.encode() in permanent for k in (TICKET, IGNORED, REFUSED)
            )
            self._idle = client.has_capability("IDLE")
        except BaseException:
            _shutdown(client)
            raise
        log.info(
            "mail intake: connected to %s:%d/%s (%s%s%s)",
            s.host,
            s.port,
            s.mailbox,
            transport,
            ", IDLE" if self._idle else ", polling",
            "" if self._keywords else ", no keywords: flags \\Seen only",
        )
        return client

    def _search(self) -> list[int]:
        client = self._client
        if self._keywords:
            since = date.today() - timedelta(days=self.recent_days)
            criteria: list[Any] = ["NOT", "DELETED"]
            for keyword in (TICKET, IGNORED, REFUSED):
                criteria += ["UNKEYWORD", keyword]
            criteria += ["OR", "UNSEEN", "SINCE", since]
        else:
            criteria = ["UNSEEN", "NOT", "DELETED"]
        return sorted(int(uid) for uid in client.search(criteria))

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        response = self._client.fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(data.get(b"RFC822.SIZE", 0)) for uid, data in response.items()}

    def _fetch(self, uid: int, size: int) -> bytes | None:
        r"""The mail (``BODY.PEEK[]``: fetching sets no ``\Seen``); of a huge one the header."""
        if size > self.max_message_bytes:
            log.warning(
                "mail intake: UID %d has %d bytes (limit %d): reading its header only",
                uid,
                size,
                self.max_message_bytes,
            )
            key, item = b"BODY[HEADER]", "BODY.PEEK[HEADER]"
        else:
            key, item = b"BODY[]", "BODY.PEEK[]"
        response = self._client.fetch([uid], [item])
        data = response.get(uid)
        if data is None or not isinstance(data.get(key), bytes):
            return None
        raw: bytes = data[key]
        return raw

    def _store_flags(self, uid: int, outcome: str, ticket_id: str, extra: tuple[str, ...]) -> None:
        client = self._client
        if not self._keywords:
            # No keywords: \Seen is all that tells the next round this mail is done.
            client.add_flags([uid], [SEEN])
            return
        flags: list[bytes] = [outcome.encode()] + [e.encode() for e in extra]
        if outcome in (TICKET, REPLY):
            flags.insert(0, SEEN)
        if self.ticket_keywords and ticket_id and _TICKET_KEYWORD.match(ticket_id):
            try:
                client.add_flags([uid], [*flags, ticket_id.encode()])
                return
            except IMAPClientError as exc:
                if isinstance(exc, imapclient.exceptions.IMAPClientAbortError):
                    raise
                # E.g. a server limit on keywords per mailbox: the outcome flags suffice.
                log.warning("mail intake: keyword %s not stored (%s)", ticket_id, exc)
        client.add_flags([uid], flags)

    async def _wait_for_mail(self, stop: asyncio.Event, at_most: float | None = None) -> None:
        """Until new mail may be there, ``idle_timeout`` (or ``at_most``) passes, or ``stop``."""
        if not self._idle:
            await _wait(stop, min(self.poll_interval, at_most or self.poll_interval))
            return
        client = self._client
        await asyncio.to_thread(client.idle)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.idle_timeout, at_most or self.idle_timeout)
        # imapclient swallows EOF in idle_check: a dead connection shows as
        # empty answers that come back at once, again and again.
        quick_and_empty = 0
        try:
            while not stop.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(self.idle_slice, remaining)
                started = loop.time()
                responses = await asyncio.to_thread(client.idle_check, timeout=wait)
                if any(_said_bye(r) for r in responses):
                    raise ConnectionError("the IMAP server closed the connection (BYE)")
                if any(_new_mail(r) for r in responses):
                    break
                if not responses and loop.time() - started < wait / 2:
                    quick_and_empty += 1
                    if quick_and_empty >= 3:
                        raise ConnectionError("the IMAP connection was closed during IDLE")
                else:
                    quick_and_empty = 0
        except asyncio.CancelledError:
            # A thread may still read the socket: close it rather than send DONE.
            await self._discard()
            raise
        await asyncio.to_thread(client.idle_done)


def _new_mail(response: object) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def _said_bye(response: object) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _logout(client: Any) -> None:
    try:
        client.logout()
    except Exception:
        _shutdown(client)


def _shutdown(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()
