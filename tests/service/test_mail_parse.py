"""What a mail to support@ means: new report, reply to a ticket, or nothing (service.mail_parse)."""

from __future__ import annotations

import hashlib
import os
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from domain.report import FullName
from domain.values import Description, FreeText, NonEmptyLine, Reference
from service.mail_parse import (
    TICKET_ID_PATTERN,
    Attachment,
    Ignored,
    NewReport,
    Reply,
    classify,
    planned_attachment_names,
    remove_attachments,
    sanitise_filename,
    save_attachments,
    ticket_in_message_id,
)

OURS = frozenset({"myconvento.com"})
TICKET = "INC-20261202-ABC123"
OUR_ID = f"<{TICKET}.4.receipt@sla.myconvento.com>"


def parse(raw: bytes, *, max_bytes: int = 1_000_000, max_count: int = 10):
    return classify(
        raw, our_domains=OURS, max_attachment_bytes=max_bytes, max_attachments=max_count
    )


def mail(
    body: str | None = "Die Anmeldung geht nicht, Fehler 503.",
    *,
    subject: str | None = "Störung Anmeldung",
    sender: str | None = "Erika Mustermann <erika.mustermann@Beispiel-Versand.DE>",
    message_id: str | None = "<m1@beispiel-versand.de>",
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    message["To"] = "support@myconvento.com"
    if subject is not None:
        message["Subject"] = subject
    if message_id is not None:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    if body is not None:
        message.set_content(body)
    if html is not None:
        if body is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message


def report_of(raw: bytes | EmailMessage, **kwargs) -> NewReport:
    outcome = parse(raw if isinstance(raw, bytes) else raw.as_bytes(), **kwargs)
    assert isinstance(outcome, NewReport), outcome
    return outcome


def reply_of(raw: bytes | EmailMessage) -> Reply:
    outcome = parse(raw if isinstance(raw, bytes) else raw.as_bytes())
    assert isinstance(outcome, Reply), outcome
    return outcome


# -- new reports -----------------------------------------------------------------------


def test_a_new_mail_becomes_a_report_in_the_intake_shape() -> None:
    report = report_of(mail())

    assert report.fields == {
        "channel": "email",
        "email": "erika.mustermann@beispiel-versand.de",
        "full_name": "Erika Mustermann",
        "description": "Störung Anmeldung\n\nDie Anmeldung geht nicht, Fehler 503.",
        "request_id": "mail-" + hashlib.sha256(b"<m1@beispiel-versand.de>").hexdigest()[:40],
        "attachments": [],
    }
    assert report.message_id == "<m1@beispiel-versand.de>"


def test_only_the_domain_of_the_sender_is_lower_cased() -> None:
    report = report_of(mail(sender="Erika Mustermann <Erika.M@Beispiel.DE>"))
    assert report.fields["email"] == "Erika.M@beispiel.de"


def test_the_same_message_id_gives_the_same_request_id_and_another_one_another() -> None:
    first = report_of(mail(body="eins"))
    again = report_of(mail(body="eins, anders kodiert"))
    other = report_of(mail(message_id="<m2@beispiel-versand.de>"))
    assert first.fields["request_id"] == again.fields["request_id"]
    assert first.fields["request_id"] != other.fields["request_id"]


def test_without_message_id_the_bytes_make_the_request_id() -> None:
    raw = mail(message_id=None).as_bytes()
    first, again = report_of(raw), report_of(raw)
    assert first.fields["request_id"] == again.fields["request_id"]
    assert first.fields["request_id"] == "mail-" + hashlib.sha256(raw).hexdigest()[:40]
    assert first.message_id.endswith("@mail-intake.invalid>")
    assert report_of(raw + b"x").fields["request_id"] != first.fields["request_id"]


@pytest.mark.parametrize(
    "sender",
    [
        "erika@beispiel.de",
        "Erika <erika@beispiel.de>",
        '"erika@beispiel.de" <erika@beispiel.de>',
    ],
)
def test_a_display_name_of_one_word_is_no_full_name(sender: str) -> None:
    assert "full_name" not in report_of(mail(sender=sender)).fields


def test_a_mail_without_subject_and_text_has_no_description_so_intake_refuses_it() -> None:
    report = report_of(mail(body=None, subject=None))
    assert "description" not in report.fields
    report = report_of(mail(body="   \n\n", subject=" "))
    assert "description" not in report.fields


def test_subject_alone_or_text_alone_is_a_description() -> None:
    assert report_of(mail(body=None)).fields["description"] == "Störung Anmeldung"
    assert report_of(mail(subject=None, body="Nur Text")).fields["description"] == "Nur Text"


def test_the_description_is_bounded() -> None:
    description = report_of(mail(body="x" * 50_000)).fields["description"]
    assert isinstance(description, str)
    assert len(description) == 5000
    assert description.endswith("…")


def test_an_html_only_mail_is_read_as_text() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>alert(1)</script></head>"
        "<body><p>Fehler&nbsp;503 &amp; kein Login</p><div>Zeile&nbsp;2<br>Zeile 3</div></body>"
        "</html>"
    )
    description = report_of(mail(body=None, html=html, subject=None)).fields["description"]
    assert description == "Fehler 503 & kein Login\nZeile 2\nZeile 3"


