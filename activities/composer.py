"""The one place an outgoing e-mail is put together.

Incident notifications and the other templated mails (maintenance, on-call,
change requests, audits) differ in their data only; they go through
:meth:`MailComposer.assemble` for the same headers and the same MIME shape:

* ``multipart/alternative`` with the German plain text first (exactly what the
  text template rendered) and the HTML part second (:mod:`activities.mail_html`);
  clients show the last part they can display, and plain-text readers, filters
  and our own mailbox intake read the first;
* ``Reply-To`` the support address, so an answer reaches support even when
  ``From`` is a no-reply relay address;
* ``In-Reply-To``/``References`` naming the first mail of the ticket (booking,
  change request, maintenance), so a customer's mail client shows one thread.

Everything is derived from the message: the same notification gives the same
bytes (the MIME boundary is a digest, not random), so a retried activity writes
the same outbox file and sends the same message.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any

from activities.mail_html import Brand, HtmlMailRenderer, Reference
from activities.rendering import MessageRenderer
from domain.messages import OutgoingMessage
from domain.notifications import Notification, thread_root_id

__all__ = ["COMPOSER_POLICY", "Brand", "MailComposer", "MailDraft", "header_text", "reference_of"]


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(value: str) -> str:
    """``value`` made safe for a header such as ``Subject``.

    The ``email`` package decodes an RFC 2047 encoded-word when a header is
    assigned: customer text like ``=?utf-8?q?x=0D=0A?=`` in a subject (a
    company, an address quoted in a bounce notice) would become a CR LF and end
    the header block. So line breaks and other controls become one space, and
    ``=?`` is split (``= ?``) so that no encoded-word can form.
    """
    return _CONTROLS.sub(" ", value).replace("=?", "= ?").strip()


class _HeaderClasses(HeaderRegistry):
    """The stdlib's header registry, but each header class is built once per process.

    ``HeaderRegistry.__getitem__`` creates a new class with ``type()`` on every
    call: for every header set, every max-count check and every header read,
    about 35 per mail, and each is cyclic garbage for the collector.
    """

    _KEEP = 256  # header names; ours are a fixed dozen, so this only guards a leak

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = super().__getitem__(name)
            if len(self._classes) < self._KEEP:
                self._classes[key] = cls
        return cls


_HEADERS = _HeaderClasses()


@functools.lru_cache(maxsize=512)
def _parsed(name: str, value: str) -> tuple[str, Any]:
    """A header value parsed once for every mail that sets it (``From``, ``Content-Type`` …)."""
    return EmailPolicy.header_store_parse(COMPOSER_POLICY, name, value)


class _ComposerPolicy(EmailPolicy):
    """``email.policy.default`` that parses and folds a recurring header once per process.

    Profiled, the stdlib ``email`` package's header work was about 60 % of a
    mail's CPU: with this policy every header is parsed when set, and parsed
    again (folded) when the message becomes bytes. Most headers are the same in
    every mail (``From``, ``Reply-To``, ``MIME-Version``, the parts'
    ``Content-Type`` and ``Content-Transfer-Encoding``) or in every mail of a
    ticket (``To``, ``In-Reply-To``). Parsing and folding are pure functions of
    the name and value (header objects are immutable), so remembering them
    changes no byte; the settings are exactly those of ``email.policy.default``.
    """

    _KEPT = 512  # folded headers; a mail has about 16, the recurring ones are refreshed by each

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        """As the default policy; a plain string value is parsed once (see the class)."""
        if type(value) is str:
            return _parsed(name, value)
        return super().header_store_parse(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        """As the default policy; a header object (shared by :func:`_parsed`) is folded once."""
        if not isinstance(value, BaseHeader):
            return super().fold_binary(name, value)
        # By identity: equal text does not mean an equal parse (an encoded word
        # and its decoded text read the same). With the settings a header
        # object's folding reads: the generator writes each part with a clone.
        key = (id(value), self.max_line_length, self.linesep, self.utf8)
        kept = _FOLDS.get(key)
        if kept is not None and kept[0] is value:
            return kept[1]
        folded = super().fold_binary(name, value)
        if len(_FOLDS) >= self._KEPT:
            _FOLDS.clear()  # the recurring ones are back after the next mail
        _FOLDS[key] = (value, folded)
        return folded


_FOLDS: dict[tuple[int, int | None, str, bool], tuple[BaseHeader, bytes]] = {}

COMPOSER_POLICY: EmailPolicy = _ComposerPolicy(header_factory=_HEADERS)
"""The policy of every composed message: ``email.policy.default``'s settings, faster."""


@dataclass(frozen=True)
class MailDraft:
    """Everything one e-mail says, before it becomes MIME.

    Attributes:
        to: Recipients.
        subject: The rendered subject (one line).
        text: The rendered German plain text.
        date: ``Date`` — from the event, never the clock.
        message_id: This mail's Message-ID.
        thread_root: The first mail's Message-ID; ``None``: not threaded.
        reference: The ID the HTML part shows prominently.
        status_page_url: The status page to link in the HTML part.
        headers: Further ``X-SLA-*`` headers, in order.
    """

    to: tuple[str, ...]
    subject: str
    text: str
    date: datetime
    message_id: str
    thread_root: str | None
    reference: Reference | None
    status_page_url: str | None
    headers: Mapping[str, str]


