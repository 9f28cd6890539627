"""Bounded, normalised input types of ``domain.values`` (issue 14: every input bounded at the door).

Each type is tested through a pydantic ``TypeAdapter``, the way the models use
it; the attack strings of the issue are here verbatim.
"""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.change_request import Decline, Discuss, PlanRelease
from domain.commands import (
    Acknowledge,
    ClassifyAsChangeRequest,
    Escalate,
    ExtendEstimate,
    LinkDevTicket,
    PostStatusUpdate,
    Resolve,
)
from domain.errors import describe_validation_error
from domain.maintenance import CancelMaintenance, MaintenancePlan
from domain.oncall import BookingRequest, CancelBooking
from domain.sla import Severity, SlaPolicy
from domain.values import (
    ATTACHMENTS_MAX,
    DESCRIPTION_MAX,
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    NAME_MAX,
    PHONE_MAX,
    REFERENCE_MAX,
    TEXT_MAX,
    Attachments,
    AwareDatetime,
    Description,
    EmailAddress,
    FreeText,
    NonEmptyLine,
    PhoneNumber,
    SingleLineText,
    check_instant,
    limit_violations,
    needs_smtputf8,
    normalise_line,
    normalise_text,
)

LINE = TypeAdapter(NonEmptyLine)
TEXT = TypeAdapter(FreeText)
DESCRIPTION = TypeAdapter(Description)
PHONE = TypeAdapter(PhoneNumber)
EMAIL = TypeAdapter(EmailAddress)
ATTACHMENTS = TypeAdapter(Attachments)
INSTANT = TypeAdapter(AwareDatetime)

NEAR_2_MB = 1_950_000
"""The phone number that wedged an incident on Temporal's 2 MB payload limit."""


def refusal(adapter: TypeAdapter[Any], value: Any) -> str:
    """The one-line refusal of ``value`` (fails the test if it is accepted)."""
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(value)
    return describe_validation_error(info.value).removeprefix("(top level): ")


# -- single-line text ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ACME [/] GmbH",  # a legitimate company name; the CLI escapes Rich markup itself
        "Müller & Söhne KG",
        'Firma "Gänsefüßchen" <script>alert(1)</script>',
        "O'Brien — 株式会社 😀 👩\u200d💻",
        "{{ facts.company }} {% raw %}",
        "مرحبا",  # right-to-left letters are fine, only the bidi *controls* are not
        "x" * NAME_MAX,
    ],
)
def test_single_line_accepts_any_printable_text(value: str) -> None:
    assert LINE.validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("\n---\n", "U+000A"),  # the attack: text of the reporter's choosing atop a page
        ("ACME GmbH\n---\nBitte sofort 0900-123 anrufen", "U+000A"),
        ("ACME\r\nBcc: x@evil.example", "U+000D"),
        ("ACME\tGmbH", "U+0009"),
        ("ACME\x00", "U+0000"),
        ("ACME\x1b[31m", "U+001B"),
        ("ACME\x7f", "U+007F"),
        ("ACME\x85GmbH", "U+0085"),
        ("ACME\x9f", "U+009F"),
        ("ACME\u2028GmbH", "U+2028"),
        ("ACME\u2029GmbH", "U+2029"),
        *[(f"ACME{chr(c)}HbmG", f"U+{c:04X}") for c in range(0x202A, 0x202F)],
        *[(f"ACME{chr(c)}HbmG", f"U+{c:04X}") for c in range(0x2066, 0x206A)],
        ("ACME\ud800", "U+D800"),
        ("ACME =?utf-8?q?x=0D=0AX-Evil:_1?= GmbH", "encoded-word"),
    ],
)
def test_single_line_refuses_control_separator_bidi_and_encoded_words(
    value: str, named: str
) -> None:
    message = refusal(LINE, value)
    assert named in message
    assert "\n" not in message


def test_single_line_checks_before_stripping() -> None:
    # Stripped first, "\n---\n" would pass as "---".
    assert "U+000A" in refusal(LINE, "\n---\n")
    assert "U+000A" in refusal(LINE, "ACME GmbH\n")