def test_the_plain_text_part_is_preferred_to_html() -> None:
    report = report_of(mail(body="Klartext", html="<p>HTML</p>", subject=None))
    assert report.fields["description"] == "Klartext"


# -- decoding --------------------------------------------------------------------------


def test_encoded_words_in_latin1_and_utf8_are_decoded() -> None:
    raw = (
        b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <juergen@example.de>\r\n"
        b"Subject: =?utf-8?b?w4RyZ2VyIG1pdCBkZXIgQW5tZWxkdW5n?=\r\n"
        b"Message-ID: <x@example.de>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xfc\xdfe\r\n"
    )
    report = report_of(raw)
    assert report.fields["full_name"] == "Jürgen Müller"
    assert report.fields["description"] == "Ärger mit der Anmeldung\n\nGrüße"


@pytest.mark.parametrize("charset", ["x-unknown-charset", "base64", "utf-8"])
def test_broken_or_unknown_charsets_become_replacement_characters(charset: str) -> None:
    raw = (
        b"From: Erika Mustermann <erika@example.de>\r\n"
        b"Subject: =?" + charset.encode() + b"?q?Fehler_=FF?=\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n\r\n"
        b"kaputt \xff\xfe\r\n"
    )
    description = report_of(raw).fields["description"]
    assert isinstance(description, str)
    assert "kaputt \ufffd\ufffd" in description


def test_raw_utf8_in_headers_is_read_as_utf8() -> None:
    raw = ("From: Jürgen Müller <juergen@example.de>\r\nSubject: Grüße\r\n\r\nText\r\n").encode()
    report = report_of(raw)
    assert report.fields["full_name"] == "Jürgen Müller"
    assert report.fields["description"] == "Grüße\n\nText"


def test_no_line_break_or_control_character_reaches_a_single_line_value() -> None:
    raw = (
        b"From: =?utf-8?q?Erika=0D=0ABcc=3A_x=40evil=2Eexample_Muster=07mann?= <e@example.de>\r\n"
        b"Subject: =?utf-8?q?Hallo=0D=0AX-Evil=3A_1=09=E2=80=AEdrow?=\r\n\r\nText\r\n"
    )
    report = report_of(raw)
    name = report.fields["full_name"]
    assert name == "Erika Bcc: x@evil.example Mustermann"
    description = report.fields["description"]
    assert isinstance(description, str)
    subject = description.split("\n\n")[0]
    assert subject == "Hallo X-Evil: 1 drow"
    TypeAdapter(FullName).validate_python(name)
    TypeAdapter(Description).validate_python(description)


def test_an_encoded_word_shape_left_in_a_name_is_defused_for_intake() -> None:
    raw = b"From: =?utf-8?q?=3D=3Fx=3Fq=3Fy=3F=3D_Mustermann?= <e@example.de>\r\n\r\nText\r\n"
    name = report_of(raw).fields["full_name"]
    TypeAdapter(FullName).validate_python(name)


