"""The composer's e-mail policy remembers parsed and folded headers and changes no byte.

:data:`activities.composer.COMPOSER_POLICY` exists for speed only (about half
of a mail's CPU was the stdlib's header parsing and folding). Every message
here is composed with it, cold and again with its caches warm, and with
``email.policy.default`` instead (what the composer used before): the files
written, the SMTP wire forms and the headers read back must be the same.
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import activities.composer
from activities.composer import COMPOSER_POLICY, MailComposer, MailDraft
from activities.mail import OutboxMailer
from activities.mail_html import Brand, Reference
from activities.notifications import NotificationActivities
from domain.messages import OutgoingMessage
from domain.notifications import MessageKind
from tests.activities.test_html_mails import FAMILIES
from tests.activities.test_notifications import RENDERER, SENDER, notification_of

DATE = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
UMLAUTS = "Störung: " + "Übermäßig lange Betreffzeile mit Umlauten äöü ß " * 4

# Headers that fold, encode, quote or are refused: what a cache could get wrong.
DRAFTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "long_subject": {"subject": UMLAUTS},
    "long_ascii_subject": {"subject": "Incident " + "very long ascii words " * 8},
    "encoded_word": {"subject": "=?utf-8?q?x=0D=0ABcc:_evil@x.de?= hallo\r\nBcc: a@b.de"},
    "many_recipients": {
        "to": tuple(f"Empfänger Nr {i} <user{i}@beispiel-versand.de>" for i in range(8))
    },
    "international": {"to": ("jörg@exämple.de", "Zoë <zoe@beispiel.de>")},
    "quoted_name": {"to": ('"Müller, Hans" <hans@x.de>', "plain@x.de")},
    "unthreaded": {"thread_root": None},
    "thread_root": {"thread_root": "<m1@sla.myconvento.com>"},
    "no_headers": {"headers": {}},
    "long_header": {"headers": {"X-SLA-Kind": "räumung " * 20, "X-SLA-Ticket": "INC-1"}},
    "from_line": {"text": "From here on\nZeile mit ü\n" + "x" * 200 + "\n\n.\nEnde\n"},
    "offset_date": {"date": datetime(2026, 7, 1, 12, 30, 15, tzinfo=timezone(timedelta(hours=2)))},
    "no_reference": {"reference": None, "status_page_url": None},
    "long_message_id": {"message_id": "<" + "INC-20261124-TESTAB." * 4 + "x@sla.myconvento.com>"},
}
SENDERS = {
    "named": SENDER,
    "quoted": '"Support, myconvento" <support@myconvento.com>',
    "bare": "support@myconvento.com",
    "umlaut": "Störungsstelle Müller <stoerung@myconvento.com>",
}


def _draft(**changes: Any) -> MailDraft:
    fields: dict[str, Any] = {
        "to": ("erika@beispiel-versand.de",),
        "subject": "Ihre Störungsmeldung ist eingegangen",
        "text": "Guten Tag,\n\nIhre Meldung ist da.\n\nMit freundlichen Grüßen\n",
        "date": DATE,
        "message_id": "<m2@sla.myconvento.com>",
        "thread_root": "<m1@sla.myconvento.com>",
        "reference": Reference("Ticket-ID", "INC-1"),
        "status_page_url": "https://status.example.de",
        "headers": {"X-SLA-Ticket": "INC-1", "X-SLA-Kind": "receipt"},
    }
    fields.update(changes)
    return MailDraft(**fields)


def _activities() -> NotificationActivities:
    return NotificationActivities(
        OutboxMailer(Path("unused")),
        RENDERER,
        SENDER,
        reply_to="Team <team@myconvento.com>",
        status_page_url="https://status.myconvento.com",
        brand=Brand(company="Müller & Söhne", team="Unterstützung"),
    )


def _notification(kind: MessageKind) -> EmailMessage:
    return _activities().compose(notification_of(kind))


def _templated(message: OutgoingMessage) -> EmailMessage:
    return _activities().compose_message(message)


def _assembled(sender: str, changes: dict[str, Any]) -> EmailMessage:
    return MailComposer(RENDERER, sender).assemble(_draft(**changes))


def _cases() -> dict[str, Callable[[], EmailMessage]]:
    cases: dict[str, Callable[[], EmailMessage]] = {}
    for kind in MessageKind:
        cases[f"kind-{kind.value}"] = partial(_notification, kind)
    for family, (build, _) in FAMILIES.items():
        for index, message in enumerate(build()):
            cases[f"{family}-{index}"] = partial(_templated, message)
    for sender_name, sender in SENDERS.items():
        for draft_name, changes in DRAFTS.items():
            cases[f"draft-{sender_name}-{draft_name}"] = partial(_assembled, sender, changes)
    return cases


CASES = _cases()


def _observed(message: EmailMessage) -> dict[str, Any]:
    """What leaves the composer: the outbox file, both SMTP forms, the headers as read."""
    return {
        "file": bytes(message),
        "smtp": message.as_bytes(policy=email.policy.SMTP),
        "smtputf8": message.as_bytes(policy=email.policy.SMTPUTF8),
        "text": message.as_string(),
        "headers": [(name, str(value)) for name, value in message.items()],
        "parts": [
            ([(n, str(v)) for n, v in part.items()], part.get_content())
            for part in message.iter_parts()
        ],
    }


@pytest.mark.parametrize("case", list(CASES))
def test_a_message_is_byte_identical_to_the_default_policy(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = CASES[case]
    cold = build()
    warm = build()  # every recurring header from the caches now
    assert cold.policy is COMPOSER_POLICY
    with monkeypatch.context() as patched:
        patched.setattr(activities.composer, "COMPOSER_POLICY", email.policy.default)
        reference = build()
    assert reference.policy is email.policy.default
    expected = _observed(reference)
    assert _observed(cold) == expected
    assert _observed(warm) == expected


def test_a_line_break_in_a_header_is_still_refused() -> None:
    message = EmailMessage(policy=COMPOSER_POLICY)
    with pytest.raises(ValueError, match="linefeed"):
        message["X-SLA-Kind"] = "receipt\r\nBcc: evil@example.org"
    with pytest.raises(ValueError, match="linefeed"):  # a refusal is not remembered as a value
        message["X-SLA-Kind"] = "receipt\r\nBcc: evil@example.org"