def test_single_line_is_stripped_and_nfc_normalised() -> None:
    assert LINE.validate_python("  Beispiel Versand GmbH  ") == "Beispiel Versand GmbH"
    decomposed = "Mu\u0308ller"
    assert LINE.validate_python(decomposed) == "Müller"
    assert LINE.validate_python("\u00a0ACME\u00a0") == "ACME"


def test_single_line_bytes_are_checked_too() -> None:
    assert LINE.validate_python("Müller".encode()) == "Müller"
    assert "U+000A" in refusal(LINE, b"ACME\n---\n")


def test_single_line_length_is_bounded() -> None:
    assert "at most 200 characters" in refusal(LINE, "x" * (NAME_MAX + 1))
    assert "at least 1 character" in refusal(LINE, "   ")
    assert TypeAdapter(SingleLineText).validate_python("   ") == ""


def test_single_line_error_does_not_echo_megabytes() -> None:
    message = refusal(LINE, "x" * NEAR_2_MB + "\n")
    assert len(message) < 300


# -- free text ----------------------------------------------------------------------


def test_free_text_normalises_line_breaks_to_lf() -> None:
    assert TEXT.validate_python("a\r\nb\rc\nd\u2028e\u2029f") == "a\nb\nc\nd\ne\nf"


def test_free_text_keeps_tabs_blank_lines_and_markup() -> None:
    text = "Log:\n\tERROR 503\n\n<script>alert(1)</script> [/] „Zitat“ 😀\n.\n---"
    assert TEXT.validate_python(text) == text


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("a\x00b", "U+0000"),
        ("a\x0bb", "U+000B"),
        ("a\x0cb", "U+000C"),
        ("a\x1bb", "U+001B"),
        ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"),
        ("a\u202eb", "U+202E"),
        ("a\u2067b", "U+2067"),
        ("a\udfffb", "U+DFFF"),
    ],
)
def test_free_text_refuses_other_controls_and_bidi(value: str, named: str) -> None:
    assert named in refusal(TEXT, value)


def test_free_text_lengths() -> None:
    assert TEXT.validate_python("x" * TEXT_MAX) == "x" * TEXT_MAX
    assert "at most 5000 characters" in refusal(TEXT, "x" * (TEXT_MAX + 1))
    assert DESCRIPTION.validate_python("x" * DESCRIPTION_MAX) == "x" * DESCRIPTION_MAX
    assert "at most 20000 characters" in refusal(DESCRIPTION, "x" * (DESCRIPTION_MAX + 1))
    assert "at least 1 character" in refusal(DESCRIPTION, " \n\t ")