# -- automatic mail and loops ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Auto-Submitted", "auto-replied"),
        ("Auto-Submitted", "auto-generated; owner-email=x@example.de"),
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "Abwesenheitsnotiz"),
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "auto_reply"),
        ("Precedence", "list"),
        ("Return-Path", "<>"),
    ],
)
def test_auto_replies_are_ignored(header: str, value: str) -> None:
    outcome = parse(mail(headers={header: value}).as_bytes())
    assert isinstance(outcome, Ignored)
    assert outcome.sender == "erika.mustermann@beispiel-versand.de"


def test_auto_submitted_no_is_a_person() -> None:
    assert isinstance(parse(mail(headers={"Auto-Submitted": "no"}).as_bytes()), NewReport)


def test_an_out_of_office_answer_to_our_receipt_is_ignored_not_a_reply() -> None:
    message = mail(subject=f"Abwesend: Ihre Meldung [{TICKET}]", headers={"In-Reply-To": OUR_ID})
    message["Auto-Submitted"] = "auto-replied"
    assert isinstance(parse(message.as_bytes()), Ignored)


def test_a_delivery_status_notification_is_ignored() -> None:
    raw = (
        b"From: Mail Delivery System <mailer@relay.example>\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    outcome = parse(raw)
    assert isinstance(outcome, Ignored)
    assert "multipart/report" in outcome.reason


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@relay.example", "postmaster@beispiel.de"])
def test_mail_from_the_mailer_daemon_is_ignored(sender: str) -> None:
    assert isinstance(parse(mail(sender=sender).as_bytes()), Ignored)


@pytest.mark.parametrize(
    "sender",
    [
        "myconvento Support <support@myconvento.com>",
        "noreply@sla.myconvento.com",
        "Status <STATUS@MyConvento.com>",
    ],
)
def test_mail_from_our_own_system_addresses_is_ignored(sender: str) -> None:
    outcome = parse(mail(sender=sender).as_bytes())
    assert isinstance(outcome, Ignored)
    assert "our own system address" in outcome.reason


def test_a_copy_of_a_mail_we_sent_is_ignored() -> None:
    copy = mail(sender="Erika Mustermann <erika@beispiel.de>", message_id=OUR_ID)
    assert isinstance(parse(copy.as_bytes()), Ignored)
    maintenance = mail(
        message_id="<MNT-1.announcement@sla.myconvento.com>",
        headers={"X-SLA-Kind": "maintenance_announcement"},
    )
    assert isinstance(parse(maintenance.as_bytes()), Ignored)


def test_a_colleague_in_our_domain_may_report() -> None:
    outcome = parse(mail(sender="Max Kollege <max.kollege@myconvento.com>").as_bytes())
    assert isinstance(outcome, NewReport)


@pytest.mark.parametrize("sender", [None, "", "undisclosed-recipients:;", "kein-at", "<>"])
def test_a_mail_without_a_usable_from_is_ignored(sender: str | None) -> None:
    outcome = parse(mail(sender=sender).as_bytes())
    assert isinstance(outcome, Ignored)
    assert outcome.reason == "no usable From address"


# -- replies ---------------------------------------------------------------------------------


def test_in_reply_to_one_of_our_message_ids_is_a_reply_to_its_ticket() -> None:
    body = (
        "Es geht wieder, danke!\n\n"
        "Am 02.12.2026 um 10:00 schrieb myconvento Support <support@myconvento.com>:\n"
        "> Ihre Störungsmeldung ist eingegangen\n"
        "> Ticket-ID INC-20261202-ABC123\n"
    )
    reply = reply_of(mail(body=body, subject="Re: Ihre Meldung", headers={"In-Reply-To": OUR_ID}))
    assert reply.ticket_id == TICKET
    assert reply.text == "Es geht wieder, danke!"
    assert reply.sender == "erika.mustermann@beispiel-versand.de"
    assert reply.sender_name == "Erika Mustermann"
    assert reply.subject == "Re: Ihre Meldung"
    assert reply.message_id == "<m1@beispiel-versand.de>"
    # The fallback (unknown ticket) is the whole mail as a report.
    assert "Am 02.12.2026" in str(reply.fallback.fields["description"])


def test_the_newest_of_our_message_ids_in_references_wins() -> None:
    refs = (
        "<INC-20261201-AAAAAA.1.receipt@sla.myconvento.com> <foreign@example.de> "
        "<INC-20261202-BBBBBB.3.acknowledgement@sla.myconvento.com> <other@example.de>"
    )
    reply = reply_of(mail(headers={"References": refs}))
    assert reply.ticket_id == "INC-20261202-BBBBBB"


def test_a_ticket_id_in_brackets_in_the_subject_makes_a_reply() -> None:
    reply = reply_of(mail(subject=f"AW: Ihre Störungsmeldung ist eingegangen [{TICKET}-2]"))
    assert reply.ticket_id == f"{TICKET}-2"


@pytest.mark.parametrize(
    "headers",
    [
        {"In-Reply-To": f"<{TICKET}.4.receipt@myconvento.com.evil.example>"},
        {"In-Reply-To": "<INC-20261202-abc123.4.receipt@sla.myconvento.com>"},
        {"In-Reply-To": "<m0@beispiel-versand.de>"},
    ],
)
def test_foreign_message_ids_make_no_reply(headers: dict[str, str]) -> None:
    assert isinstance(parse(mail(headers=headers).as_bytes()), NewReport)


def test_a_ticket_id_without_brackets_in_the_subject_makes_no_reply() -> None:
    assert isinstance(parse(mail(subject=f"Wie {TICKET} neulich").as_bytes()), NewReport)


@pytest.mark.parametrize(
    "quote",
    [
        "On Tue, 2 Dec 2026 at 10:00, myconvento Support <support@myconvento.com> wrote:\n> alt",
        "Am Di., 2. Dez. 2026 um 10:00 Uhr schrieb myconvento Support\n"
        "<support@myconvento.com>:\n\n> alt",
        "-----Ursprüngliche Nachricht-----\nVon: support@myconvento.com\nBetreff: alt",
        "-----Original Message-----\nFrom: support@myconvento.com",
        "________________________________\nVon: support@myconvento.com",
    ],
)
def test_the_quoted_mail_below_the_reply_is_removed(quote: str) -> None:
    body = f"Neue Info: Fehler 503 auch am Lager.\n> zitiert mittendrin\nZweite Zeile.\n\n{quote}\n"
    reply = reply_of(mail(body=body, headers={"In-Reply-To": OUR_ID}))
    assert reply.text == "Neue Info: Fehler 503 auch am Lager.\nZweite Zeile."


def test_an_html_reply_loses_its_blockquote() -> None:
    html = (
        "<div>Danke, gelöst.</div><div class=gmail_quote><div class=gmail_attr>"
        "Am Di., 2. Dez. 2026 um 10:00 schrieb Support &lt;support@myconvento.com&gt;:<br></div>"
        "<blockquote><p>Ihre Meldung</p></blockquote></div>"
    )
    reply = reply_of(mail(body=None, html=html, headers={"In-Reply-To": OUR_ID}))
    assert reply.text == "Danke, gelöst."


def test_reply_subject_and_message_id_fit_a_single_line_field() -> None:
    raw = (
        b"From: Erika Mustermann <e@example.de>\r\n"
        b"Subject: =?utf-8?q?=3D=3Fx=3Fq=3Fy=3F=3D?= " + b"lang " * 100 + b"\r\n"
        b"Message-ID: <" + b"x" * 300 + b"@example.de>\r\n"
        b"In-Reply-To: " + OUR_ID.encode() + b"\r\n\r\nText\r\n"
    )
    reply = reply_of(raw)
    assert len(reply.subject) == 200
    TypeAdapter(NonEmptyLine).validate_python(reply.subject)
    TypeAdapter(NonEmptyLine).validate_python(reply.message_id)
    assert reply.message_id.endswith("@mail-intake.invalid>")
    assert reply_of(raw).message_id == reply.message_id


def test_reply_text_is_bounded() -> None:
    reply = reply_of(mail(body="y" * 9000, headers={"In-Reply-To": OUR_ID}))
    assert len(reply.text) == 5000


def test_ticket_in_message_id() -> None:
    assert ticket_in_message_id(OUR_ID, OURS) == TICKET
    assert ticket_in_message_id(f"<{TICKET}.4.receipt@myconvento.com>", OURS) == TICKET
    assert ticket_in_message_id(f"<{TICKET}.4.receipt@example.de>", OURS) is None
    assert ticket_in_message_id("<CR-20261202-ABC123.1.x@myconvento.com>", OURS) is None


# -- attachments ---------------------------------------------------------------------------------


def with_files(*files: tuple[str | None, bytes, str]) -> EmailMessage:
    message = mail()
    for name, content, content_type in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


@pytest.mark.parametrize(
    ("given_name", "safe"),
    [
        ("screenshot.png", "screenshot.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\erika\\Desktop\\Fehler.log", "Fehler.log"),
        (".bashrc", "bashrc"),
        ("...", "attachment-1"),
        ("Ärger über Größe.txt", "Ärger über Größe.txt"),
        ("a<b>c|d?e*.txt", "a_b_c_d_e_.txt"),
        ("rechnung (1).pdf", "rechnung (1).pdf"),
        ("x\r\ny.txt", "x_y.txt"),
        ("\u202egnp.exe", "_gnp.exe"),
        ("", "attachment-1"),
        (None, "attachment-1"),
        ("   ", "attachment-1"),
    ],
)
def test_attachment_names_are_sanitised(given_name: str | None, safe: str) -> None:
    assert sanitise_filename(given_name, 1) == safe


def test_long_names_keep_their_extension() -> None:
    name = sanitise_filename("b" * 300 + ".tar.gz", 1)
    assert len(name) == 100
    assert name.endswith("b.gz")


def test_attachments_come_with_sanitised_unique_names() -> None:
    message = with_files(
        ("../bild.png", b"1", "image/png"),
        ("Bild.png", b"2", "image/png"),
        ("bild.png", b"3", "image/png"),
        (None, b"%PDF", "application/pdf"),
    )
    report = report_of(message)
    names = [a.name for a in report.attachments]
    assert names == ["bild.png", "Bild (2).png", "bild (3).png", "attachment-4.pdf"]
    assert report.fields["attachments"] == names
    assert [a.content for a in report.attachments] == [b"1", b"2", b"3", b"%PDF"]
    assert report.attachments[0].content_type == "image/png"


def test_inline_images_count_as_attachments() -> None:
    message = mail(body=None, html='<p>Siehe <img src="cid:img1@x"></p>')
    message.get_body(("html",)).add_related(  # type: ignore[union-attr]
        b"\x89PNG", maintype="image", subtype="png", cid="<img1@x>"
    )
    report = report_of(message)
    assert [(a.name, a.content) for a in report.attachments] == [("attachment-1.png", b"\x89PNG")]
    assert report.fields["description"] == "Störung Anmeldung\n\nSiehe"


def test_too_large_and_too_many_attachments_are_dropped_and_named() -> None:
    message = with_files(
        ("gross.bin", b"x" * 101, "application/octet-stream"),
        ("a.txt", b"a", "text/plain"),
        ("b.txt", b"b", "text/plain"),
        ("c.txt", b"c", "text/plain"),
    )
    report = report_of(message, max_bytes=100, max_count=2)
    assert [a.name for a in report.attachments] == ["a.txt", "b.txt"]
    assert report.dropped == (
        "gross.bin: larger than 100 bytes (101 bytes)",
        "c.txt: more than 2 attachments",
    )


def test_a_forwarded_mail_is_one_attachment() -> None:
    inner = mail(subject="Alte Meldung", body="alt")
    message = mail()
    message.add_attachment(inner)
    report = report_of(message)
    assert [a.name for a in report.attachments] == ["attachment-1.eml"]
    assert b"Alte Meldung" in report.attachments[0].content


def test_reply_attachments_travel_with_the_reply() -> None:
    message = with_files(("log.txt", b"log", "text/plain"))
    message["In-Reply-To"] = OUR_ID
    reply = reply_of(message)
    assert [a.name for a in reply.attachments] == ["log.txt"]


# -- saving -------------------------------------------------------------------------------------


def files(*pairs: tuple[str, bytes]) -> list[Attachment]:
    return [Attachment(name, content, "application/octet-stream") for name, content in pairs]


def test_erasure_removes_the_tickets_attachments_and_nothing_else(tmp_path: Path) -> None:
    other = "INC-20261202-OTHER1"
    save_attachments(tmp_path, TICKET, files(("a.txt", b"A"), ("b.png", b"B")))
    save_attachments(tmp_path, other, files(("c.txt", b"C")))
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not ours")
    (tmp_path / "attachments" / TICKET / "link.txt").symlink_to(outside)

    assert remove_attachments(tmp_path, TICKET) == 3
    assert not (tmp_path / "attachments" / TICKET).exists()
    assert outside.read_bytes() == b"not ours"  # a link is removed, never followed
    assert [p.name for p in (tmp_path / "attachments" / other).iterdir()] == ["c.txt"]
    # Again, or a ticket without attachments, or a stream that is no ticket: nothing to do.
    assert remove_attachments(tmp_path, TICKET) == 0
    assert remove_attachments(tmp_path, "CR-20261202-ABC123") == 0


def test_erasure_refuses_a_ticket_folder_that_leads_out_of_the_data_dir(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_bytes(b"K")
    (tmp_path / "data" / "attachments").mkdir(parents=True)
    (tmp_path / "data" / "attachments" / TICKET).symlink_to(elsewhere)
    with pytest.raises(ValueError, match="leads out of"):
        remove_attachments(tmp_path / "data", TICKET)
    assert (elsewhere / "keep.txt").exists()


def test_save_writes_under_the_ticket_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    names = save_attachments(tmp_path, TICKET, files(("a.txt", b"A"), ("b.png", b"B")))
    folder = tmp_path / "attachments" / TICKET
    assert names == ["a.txt", "b.png"]
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.png"]
    assert (folder / "a.txt").read_bytes() == b"A"


def test_save_is_idempotent(tmp_path: Path) -> None:
    attachments = files(("a.txt", b"A"))
    save_attachments(tmp_path, TICKET, attachments)
    path = tmp_path / "attachments" / TICKET / "a.txt"
    before = os.stat(path)
    assert save_attachments(tmp_path, TICKET, attachments) == ["a.txt"]
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_another_file_of_the_same_name_is_kept_and_the_new_one_suffixed(tmp_path: Path) -> None:
    save_attachments(tmp_path, TICKET, files(("a.txt", b"first")))
    planned = planned_attachment_names(tmp_path, TICKET, files(("a.txt", b"second")))
    assert planned == ["a (2).txt"]
    assert save_attachments(tmp_path, TICKET, files(("a.txt", b"second"))) == ["a (2).txt"]
    assert save_attachments(tmp_path, TICKET, files(("a.txt", b"second"))) == ["a (2).txt"]
    folder = tmp_path / "attachments" / TICKET
    assert (folder / "a.txt").read_bytes() == b"first"
    assert (folder / "a (2).txt").read_bytes() == b"second"


def test_planning_writes_nothing(tmp_path: Path) -> None:
    assert planned_attachment_names(tmp_path, TICKET, files(("a.txt", b"A"))) == ["a.txt"]
    assert not (tmp_path / "attachments").exists()


@pytest.mark.parametrize("ticket_id", ["../x", "INC-1", "", "INC-20261202-ABC123/..", "CR-1"])
def test_save_refuses_what_is_no_ticket_id(tmp_path: Path, ticket_id: str) -> None:
    with pytest.raises(ValueError, match="not a ticket ID"):
        save_attachments(tmp_path, ticket_id, files(("a.txt", b"A")))


@pytest.mark.parametrize("name", ["../a.txt", ".hidden", "a/b", ""])
def test_save_refuses_unsanitised_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a sanitised"):
        save_attachments(tmp_path, TICKET, files((name, b"A")))


def test_save_follows_no_link_out_of_the_data_directory(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "attachments").symlink_to(outside)
    with pytest.raises(ValueError, match="leads out of"):
        save_attachments(root, TICKET, files(("a.txt", b"A")))
    assert list(outside.iterdir()) == []


def test_a_link_in_place_of_a_file_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"A")
    folder = tmp_path / "data" / "attachments" / TICKET
    folder.mkdir(parents=True)
    (folder / "a.txt").symlink_to(secret)
    assert save_attachments(tmp_path / "data", TICKET, files(("a.txt", b"A"))) == ["a (2).txt"]
    assert secret.read_bytes() == b"A"
    assert (folder / "a.txt").is_symlink()


# -- never raises, always safe --------------------------------------------------------------------

header_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
encoded_words = st.builds(
    lambda cs, enc, payload: f"=?{cs}?{enc}?{payload}?=",
    st.sampled_from(["utf-8", "iso-8859-1", "x-bogus", "utf-16", "base64", "idna", ""]),
    st.sampled_from(["q", "b", "Q", "B", "x"]),
    st.text(alphabet="=ABCDEF0123456789abc_+/?\r\n ", max_size=30),
)
header_value = st.lists(st.one_of(header_text, encoded_words), max_size=4).map(" ".join)
names = st.sampled_from(
    [
        "From",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "Content-Type",
        "Content-Disposition",
        "Content-Transfer-Encoding",
        "Return-Path",
        "Precedence",
    ]
)
LINE = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$")


def _single_line_values(outcome: NewReport | Reply | Ignored) -> list[str]:
    if isinstance(outcome, Ignored):
        return [outcome.message_id, outcome.sender]
    report = outcome if isinstance(outcome, NewReport) else outcome.fallback
    values = [str(report.fields["email"]), report.message_id]
    values += [str(report.fields.get("full_name", ""))]
    values += [a.name for a in report.attachments]
    if isinstance(outcome, Reply):
        values += [outcome.ticket_id, outcome.sender, outcome.sender_name, outcome.subject]
        TypeAdapter(NonEmptyLine).validate_python(outcome.message_id)
        if outcome.subject:
            TypeAdapter(NonEmptyLine).validate_python(outcome.subject)
    return values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(names, header_value), max_size=8),
    body=st.binary(max_size=300),
)
def test_classify_never_raises_and_no_line_break_reaches_a_line(headers, body) -> None:
    raw = b"From: Erika Mustermann <erika@example.de>\r\n"
    for name, value in headers:
        raw += name.encode() + b": " + value.encode("utf-8") + b"\r\n"
    raw += b"\r\n" + body
    outcome = parse(raw, max_count=3)
    assert not (isinstance(outcome, Ignored) and outcome.reason.startswith("unreadable"))
    for value in _single_line_values(outcome):
        assert LINE.match(value), value
    if isinstance(outcome, NewReport | Reply):
        report = outcome if isinstance(outcome, NewReport) else outcome.fallback
        if "full_name" in report.fields:
            TypeAdapter(FullName).validate_python(report.fields["full_name"])
        if "description" in report.fields:
            TypeAdapter(Description).validate_python(report.fields["description"])
        for attachment in report.attachments:
            TypeAdapter(Reference).validate_python(attachment.name)
    if isinstance(outcome, Reply):
        TypeAdapter(FreeText).validate_python(outcome.text)
        TypeAdapter(NonEmptyLine).validate_python(outcome.ticket_id)
        assert re.fullmatch(TICKET_ID_PATTERN, outcome.ticket_id)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_classify_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    outcome = parse(raw)
    assert not (isinstance(outcome, Ignored) and outcome.reason.startswith("unreadable"))


@settings(max_examples=500, deadline=None)
@given(name=st.one_of(st.none(), st.text(max_size=300)), index=st.integers(1, 99))
def test_sanitised_names_are_always_safe(tmp_path_factory, name: str | None, index: int) -> None:
    safe = sanitise_filename(name, index)
    assert 1 <= len(safe) <= 100
    assert re.fullmatch(r"[\w\-. ()]+", safe)
    assert not safe.startswith((".", " "))
    assert "/" not in safe and "\\" not in safe
    TypeAdapter(Reference).validate_python(safe)
    TypeAdapter(NonEmptyLine).validate_python(safe)
    root = tmp_path_factory.mktemp("save")
    written = save_attachments(root, TICKET, [Attachment(safe, b"x", "text/plain")])
    assert [p.name for p in (root / "attachments" / TICKET).iterdir()] == written