# The ID each family of templated mails is about, found in its context (the JSON
# of the sending workflow's models): label as the mail's own text calls it.
_REFERENCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("maintenance_", "Wartungs-ID", ("maintenance_id",)),
    ("change_request_", "Änderungswunsch", ("change_request_id",)),
    ("oncall_", "Buchungsnummer", ("booking", "booking_id")),
    ("audit_", "Prüfung", ("report", "audit_id")),
)


def reference_of(message: OutgoingMessage) -> Reference | None:
    """The maintenance, change request, booking or audit ID of a templated mail, if any."""
    for prefix, label, path in _REFERENCES:
        if not message.template.startswith(prefix):
            continue
        value: object = message.context
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return Reference(label, value) if isinstance(value, str) and value else None
    return None


def _context_url(message: OutgoingMessage) -> str | None:
    url = message.context.get("status_page_url")
    return url if isinstance(url, str) and url else None


class MailComposer:
    """Renders and assembles e-mails; deterministic for identical input."""

    def __init__(
        self,
        renderer: MessageRenderer,
        sender: str,
        *,
        reply_to: str | None = None,
        html: HtmlMailRenderer | None = None,
        brand: Brand | None = None,
        status_page_url: str | None = None,
    ) -> None:
        """Create the composer.

        Args:
            renderer: The German text templates.
            sender: ``From``, e.g. ``myconvento Support <support@myconvento.com>``.
            reply_to: ``Reply-To``; the sender when not given (the support address).
            html: The HTML frame; the packaged one when not given.
            brand: The company the HTML part names.
            status_page_url: The policy's status page, linked from mails whose own
                data does not name one (on-call, change requests, audits).
        """
        self._renderer = renderer
        self._sender = sender
        self._reply_to = reply_to or sender
        self._html = html or HtmlMailRenderer()
        self._brand = brand or Brand()
        self._status_page_url = status_page_url

    def notification(self, notification: Notification) -> EmailMessage:
        """The e-mail of an incident notification."""
        subject, text = self._renderer.render(notification)
        ticket = notification.facts.ticket_id
        domain = notification.message_id.rstrip(">").rpartition("@")[2]
        return self.assemble(
            MailDraft(
                to=notification.to,
                subject=subject,
                text=text,
                date=notification.event.at,
                message_id=notification.message_id,
                thread_root=thread_root_id(ticket, domain),
                reference=Reference("Ticket-ID", ticket),
                status_page_url=notification.facts.status_page_url or self._status_page_url,
                headers={"X-SLA-Ticket": ticket, "X-SLA-Kind": notification.kind.value},
            )
        )

    def message(self, message: OutgoingMessage) -> EmailMessage:
        """The e-mail of a templated message (maintenance, on-call, change request, audit)."""
        subject, text = self._renderer.render_message(message)
        return self.assemble(
            MailDraft(
                to=message.to,
                subject=subject,
                text=text,
                date=message.date,
                message_id=message.message_id,
                thread_root=message.thread_root,
                reference=reference_of(message),
                status_page_url=_context_url(message) or self._status_page_url,
                headers={"X-SLA-Kind": message.kind or message.template},
            )
        )

    def assemble(self, draft: MailDraft) -> EmailMessage:
        """Headers, the text part and the HTML part of ``draft``."""
        subject = header_text(draft.subject)
        html = self._html.render(
            subject=subject,
            text=draft.text,
            brand=self._brand,
            reference=draft.reference,
            status_page_url=draft.status_page_url,
        )
        message = EmailMessage(policy=COMPOSER_POLICY)
        message["From"] = self._sender
        message["To"] = ", ".join(draft.to)
        message["Reply-To"] = self._reply_to
        message["Subject"] = subject
        # Date and Message-ID come from the event, not the clock, so a retried
        # activity produces the very same message.
        message["Date"] = format_datetime(draft.date)
        message["Message-ID"] = draft.message_id
        if draft.thread_root and draft.thread_root != draft.message_id:
            # RFC 5322 3.6.4: the parent's ID. Every mail answers the first one
            # (not the previous one): which mails a recipient got differs (the
            # support lead never sees the receipt), the first one is always known.
            message["In-Reply-To"] = draft.thread_root
            message["References"] = draft.thread_root
        for name, value in draft.headers.items():
            message[name] = value
        message.set_content(draft.text, charset="utf-8", cte="quoted-printable")
        message.make_alternative()
        part = EmailMessage(policy=COMPOSER_POLICY)
        part.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
        # MIME-Version belongs to the message, not to a part (EmailMessage adds it).
        del part["MIME-Version"]
        message.attach(part)
        # A random boundary would make every retry a different file and message.
        # "=_" cannot occur in quoted-printable text, so the boundary never
        # collides with a part's content.
        digest = hashlib.sha256(
            "\0".join((draft.message_id, draft.text, html)).encode("utf-8")
        ).hexdigest()[:32]
        message.set_boundary(f"=_sla_{digest}")
        return message