def test_length_counts_the_normalised_text() -> None:
    # CRLF counts as one character (it is stored as LF).
    assert len(TEXT.validate_python("x\r\n" * (TEXT_MAX // 2))) == TEXT_MAX - 1


ANY_TEXT = st.text(max_size=60)
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)


@FUZZ
@given(ANY_TEXT)
def test_normalised_line_is_clean_and_stable(value: str) -> None:
    try:
        line = normalise_line(value)
    except ValueError:
        return
    assert isinstance(line, str)
    assert not any(
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or 0x202A <= ord(ch) <= 0x202E
        for ch in line
    )
    assert normalise_line(line) == line


@FUZZ
@given(ANY_TEXT)
def test_normalised_text_is_clean_and_stable(value: str) -> None:
    try:
        text = normalise_text(value)
    except ValueError:
        return
    assert isinstance(text, str)
    assert "\r" not in text
    assert all(ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in text)
    assert normalise_text(text) == text


# -- phone numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["+49 2131 123456", "(02131) 123-456", "+49/2131.123456", "0 21 31 / 12 34 56"]
)
def test_phone_accepts_the_usual_spellings(value: str) -> None:
    assert PHONE.validate_python(value) == value


@pytest.mark.parametrize(
    "value", ["abc", "12", "+49 2131 12345x", "49+2131123456", "1" * 21, "+49\u00a02131 123456"]
)
def test_phone_refuses_other_characters_and_digit_counts(value: str) -> None:
    assert refusal(PHONE, value).startswith(("not a phone number", "at least", "at most"))


def test_phone_of_two_megabytes_is_refused_fast_and_briefly() -> None:
    began = time.perf_counter()
    message = refusal(PHONE, "1" * NEAR_2_MB)
    assert time.perf_counter() - began < 1.0
    assert "at most 50 characters" in message
    assert len(message) < 200
    # Spaces were the loophole: 6–20 digits, but any number of spaces.
    assert "at most 50 characters" in refusal(PHONE, "+49 2131 123456" + " " * NEAR_2_MB + "7")
    assert PHONE.validate_python("1" * 15 + " " * (PHONE_MAX - 15)) == "1" * 15


def test_phone_refuses_a_line_break() -> None:
    assert "U+000A" in refusal(PHONE, "+49 2131\n123456")


# -- e-mail addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("erika.mustermann@beispiel-versand.de", "erika.mustermann@beispiel-versand.de"),
        (" erika@beispiel-versand.de ", "erika@beispiel-versand.de"),
        ("o'brien+sla@example.co.uk", "o'brien+sla@example.co.uk"),
        ("Erika@Beispiel-Versand.DE", "Erika@Beispiel-Versand.DE"),  # as given
        ("info@bücher.de", "info@xn--bcher-kva.de"),  # IDNA: any relay takes it
        ("info@xn--bcher-kva.de", "info@xn--bcher-kva.de"),
        ("müller@example.de", "müller@example.de"),  # the type passes it; intake decides
    ],
)
def test_email_accepted(value: str, stored: str) -> None:
    assert EMAIL.validate_python(value) == stored


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?x=0D=0A?=@example.de",  # the attack: every send failed
        "=?utf-8?b?eA0K?=@example.de",
        "x?=@example.de",
        "erika@",
        "@beispiel-versand.de",
        "erika.mustermann",
        "erika mustermann@beispiel-versand.de",
        '"erika mustermann"@beispiel-versand.de',
        "erika..mustermann@beispiel-versand.de",
        ".erika@beispiel-versand.de",
        "erika@beispiel-versand",
        "erika@beispiel_versand.de",
        "erika@-beispiel.de",
        "erika@beispiel.d",
        "erika@beispiel.123",
        "erika@[192.0.2.1]",
        "erika@beispiel-versand.de.",
        "erika@@beispiel-versand.de",
        "Erika <erika@beispiel-versand.de>",
        "erika@beispiel-versand.de, boss@example.de",
        "erika@beispiel-versand.de\r\nBcc: x@evil.example",
        "erika@straße.de",  # IDNA 2003 and 2008 disagree: refused, not guessed
        "erika\u202e@example.de",
        "x" * 65 + "@example.de",
        "x@" + "a" * 250 + ".de",
    ],
)
def test_email_refused(value: str) -> None:
    message = refusal(EMAIL, value)
    assert "e-mail address" in message or "not allowed" in message or "at most" in message
    assert "\n" not in message


def test_email_of_megabytes_is_refused_briefly() -> None:
    assert len(refusal(EMAIL, "x" * NEAR_2_MB + "@example.de")) < 200


def test_needs_smtputf8_only_for_non_ascii_local_parts() -> None:
    assert needs_smtputf8(EMAIL.validate_python("müller@example.de"))
    assert not needs_smtputf8(EMAIL.validate_python("info@bücher.de"))


# -- attachments ----------------------------------------------------------------------


def test_attachments_accept_urls_and_plain_file_names() -> None:
    references = [
        "https://files.example/screenshot-1.png",
        "http://intranet.example:8080/logs/app.log?day=2026-11-24#L12",
        "mockup.png",
        "Bildschirmfoto 2026-11-24 um 09.12.png",
        "logs/app.log",
        "logs\\app.log",
        "ä[/]<script>.txt",
    ]
    assert ATTACHMENTS.validate_python(references) == tuple(references)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "../../etc/passwd",
        "logs/../../secret",
        "..\\windows\\system32",
        "/etc/passwd",
        "\\\\server\\share\\x.png",
        "~/secret.txt",
        "C:\\Users\\erika\\x.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://files.example/x.png",
        "https://",
        "https://files.example/screen shot.png",
        "shot.png\n---",
        "x" * (REFERENCE_MAX + 1),
    ],
)
def test_attachments_refuse_traversal_other_schemes_and_oversize(value: str) -> None:
    message = refusal(ATTACHMENTS, [value])
    assert message.startswith("0: ")


