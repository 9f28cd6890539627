"""The support mailbox intake against Debian's real dovecot-imapd (service.mailbox).

Each test starts its own dovecot (``tests/realservers/dovecot.py``) on a
loopback port, delivers mail with IMAP APPEND, runs :class:`MailIntake` with
an in-memory sink and checks tickets, replies, attachments on disk and the
flags left in the mailbox. Without dovecot they skip with the reason the
setup step recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from domain.errors import IntakeError
from domain.ids import ticket_id_for
from service.mailbox import ImapSettings, InsecureImapConfigError, IntakeRound, MailIntake
from tests.realservers.dovecot import Dovecot, dovecot_or_skip, running_dovecot

OURS = frozenset({"myconvento.com"})
KNOWN = "INC-20261201-EXIST2"
pytestmark = pytest.mark.timeout(30)


@dataclass
class FakeSink:
    """The incident side in memory: idempotent by request_id and Message-ID, like the real one."""

    known: set[str] = field(default_factory=lambda: {KNOWN})
    tickets: dict[str, str] = field(default_factory=dict)  # request_id -> ticket
    reports: dict[str, dict[str, object]] = field(default_factory=dict)  # ticket -> fields
    messages: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_once: set[str] = field(default_factory=set)  # descriptions containing these fail once

    async def open_report(self, fields: dict[str, object]) -> str:
        description = str(fields.get("description", ""))
        self.calls.append(f"open {fields['request_id']}")
        for marker in sorted(self.fail_once):
            if marker in description:
                self.fail_once.discard(marker)
                raise ConnectionError("Temporal is not reachable")
        if not description:
            raise IntakeError("description: required")
        request_id = str(fields["request_id"])
        if request_id not in self.tickets:
            ticket = ticket_id_for(date(2026, 12, 2), request_id)
            self.tickets[request_id] = ticket
            self.reports[ticket] = fields
            self.known.add(ticket)
        return self.tickets[request_id]

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
        self.calls.append(f"message {ticket_id}")
        if ticket_id not in self.known:
            return False
        timeline = self.messages.setdefault(ticket_id, [])
        if all(m["message_id"] != message_id for m in timeline):
            timeline.append(
                {
                    "message_id": message_id,
                    "sender": sender,
                    "subject": subject,
                    "text": text,
                    "attachments": attachments,
                }
            )
        return True


def mail(
    subject: str | None,
    body: str | None,
    *,
    message_id: str,
    sender: str = "Erika Mustermann <erika.mustermann@beispiel-versand.de>",
    headers: dict[str, str] | None = None,
    files: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@myconvento.com"
    if subject is not None:
        message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    if body is not None:
        message.set_content(body)
    for name, content in files:
        message.add_attachment(content, maintype="image", subtype="png", filename=name)
    return message.as_bytes()


BOUNCE = (
    b"From: Mail Delivery System <MAILER-DAEMON@relay.beispiel-versand.de>\r\n"
    b"To: support@myconvento.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Message-ID: <bounce-1@relay.beispiel-versand.de>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    binary = dovecot_or_skip()
    with running_dovecot(binary) as server:
        yield server


class WatchedIntake(MailIntake):
    """Tells when a round is over and the intake waits for mail (IDLE or poll)."""

    waiting: asyncio.Event

    async def _wait_for_mail(self, stop: asyncio.Event, at_most: float | None = None) -> None:
        self.waiting.set()
        await super()._wait_for_mail(stop, at_most)


def intake(
    server: Dovecot,
    sink: FakeSink,
    data_dir: Path,
    cls: type[MailIntake] = MailIntake,
    **options: Any,
) -> MailIntake:
    settings = ImapSettings(**server.settings())
    box = cls(settings, sink, data_dir=data_dir, our_domains=OURS, **options)
    if isinstance(box, WatchedIntake):
        box.waiting = asyncio.Event()
    return box


def ours(flags: frozenset[str]) -> frozenset[str]:
    """The flags without ``\\Recent`` (the server's, not ours)."""
    return flags - {"\\Recent"}


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait for ``condition`` with a deadline (no fixed sleep stands in for an assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)


# -- one round after another ---------------------------------------------------------------


async def test_mailbox_rounds_open_reports_join_replies_and_leave_the_rest(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink(fail_once={"Temporal weg"})
    append = dovecot.append
    new = append(
        mail(
            "Anmeldung nicht möglich",
            "Fehler 503 an allen Arbeitsplätzen.",
            message_id="<new-1@beispiel-versand.de>",
            files=(("../screenshot.png", PNG),),
        )
    )
    duplicate = append(
        mail(
            "Anmeldung nicht möglich",
            "Fehler 503 an allen Arbeitsplätzen.",
            message_id="<new-1@beispiel-versand.de>",
            files=(("../screenshot.png", PNG),),
        )
    )
    reply = append(
        mail(
            "Re: Ihre Störungsmeldung ist eingegangen",
            "Seit 10 Uhr auch im Lager.\n\nAm 01.12.2026 um 09:00 schrieb Support:\n> alt\n",
            message_id="<reply-1@beispiel-versand.de>",
            headers={"In-Reply-To": f"<{KNOWN}.1.receipt@sla.myconvento.com>"},
            files=(("lager.png", b"lager"),),
        )
    )
    subject_reply = append(
        mail(
            f"AW: Eskalation [{KNOWN}]",
            "Bitte um Rückruf.",
            message_id="<reply-2@beispiel-versand.de>",
        )
    )
    auto_reply = append(
        mail(
            f"Abwesend: Ihre Störungsmeldung [{KNOWN}]",
            "Ich bin bis Montag nicht im Büro.",
            message_id="<ooo-1@beispiel-versand.de>",
            headers={
                "Auto-Submitted": "auto-replied",
                "In-Reply-To": f"<{KNOWN}.1.receipt@sla.myconvento.com>",
            },
        )
    )
    bounce = append(BOUNCE)
    empty = append(mail(None, None, message_id="<empty-1@beispiel-versand.de>"))
    deferred = append(
        mail("Temporal weg", "Druck geht nicht.", message_id="<later-1@beispiel-versand.de>")
    )
    unknown = append(
        mail(
            "Re: [INC-20261130-UNKNWN] alte Meldung",
            "Wieder da.",
            message_id="<unknown-1@beispiel-versand.de>",
        )
    )

    async with intake(dovecot, sink, tmp_path) as mailbox:
        first = await mailbox.run_once()
        new_ticket = sink.tickets["mail-" + _sha("<new-1@beispiel-versand.de>")]
        unknown_ticket = sink.tickets["mail-" + _sha("<unknown-1@beispiel-versand.de>")]
        assert first == IntakeRound(
            opened=3,
            replies=2,
            ignored=2,
            refused=1,
            deferred=1,
            tickets=(new_ticket, KNOWN, unknown_ticket),
        )

        # The report: intake shape, one ticket for both copies, the file on disk.
        fields = sink.reports[new_ticket]
        assert fields["channel"] == "email"
        assert fields["email"] == "erika.mustermann@beispiel-versand.de"
        assert fields["full_name"] == "Erika Mustermann"
        assert fields["attachments"] == ["screenshot.png"]
        assert (tmp_path / "attachments" / new_ticket / "screenshot.png").read_bytes() == PNG
        assert sink.calls.count(f"open mail-{_sha('<new-1@beispiel-versand.de>')}") == 2

        # The replies: on the known ticket's timeline, quote removed, attachment saved.
        timeline = sink.messages[KNOWN]
        assert [(m["message_id"], m["text"], m["attachments"]) for m in timeline] == [
            ("<reply-1@beispiel-versand.de>", "Seit 10 Uhr auch im Lager.", ("lager.png",)),
            ("<reply-2@beispiel-versand.de>", "Bitte um Rückruf.", ()),
        ]
        assert (tmp_path / "attachments" / KNOWN / "lager.png").read_bytes() == b"lager"
        assert sink.reports[unknown_ticket]["description"] == (
            "Re: [INC-20261130-UNKNWN] alte Meldung\n\nWieder da."
        )

        flags = {uid: ours(f) for uid, f in dovecot.flags().items()}
        assert flags[new] == flags[duplicate] == {"\\Seen", "$SlaTicket", new_ticket}
        assert flags[reply] == flags[subject_reply] == {"\\Seen", "$SlaTicket", "$SlaReply", KNOWN}
        assert flags[auto_reply] == flags[bounce] == {"$SlaIgnored"}
        assert flags[empty] == {"$SlaRefused"}
        assert flags[deferred] == frozenset()
        assert flags[unknown] == {"\\Seen", "$SlaTicket", unknown_ticket}

        # Temporal is back: the deferred mail goes through; then nothing is left.
        second = await mailbox.run_once()
        later_ticket = sink.tickets["mail-" + _sha("<later-1@beispiel-versand.de>")]
        assert second == IntakeRound(opened=1, tickets=(later_ticket,))
        assert ours(dovecot.flags()[deferred]) == {"\\Seen", "$SlaTicket", later_ticket}

        calls = len(sink.calls)
        assert await mailbox.run_once() == IntakeRound()
        assert len(sink.calls) == calls
        assert len(sink.tickets) == 3


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


async def test_a_crash_before_flagging_processes_the_mail_again_into_the_same_ticket(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink()
    uid = dovecot.append(
        mail(
            "Druckt nicht",
            "Etiketten fehlen.",
            message_id="<crash-1@x.de>",
            files=(("a.png", PNG),),
        )
    )

    class CrashBeforeFlag(MailIntake):
        async def _flag(self, *args: object, **kwargs: object) -> None:
            raise ConnectionResetError("worker killed")

    crashed = intake(dovecot, sink, tmp_path, CrashBeforeFlag)
    with pytest.raises(ConnectionResetError):
        await crashed.run_once()
    await crashed.aclose()
    ticket = next(iter(sink.tickets.values()))
    assert ours(dovecot.flags()[uid]) == frozenset()
    assert (tmp_path / "attachments" / ticket / "a.png").exists()

    async with intake(dovecot, sink, tmp_path) as mailbox:
        assert await mailbox.run_once() == IntakeRound(opened=1, tickets=(ticket,))
    assert list(sink.tickets.values()) == [ticket]
    assert sorted(p.name for p in (tmp_path / "attachments" / ticket).iterdir()) == ["a.png"]
    assert ours(dovecot.flags()[uid]) == {"\\Seen", "$SlaTicket", ticket}


async def test_a_round_pauses_when_the_sink_keeps_failing(dovecot: Dovecot, tmp_path: Path) -> None:
    sink = FakeSink(fail_once={"eins", "zwei", "drei"})
    for n in ("eins", "zwei", "drei", "vier"):
        dovecot.append(mail(f"Störung {n}", "Text", message_id=f"<{n}@x.de>"))
    async with intake(dovecot, sink, tmp_path) as mailbox:
        assert await mailbox.run_once() == IntakeRound(deferred=4)
        assert len(sink.calls) == 3  # the fourth was not even tried
        assert (await mailbox.run_once()).opened == 4


# -- IDLE and reconnection ------------------------------------------------------------------


async def test_run_forever_idles_and_picks_up_a_mail_appended_while_it_waits(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink()
    await asyncio.to_thread(
        dovecot.append, mail("Erste", "vor dem Start", message_id="<first@x.de>")
    )
    # No polling to fall back on: only IDLE can bring the second mail in time.
    mailbox = intake(dovecot, sink, tmp_path, WatchedIntake, poll_interval=3600.0, idle_slice=0.2)
    assert isinstance(mailbox, WatchedIntake)
    stop = asyncio.Event()
    task = asyncio.create_task(mailbox.run_forever(stop))
    try:
        await until(lambda: len(sink.tickets) == 1)
        await until(mailbox.waiting.is_set)
        started = time.monotonic()
        uid = await asyncio.to_thread(
            dovecot.append, mail("Zweite", "während IDLE", message_id="<second@x.de>")
        )
        await until(lambda: len(sink.tickets) == 2)
        picked_up = time.monotonic() - started
        await until(lambda: "$SlaTicket" in dovecot.flags()[uid])
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert picked_up < 10
    assert task.exception() is None


async def test_run_forever_reconnects_after_the_server_drops_the_connection(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink()
    mailbox = intake(dovecot, sink, tmp_path, poll_interval=3600.0, idle_slice=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(mailbox.run_forever(stop))
    try:
        await until(lambda: dovecot.log().count("Login: user=<support>") >= 1)
        await asyncio.to_thread(dovecot.kick)
        await asyncio.to_thread(
            dovecot.append, mail("Nach dem Neustart", "Text", message_id="<after@x.de>")
        )
        await until(lambda: len(sink.tickets) == 1)
        assert dovecot.log().count("Login: user=<support>") >= 3  # intake twice, append once
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


# -- TLS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("implicit", [True, False], ids=["imaps", "starttls"])
async def test_the_intake_speaks_tls_to_a_private_ca(tmp_path: Path, implicit: bool) -> None:
    binary = dovecot_or_skip()
    with running_dovecot(binary, tls=True) as server:
        server.append(mail("Über TLS", "Text", message_id="<tls@x.de>"))
        settings = ImapSettings(**server.settings(tls=implicit))
        sink = FakeSink()
        async with MailIntake(settings, sink, data_dir=tmp_path, our_domains=OURS) as mailbox:
            assert (await mailbox.run_once()).opened == 1
        login = [line for line in server.log().splitlines() if "Login: user=<support>" in line]
        assert "TLS" in login[-1]


async def test_a_certificate_from_an_unknown_ca_is_refused(tmp_path: Path) -> None:
    binary = dovecot_or_skip()
    with running_dovecot(binary, tls=True) as server:
        settings = ImapSettings(**{**server.settings(tls=True), "ca_file": None})
        async with MailIntake(settings, FakeSink(), data_dir=tmp_path, our_domains=OURS) as box:
            with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
                await box.run_once()


# -- settings (no server needed) -------------------------------------------------------------------

ENV = {
    "SLA_IMAP_HOST": "imap.example.de",
    "SLA_IMAP_USER": "support",
    "SLA_IMAP_PASSWORD": "geheim",
}


def test_settings_from_env_with_defaults() -> None:
    settings = ImapSettings.from_env(ENV)
    assert (settings.host, settings.port, settings.tls, settings.mailbox) == (
        "imap.example.de",
        993,
        True,
        "INBOX",
    )
    assert ImapSettings.from_env({**ENV, "SLA_IMAP_TLS": "false"}).port == 143
    assert ImapSettings.from_env({**ENV, "SLA_IMAP_PORT": "1993"}).port == 1993
    assert "geheim" not in repr(settings) and "geheim" not in str(settings)
    assert settings.secret() == "geheim"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SLA_IMAP_HOST": ""}, "SLA_IMAP_HOST"),
        ({"SLA_IMAP_USER": " "}, "SLA_IMAP_USER"),
        ({"SLA_IMAP_PASSWORD": ""}, "SLA_IMAP_PASSWORD"),
        ({"SLA_IMAP_PORT": "imap"}, "SLA_IMAP_PORT"),
        ({"SLA_IMAP_PORT": "70000"}, "SLA_IMAP_PORT"),
        ({"SLA_IMAP_TLS": "vielleicht"}, "SLA_IMAP_TLS"),
        ({"SLA_IMAP_CA_FILE": "/nonexistent/ca.pem"}, "SLA_IMAP_CA_FILE"),
    ],
)
def test_settings_errors_name_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ImapSettings.from_env({**ENV, **change})


async def test_no_plain_text_login_to_a_remote_server_without_starttls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sent: list[str] = []

    class NoStartTls:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def has_capability(self, name: str) -> bool:
            return False

        def login(self, user: str, password: str) -> None:
            sent.append(password)

        def shutdown(self) -> None:
            pass

    monkeypatch.setattr("service.mailbox.imapclient.IMAPClient", NoStartTls)
    settings = ImapSettings(host="imap.example.de", user="u", password="geheim", tls=False)
    async with MailIntake(settings, FakeSink(), data_dir=tmp_path, our_domains=OURS) as mailbox:
        with pytest.raises(InsecureImapConfigError, match="clear text"):
            await mailbox.run_once()
        with pytest.raises(InsecureImapConfigError):
            await mailbox.run_forever(asyncio.Event())
    assert sent == []


# -- servers without keywords, huge mails ----------------------------------------------------------


class NoKeywords(MailIntake):
    """As on a server whose PERMANENTFLAGS allow no keywords (e.g. some hosted mailboxes)."""

    def _connect(self) -> Any:
        client = super()._connect()
        self._keywords = False
        return client


async def test_without_keywords_only_seen_marks_a_mail_done(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink()
    report = dovecot.append(mail("Störung", "Text", message_id="<k1@x.de>"))
    bounce = dovecot.append(BOUNCE)
    refused = dovecot.append(mail(None, None, message_id="<k2@x.de>"))
    read_before = dovecot.append(
        mail("Schon gelesen", "Text", message_id="<k3@x.de>"), flags=["\\Seen"]
    )
    async with intake(dovecot, sink, tmp_path, NoKeywords) as mailbox:
        first = await mailbox.run_once()
        assert (first.opened, first.ignored, first.refused) == (1, 1, 1)
        assert await mailbox.run_once() == IntakeRound()
    flags = {uid: ours(f) for uid, f in dovecot.flags().items()}
    assert flags[report] == flags[bounce] == flags[refused] == flags[read_before] == {"\\Seen"}
    assert len(sink.tickets) == 1


async def test_of_a_huge_mail_only_the_header_is_read(dovecot: Dovecot, tmp_path: Path) -> None:
    sink = FakeSink()
    uid = dovecot.append(
        mail("Riesiges Log", "x" * 5000, message_id="<huge@x.de>", files=(("log.png", PNG),))
    )
    async with intake(dovecot, sink, tmp_path, max_message_bytes=2000) as mailbox:
        assert (await mailbox.run_once()).opened == 1
    (fields,) = sink.reports.values()
    assert fields["description"] == "Riesiges Log"
    assert fields["attachments"] == []
    assert "$SlaTicket" in dovecot.flags()[uid]


async def test_a_mail_read_in_a_mail_client_before_the_intake_still_becomes_a_ticket(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink()
    dovecot.append(mail("Gelesen", "Text", message_id="<seen@x.de>"), flags=["\\Seen"])
    async with intake(dovecot, sink, tmp_path) as mailbox:
        assert (await mailbox.run_once()).opened == 1


async def test_mail_read_long_ago_is_history_not_a_report(dovecot: Dovecot, tmp_path: Path) -> None:
    # Pointing the intake at a mailbox with years of read mail opens no old tickets.
    long_ago = datetime.now(UTC) - timedelta(days=30)
    old = dovecot.append(
        mail("Alt", "Text", message_id="<old@x.de>"), flags=["\\Seen"], received=long_ago
    )
    unread = dovecot.append(
        mail("Alt, ungelesen", "Text", message_id="<old2@x.de>"), received=long_ago
    )
    sink = FakeSink()
    async with intake(dovecot, sink, tmp_path) as mailbox:
        assert (await mailbox.run_once()).opened == 1
    flags = dovecot.flags()
    assert ours(flags[old]) == {"\\Seen"}
    assert "$SlaTicket" in flags[unread]


async def test_a_full_batch_leaves_a_backlog_that_run_forever_takes_at_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    for n in range(5):
        dovecot.append(mail(f"Störung {n}", "Text", message_id=f"<batch-{n}@x.de>"))
    sink = FakeSink()
    async with intake(dovecot, sink, tmp_path, batch_size=2) as mailbox:
        first = await mailbox.run_once()
        assert (first.opened, first.backlog) == (2, 3)
    mailbox = intake(dovecot, sink, tmp_path, batch_size=2, poll_interval=3600.0, idle_slice=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(mailbox.run_forever(stop))
    try:
        await until(lambda: len(sink.tickets) == 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_run_forever_retries_deferred_mail_without_waiting_for_new_mail(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    sink = FakeSink(fail_once={"Temporal weg"})
    dovecot.append(mail("Temporal weg", "Text", message_id="<retry@x.de>"))
    mailbox = intake(
        dovecot, sink, tmp_path, poll_interval=3600.0, idle_slice=0.2, retry_deferred_after=0.5
    )
    stop = asyncio.Event()
    task = asyncio.create_task(mailbox.run_forever(stop))
    try:
        await until(lambda: len(sink.tickets) == 1)
        assert len(sink.calls) == 2  # failed once, then through
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
