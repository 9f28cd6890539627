"""Every mail as ``multipart/alternative``, with headers that thread one ticket's mails.

* Every :class:`MessageKind` and every templated mail family (maintenance,
  on-call, change request, audit) is text first, HTML second; the HTML is
  well-formed, in German, shows the ticket (maintenance, booking …) ID and
  links the status page, and holds every word of the text as text.
* Customer and operator text never becomes markup (``<script>``, ``&``, quotes).
* ``Reply-To`` is the support address; every mail after a ticket's first
  refers to that first mail (``In-Reply-To``, ``References``), whose ID is
  derived from the ticket alone.
* Payloads recorded before threading (no ``thread_root``) still render.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import jinja2
import pytest

from activities.composer import reference_of
from activities.mail import OutboxMailer
from activities.mail_html import BlockKind, Brand, HtmlMailRenderer, Reference, body_blocks
from activities.notifications import NotificationActivities
from domain.audit import AuditKind, audit_message, skipped_report
from domain.change_request import Discuss, RecordDevTicket
from domain.incident import Resolve
from domain.messages import OutgoingMessage
from domain.notifications import MessageKind, Notification, thread_root_id
from domain.oncall import AssignOperator, assign_operator, confirmation_message, operator_message
from domain.sla import SlaPolicy
from service.mail_parse import Ignored, NewReport, Reply, classify
from tests.activities import test_maintenance_messages as maintenance
from tests.activities.test_notifications import (
    RENDERER,
    SCENARIO,
    SENDER,
    TICKET,
    Scenario,
    notification_of,
    open_incident,
)
from tests.activities.test_oncall_messages import MONDAY, booked
from tests.domain import test_change_request as change_requests
from tests.mail_checks import check_html, parts_of, read_html

POLICY = SlaPolicy.default()
STATUS_PAGE = POLICY.status_page.url
ROOT = f"<{TICKET}.0.receipt@sla.myconvento.com>"
HOSTILE = "<script>alert('x')</script> Müller & Söhne \"Versand\" <b>fett</b> &amp;"


def composer(*, reply_to: str | None = None) -> NotificationActivities:
    return NotificationActivities(
        OutboxMailer(Path("unused")),
        RENDERER,
        SENDER,
        status_page_url=STATUS_PAGE,
        reply_to=reply_to,
    )


def round_trip(message: EmailMessage) -> EmailMessage:
    """As a mail client reads the bytes we send."""
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# -- every incident notification ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(MessageKind), ids=lambda k: k.value)
def test_every_kind_is_text_first_then_accessible_html(kind: MessageKind) -> None:
    notification = notification_of(kind)
    subject, body = RENDERER.render(notification)
    sent = round_trip(composer().compose(notification))

    text, html = parts_of(sent)
    assert text == body, "the plain text is exactly what the template rendered"
    reading = check_html(html, text=text, reference=TICKET, status_page_url=STATUS_PAGE)
    assert reading.title == subject
    assert "Convento GmbH" in reading.text
    assert "max-width:640px" in html
    assert "<h1" in html and 'name="viewport"' in html


def test_the_html_part_heading_and_id_box_come_from_the_data_not_the_text() -> None:
    sent = round_trip(composer().compose(notification_of(MessageKind.RESOLUTION)))
    _, html = parts_of(sent)
    assert '<h1 style="' in html and ">Störung behoben</h1>" in html  # "[INC-…]" left to the box
    assert f"{TICKET}</strong>" in html
    assert f'id="status-page" href="{STATUS_PAGE}"' in html


def test_the_status_page_named_in_the_text_is_a_link_there_too() -> None:
    notification = notification_of(MessageKind.ACKNOWLEDGEMENT)
    assert notification.facts.all_users
    _, html = parts_of(round_trip(composer().compose(notification)))
    assert html.count(f'href="{STATUS_PAGE}"') == 2  # in the text's sentence and in the footer


def test_without_a_status_page_the_html_has_no_link() -> None:
    notification = notification_of(MessageKind.RECEIPT)
    bare = notification.model_copy(
        update={"facts": notification.facts.model_copy(update={"status_page_url": None})}
    )
    activities = NotificationActivities(OutboxMailer(Path("unused")), RENDERER, SENDER)
    text, html = parts_of(round_trip(activities.compose(bare)))
    check_html(html, text=text, reference=TICKET, status_page_url=None)


# -- customer and operator text stays text ----------------------------------------------


def test_hostile_customer_and_operator_text_reaches_the_html_as_text() -> None:
    scenario = Scenario(
        open_incident(
            SCENARIO.state.received_at, description=HOSTILE, company=f"Firma {HOSTILE}"[:200]
        )
    )
    scenario.run(Resolve(summary=HOSTILE), SCENARIO.state.received_at + timedelta(hours=1))
    for notification in scenario.notifications:
        text, html = parts_of(round_trip(composer().compose(notification)))
        reading = check_html(html, text=text, reference=TICKET, status_page_url=STATUS_PAGE)
        assert "<script>" not in html and "<b>" not in html
        assert "script" not in reading.tags and "b" not in reading.tags
    resolution = scenario.of_kind(MessageKind.RESOLUTION)
    _, html = parts_of(round_trip(composer().compose(resolution)))
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Müller &amp; Söhne &#34;Versand&#34;" in html
    assert "&amp;amp;" in html  # a literal "&amp;" in the text is shown as typed
    assert HOSTILE in read_html(html).text


def test_the_check_is_not_vacuous_markup_from_text_is_caught() -> None:
    _, html = parts_of(round_trip(composer().compose(notification_of(MessageKind.RESOLUTION))))
    tampered = html.replace("Datenbankserver ersetzt", "<script>alert(1)</script>")
    with pytest.raises(AssertionError):
        check_html(tampered, text="Datenbankserver", reference=TICKET, status_page_url=None)


def test_a_frame_environment_without_autoescaping_is_refused() -> None:
    unsafe = jinja2.Environment(
        loader=jinja2.PackageLoader("activities", "templates"), autoescape=False
    )
    with pytest.raises(ValueError, match="autoescaping"):
        HtmlMailRenderer(unsafe)


def test_the_body_is_read_back_into_paragraphs_facts_lists_commands_and_signature() -> None:
    text = (
        "Guten Tag Erika Mustermann,\n\n"
        "leider konnten wir die Störung nicht wie angekündigt bis Dienstag beheben und\n"
        "melden uns bald. Siehe http://stoerung.convento.de\n\n"
        "Klassifizierung:  kritische Störung\n"
        "Begründung: <Server & Netz>\n\n"
        "Verlauf:\n"
        "  Dienstag, 24.11.2026, 10:00 Uhr  Störungsmeldung eingegangen\n\n"
        "Bitte bestätigen:\n\n"
        "  sla ack INC-1 --severity <critical|major|minor>\n\n"
        "Mit freundlichen Grüßen\nIhr myconvento Support-Team\n"
    )
    blocks = body_blocks(text, link="http://stoerung.convento.de")
    assert [b.kind for b in blocks] == [
        BlockKind.PARAGRAPH,
        BlockKind.PARAGRAPH,
        BlockKind.FACTS,
        BlockKind.HEADING,
        BlockKind.LIST,
        BlockKind.PARAGRAPH,
        BlockKind.COMMANDS,
        BlockKind.SIGNATURE,
    ]
    (wrapped,) = blocks[1].lines  # hard-wrapped prose is one line again
    assert wrapped[0].text.endswith("beheben und melden uns bald. Siehe ")
    assert wrapped[-1].href == "http://stoerung.convento.de"
    assert [(f.label, f.value[0].text) for f in blocks[2].facts] == [
        ("Klassifizierung", "kritische Störung"),
        ("Begründung", "<Server & Netz>"),
    ]
    assert len(blocks[7].lines) == 2


def test_numbered_sections_become_headings_and_deeper_lines_stay_with_their_item() -> None:
    text = (
        "1. Frist überschritten (1)\n"
        "   - INC-1 – Beispiel Versand GmbH (kritisch, neu)\n"
        "     Reaktionszeit abgelaufen am Dienstag\n"
        "     Zusage: eingehalten\n"
        "   - INC-2 – Andere GmbH (geringfügig, neu)\n"
    )
    heading, listed = body_blocks(text)
    assert heading.kind is BlockKind.HEADING
    assert listed.kind is BlockKind.LIST
    assert [[line[0].text for line in item] for item in listed.items] == [
        [
            "INC-1 – Beispiel Versand GmbH (kritisch, neu)",
            "Reaktionszeit abgelaufen am Dienstag",
            "Zusage: eingehalten",
        ],
        ["INC-2 – Andere GmbH (geringfügig, neu)"],
    ]


def test_a_link_only_ever_goes_to_the_status_page_from_configuration() -> None:
    html = HtmlMailRenderer().render(
        subject="Test",
        text="Bitte sehen Sie auf https://evil.example/ nach.\n",
        brand=Brand(),
        reference=Reference("Ticket-ID", "INC-1"),
        status_page_url="javascript:alert(1)",
    )
    reading = read_html(html)
    assert reading.links == []  # not a web URL: no link at all
    assert "https://evil.example/" in reading.text


# -- the other mail families ---------------------------------------------------------------


def _maintenance_messages() -> list[OutgoingMessage]:
    state = maintenance.planned()
    first = maintenance.last_messages(state)
    moved = maintenance.rescheduled(state)
    return [*first, *maintenance.last_messages(moved)]


def _change_request_messages() -> list[OutgoingMessage]:
    state = change_requests.run(
        change_requests.submitted(),
        RecordDevTicket(dev_ticket_id="DEV-0007"),
        Discuss(note=HOSTILE),
    )
    return [e.message for e in change_requests.effects(state, 1) if e.message]


def _oncall_messages() -> list[OutgoingMessage]:
    booking = booked()
    named = assign_operator(booking, AssignOperator(operator="Max Muster"), MONDAY)
    return [confirmation_message(booking, POLICY), operator_message(named, POLICY)]


def _audit_messages() -> list[OutgoingMessage]:
    report = skipped_report(
        "sla-audit-daily-2026-11-24T07:15:00Z", AuditKind.DAILY, MONDAY, MONDAY.date(), POLICY
    )
    return [audit_message(report, POLICY)]


FAMILIES = {
    "maintenance": (_maintenance_messages, "Wartungs-ID"),
    "change_request": (_change_request_messages, "Änderungswunsch"),
    "oncall": (_oncall_messages, "Buchungsnummer"),
    "audit": (_audit_messages, "Prüfung"),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_templated_mail_is_text_first_then_html_with_its_id(family: str) -> None:
    build, label = FAMILIES[family]
    messages = build()
    assert messages
    for message in messages:
        reference = reference_of(message)
        assert reference is not None and reference.label == label
        _, body = RENDERER.render_message(message)
        sent = round_trip(composer().compose_message(message))
        text, html = parts_of(sent)
        assert text == body
        url = message.context.get("status_page_url") or STATUS_PAGE
        check_html(html, text=text, reference=reference.value, status_page_url=str(url))
        assert sent["Reply-To"] == SENDER


def assert_threaded(first: OutgoingMessage, later: list[OutgoingMessage]) -> None:
    assert later
    sent_first = round_trip(composer().compose_message(first))
    assert first.thread_root == first.message_id
    assert sent_first["In-Reply-To"] is None and sent_first["References"] is None
    for message in later:
        sent = round_trip(composer().compose_message(message))
        assert sent["In-Reply-To"] == sent["References"] == first.message_id


@pytest.mark.parametrize("family", ["change_request", "oncall"])
def test_the_mails_of_one_booking_or_change_request_thread(family: str) -> None:
    first, *later = FAMILIES[family][0]()
    assert_threaded(first, later)


def test_each_customer_s_maintenance_mails_thread_under_its_announcement() -> None:
    state = maintenance.planned()
    announcements = maintenance.last_messages(state)
    moved = maintenance.last_messages(maintenance.rescheduled(state))
    assert len(announcements) == len(moved) > 1  # one per directory customer
    for announcement in announcements:
        assert_threaded(announcement, [m for m in moved if m.to == announcement.to])


def test_a_message_recorded_before_threading_still_renders_unthreaded() -> None:
    (message,) = maintenance.last_messages(maintenance.planned())[:1]
    recorded = message.model_dump(mode="json")
    del recorded["thread_root"]  # what an older worker scheduled
    old = OutgoingMessage.model_validate(recorded)
    assert old.thread_root is None
    sent = round_trip(composer().compose_message(old))
    parts_of(sent)
    assert sent["In-Reply-To"] is None and sent["References"] is None


def test_an_old_notification_payload_renders_and_threads() -> None:
    notification = notification_of(MessageKind.STAGE_2)
    recorded = notification.model_dump(mode="json")
    # Facts recorded before the optional fields existed (defaults fill them in).
    for optional in ("status_page_url", "support_hotline", "attachments", "missing_labels"):
        recorded["facts"].pop(optional)
    old = Notification.model_validate(recorded)
    sent = round_trip(composer().compose(old))
    text, html = parts_of(sent)
    # The footer still links the status page: the worker's configured URL.
    check_html(html, text=text, reference=TICKET, status_page_url=STATUS_PAGE)
    assert sent["References"] == ROOT


# -- headers -----------------------------------------------------------------------------


def test_reply_to_is_the_support_address_and_can_be_set_apart() -> None:
    notification = notification_of(MessageKind.ACKNOWLEDGEMENT)
    assert round_trip(composer().compose(notification))["Reply-To"] == SENDER
    other = composer(reply_to="Support <hilfe@myconvento.com>").compose(notification)
    assert round_trip(other)["Reply-To"] == "Support <hilfe@myconvento.com>"
    assert round_trip(other)["From"] == SENDER


def test_every_mail_of_a_ticket_refers_to_its_receipt() -> None:
    assert thread_root_id(TICKET, "sla.myconvento.com") == ROOT
    receipt = SCENARIO.of_kind(MessageKind.RECEIPT)
    assert receipt.message_id == ROOT
    sent = round_trip(composer().compose(receipt))
    assert sent["In-Reply-To"] is None and sent["References"] is None

    later = [n for n in SCENARIO.notifications if n.kind is not MessageKind.RECEIPT]
    assert len(later) > 10
    for notification in later:
        sent = round_trip(composer().compose(notification))
        assert sent["Message-ID"] == notification.message_id
        assert sent["In-Reply-To"] == ROOT, notification.kind
        assert sent["References"] == ROOT, notification.kind


def test_the_root_follows_the_message_id_domain() -> None:
    notification = notification_of(MessageKind.RESOLUTION)
    elsewhere = notification.model_copy(
        update={"message_id": notification.message_id.replace("sla.myconvento.com", "mail.test")}
    )
    sent = round_trip(composer().compose(elsewhere))
    assert sent["References"] == f"<{TICKET}.0.receipt@mail.test>"


def test_compose_stays_byte_identical_with_two_parts() -> None:
    notification = notification_of(MessageKind.EXTENDED_ESCALATION)
    assert bytes(composer().compose(notification)) == bytes(composer().compose(notification))


# -- replies come back to the ticket -----------------------------------------------------


def intake(raw: bytes) -> NewReport | Reply | Ignored:
    """What the mailbox intake makes of ``raw``."""
    return classify(
        raw,
        our_domains=frozenset({"sla.myconvento.com"}),
        max_attachment_bytes=1_000_000,
        max_attachments=5,
    )


def _reply_to(message: EmailMessage, *, client_references: str | None = None) -> bytes:
    """A customer's answer as a mail client writes it (RFC 5322 3.6.4)."""
    parent = str(message["Message-ID"])
    references = client_references
    if references is None:
        references = " ".join(filter(None, [message["References"], parent]))
    return (
        "From: Erika Mustermann <erika.mustermann@beispiel-versand.de>\r\n"
        "To: support@myconvento.com\r\n"
        f"Subject: AW: {message['Subject']}\r\n"
        "Message-ID: <antwort-1@beispiel-versand.de>\r\n"
        f"In-Reply-To: {parent}\r\n"
        f"References: {references}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Der Druck geht jetzt auch nicht mehr.\r\n"
    ).encode()


@pytest.mark.parametrize("kind", [MessageKind.RECEIPT, MessageKind.STAGE_2, MessageKind.RESOLUTION])
def test_an_answer_to_any_mail_of_the_thread_joins_the_ticket(kind: MessageKind) -> None:
    sent = round_trip(composer().compose(notification_of(kind)))
    outcome = intake(_reply_to(sent))
    assert isinstance(outcome, Reply)
    assert outcome.ticket_id == TICKET


def test_an_answer_that_keeps_only_the_thread_root_joins_the_ticket() -> None:
    """Some clients cut References down to the first and the last ID."""
    sent = round_trip(composer().compose(notification_of(MessageKind.STAGE_2)))
    raw = _reply_to(sent, client_references=ROOT).replace(
        f"In-Reply-To: {sent['Message-ID']}".encode(), b"In-Reply-To: <x@kunde.example>"
    )
    outcome = intake(raw)
    assert isinstance(outcome, Reply) and outcome.ticket_id == TICKET


def test_our_own_threaded_mail_coming_back_is_still_ignored() -> None:
    sent = composer().compose(notification_of(MessageKind.STAGE_2))
    outcome = intake(bytes(sent))
    assert not isinstance(outcome, Reply)