def test_attachments_count_and_size_are_bounded() -> None:
    assert len(ATTACHMENTS.validate_python(["a.png"] * ATTACHMENTS_MAX)) == ATTACHMENTS_MAX
    assert "at most 20 items" in refusal(ATTACHMENTS, ["a.png"] * (ATTACHMENTS_MAX + 1))
    long_url = "https://files.example/" + "x" * (REFERENCE_MAX - len("https://files.example/"))
    assert ATTACHMENTS.validate_python([long_url]) == (long_url,)


# -- instants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24T09:12:00+01:00",
        "2000-01-01T00:00:00Z",
        "2099-12-31T23:59:59.999999Z",
        "2000-01-01T01:00:00+01:00",
    ],
)
def test_instants_inside_the_window_are_accepted(value: str) -> None:
    assert EARLIEST_INSTANT <= INSTANT.validate_python(value) < LATEST_INSTANT


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00+01:00",  # the booking that hung the CLI
        "9999-12-31T23:00:00-05:00",  # 10000-01-01 in UTC: no overflow either
        "0001-01-01T00:00:00+00:00",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:59:59+01:00",
        "2100-01-01T00:00:00Z",
    ],
)
def test_instants_outside_the_window_are_refused(value: str) -> None:
    assert "years 2000–2099" in refusal(INSTANT, value)


def test_naive_instants_are_refused() -> None:
    assert "time zone" in refusal(INSTANT, "2026-11-24T09:12:00")
    with pytest.raises(ValueError, match="time zone"):
        check_instant(datetime(2026, 11, 24, 9, 12))


def test_the_window_lies_inside_the_calendars_years_with_room_for_deadlines() -> None:
    policy = SlaPolicy.default()
    years = policy.calendar.supported_years
    assert EARLIEST_INSTANT.year in years
    assert LATEST_INSTANT.year in years  # a year of room after the last accepted instant
    last = LATEST_INSTANT - timedelta(microseconds=1)
    deadlines = policy.all_deadlines(last)  # the longest target: 900 business hours
    assert deadlines[Severity.MINOR].resolution_due.astimezone(UTC).year in years
    first = EARLIEST_INSTANT.astimezone(timezone(timedelta(hours=14)))
    assert policy.reaction_due(Severity.CRITICAL, first) > first


# -- the command and request models use them -------------------------------------------

ESTIMATE = datetime(2026, 11, 24, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Acknowledge, {"severity": "critical", "estimate": "2026-11-24T15:00:00"}, "estimate"),
        (
            Acknowledge,
            {"severity": "critical", "estimate": "9999-12-31T15:00:00+01:00"},
            "estimate",
        ),
        (
            Acknowledge,
            {"severity": "critical", "estimate": ESTIMATE, "status_message": "a\x00"},
            "status_message",
        ),
        (ExtendEstimate, {"estimate": "9999-01-01T00:00:00Z", "reason": "x"}, "estimate"),
        (ExtendEstimate, {"estimate": ESTIMATE, "reason": "x" * (TEXT_MAX + 1)}, "reason"),
        (Escalate, {"stage": 3, "reason": "a\u202eb"}, "reason"),
        (Resolve, {"summary": "x" * NEAR_2_MB}, "summary"),
        (PostStatusUpdate, {"message": "x" * (TEXT_MAX + 1)}, "message"),
        (ClassifyAsChangeRequest, {"title": "CSV\n---\nExport", "reason": "x"}, "title"),
        (LinkDevTicket, {"title": "x" * (NAME_MAX + 1)}, "title"),
        (Discuss, {"note": "x" * (TEXT_MAX + 1)}, "note"),
        (Decline, {"reason": "a\x1bb"}, "reason"),
        (PlanRelease, {"release": "2027.1\nX"}, "release"),
        (CancelMaintenance, {"reason": "x" * (TEXT_MAX + 1)}, "reason"),
        (
            MaintenancePlan,
            {
                "start": "2026-12-04T18:00:00+01:00",
                "end": "2026-12-04T22:00:00+01:00",
                "services": ["Versand\n---\nAlles kaputt"],
                "message": "Datenbank-Update",
            },
            "services",
        ),
        (
            MaintenancePlan,
            {
                "start": "9999-12-04T18:00:00+01:00",
                "end": "9999-12-04T22:00:00+01:00",
                "services": ["Versand"],
                "message": "Datenbank-Update",
            },
            "start",
        ),
        (
            BookingRequest,
            {
                "company": "Beispiel Versand GmbH",
                "start": "9999-12-05T08:00:00+01:00",
                "end": "9999-12-05T14:00:00+01:00",
                "reason": "Migration",
            },
            "start",
        ),
        (
            BookingRequest,
            {
                "company": "Beispiel\nVersand",
                "start": "2026-12-05T08:00:00+01:00",
                "end": "2026-12-05T14:00:00+01:00",
                "reason": "Migration",
            },
            "company",
        ),
        (CancelBooking, {"reason": "a\x00"}, "reason"),
    ],
)
def test_commands_and_requests_refuse_unbounded_input(
    model: type[BaseModel], data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert describe_validation_error(info.value).startswith(f"{field}")


def test_command_texts_may_stay_empty_for_the_rules_to_refuse() -> None:
    # "A reason is required" is a domain refusal the operator reads (MissingText).
    assert Resolve(summary="").summary == ""
    assert Escalate(stage=3, reason="  ").reason == ""
    assert Discuss(note="").note == ""


def test_command_texts_are_normalised() -> None:
    command = Acknowledge.model_validate(
        {"severity": "critical", "estimate": ESTIMATE, "status_message": " Zeile 1\r\nZeile 2 "}
    )
    assert command.status_message == "Zeile 1\nZeile 2"
    assert Resolve(summary="x" * TEXT_MAX).summary == "x" * TEXT_MAX


# -- the walker behind the policy's limits ----------------------------------------------


class _Inner(BaseModel):
    name: NonEmptyLine
    contact: EmailAddress | None = None


class _Outer(BaseModel):
    title: SingleLineText
    text: FreeText = ""
    inner: _Inner
    many: tuple[_Inner, ...] = ()
    by_key: dict[str, _Inner] = {}
    attachments: Attachments = ()


def test_limit_violations_walk_nested_models_tuples_and_mappings() -> None:
    outer = _Outer(
        title="abcdef",
        text="x" * 11,
        inner=_Inner(name="abcdef", contact="müller@example.de"),
        many=(_Inner(name="ok"), _Inner(name="abcdefgh")),
        by_key={"k": _Inner(name="abcdefg", contact="a@example.de")},
        attachments=("a.png", "b.png"),
    )
    limits = {"name": 5, "text": 10, "attachments": 1}
    assert limit_violations(outer, limits, smtputf8=False) == [
        "title: at most 5 characters here ([limits] name), got 6",
        "text: at most 10 characters here ([limits] text), got 11",
        "inner.name: at most 5 characters here ([limits] name), got 6",
        "inner.contact: 'müller@example.de' has a non-ASCII local part, which needs a mail "
        "relay with SMTPUTF8 ([mail] smtputf8 = false)",
        "many.1.name: at most 5 characters here ([limits] name), got 8",
        "by_key.k.name: at most 5 characters here ([limits] name), got 7",
        "attachments: at most 1 items here ([limits] attachments), got 2",
    ]
    assert limit_violations(outer, {}, smtputf8=True) == []
    assert limit_violations(outer, {"name": NAME_MAX, "text": TEXT_MAX}) == []
