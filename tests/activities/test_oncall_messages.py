"""The German on-call mails as the customer reads them, rendered by the real templates.

Every number and condition in them comes from the booking's terms (policy data):
the rate and currency, whether hours inside the regular business time are
billed, the free-cancellation deadline and the fee. A policy with other terms
must produce other text, never the shipped numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from activities.rendering import MessageRenderer
from domain.messages import OutgoingMessage
from domain.oncall import (
    AssignOperator,
    BookingRequest,
    CancelBooking,
    OnCallBooking,
    activate,
    assign_operator,
    bill,
    cancel,
    cancellation_message,
    check_booking,
    confirmation_message,
    new_booking,
    operator_message,
)
from domain.sla import SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
RENDERER = MessageRenderer()
MONDAY = datetime(2026, 11, 30, 9, tzinfo=BERLIN)
FRIDAY_16 = datetime(2026, 12, 4, 16, tzinfo=BERLIN)
FRIDAY_20_30 = datetime(2026, 12, 4, 20, 30, tzinfo=BERLIN)
ENGLISH = ("billed", "cancel", "hours", "booking", " the ", " and ", "free ", "fee")


def policy_with(**oncall: Any) -> SlaPolicy:
    data = POLICY.model_dump(mode="json", by_alias=True)
    data["oncall"] = {**data["oncall"], **oncall}
    return SlaPolicy.from_mapping(data)


def booked(
    policy: SlaPolicy = POLICY,
    start: datetime = FRIDAY_16,
    end: datetime = FRIDAY_20_30,
    booked_at: datetime = MONDAY,
) -> OnCallBooking:
    request = check_booking(
        policy,
        company="Beispiel Versand GmbH",
        start=start,
        end=end,
        reason="Jahresinventur",
        operator=None,
        booked_at=booked_at,
    )
    return new_booking("ONC-20261204-TEST", request, booked_at)


def text(message: OutgoingMessage) -> tuple[str, str]:
    """Subject and body with line breaks folded, so phrases can be found across lines."""
    subject, body = RENDERER.render_message(message)
    return subject, " ".join(body.split())


def assert_german(body: str) -> None:
    lowered = f" {body.lower()} "
    assert not [word for word in ENGLISH if word in lowered], body


# -- confirmation ------------------------------------------------------------------------------


def test_confirmation_states_rate_unbilled_business_hours_and_free_cancellation() -> None:
    subject, body = text(confirmation_message(booked(), POLICY))

    assert subject.startswith("Bestätigung: erweiterte Bereitschaft am Freitag, 04.12.2026")
    assert "95,00 EUR je angefangene Stunde außerhalb der regulären Bereitschaftszeit." in body
    assert (
        "In die reguläre Bereitschaftszeit fallen von Ihrem Zeitraum 2 Std.: "
        "Freitag, 04.12.2026, 16:00 Uhr bis Freitag, 04.12.2026, 18:00 Uhr" in body
    )
    assert "Diese Stunden deckt der reguläre Support ab; wir berechnen sie nicht." in body
    assert (
        "Für den ganzen gebuchten Zeitraum sind das 3 angefangene Stunden × 95,00 EUR "
        "= 285,00 EUR." in body
    )
    assert "Bis zum Beginn können Sie die Buchung kostenfrei stornieren." in body
    assert (
        "Nach Beginn berechnen wir die bis zur Stornierung angefangenen Stunden außerhalb "
        "der regulären Bereitschaftszeit." in body
    )
    assert "Stornogebühr" not in body
    assert_german(body)


def test_confirmation_shows_other_terms_when_the_policy_has_them() -> None:
    policy = policy_with(
        hourly_rate="120.50",
        currency="CHF",
        bill_business_hours=True,
        cancellation_fee="50.00",
        free_cancellation_business_days=3,
    )
    _, body = text(confirmation_message(booked(policy), policy))

    assert "120,50 CHF je angefangene Stunde." in body
    assert "Diese Stunden berechnen wir ebenfalls." in body
    assert "5 angefangene Stunden × 120,50 CHF = 602,50 CHF" in body
    # Friday start, 3 business days: Wed, Thu, Fri count → free through Tuesday.
    assert (
        "Bis Mittwoch, 02.12.2026, 00:00 Uhr können Sie die Buchung kostenfrei stornieren; "
        "bei einer späteren Stornierung vor Beginn berechnen wir eine Stornogebühr von "
        "50,00 CHF." in body
    )
    assert "Nach Beginn berechnen wir die bis zur Stornierung angefangenen Stunden." in body
    for shipped in ("95,00", "EUR", "außerhalb der regulären", "wir berechnen sie nicht"):
        assert shipped not in body, shipped
    assert_german(body)


def test_a_booking_made_inside_the_fee_period_says_so() -> None:
    policy = policy_with(cancellation_fee="50.00", free_cancellation_business_days=5)
    saturday = datetime(2026, 12, 5, 10, tzinfo=BERLIN)
    b = booked(policy, saturday, saturday.replace(hour=14))
    _, body = text(confirmation_message(b, policy))
    assert "Eine Stornierung vor Beginn kostet die Stornogebühr von 50,00 EUR." in body
    assert "kostenfrei" not in body
    # A Saturday window has no regular business time to mention.
    assert "reguläre Bereitschaftszeit fallen" not in body


def test_a_legacy_booking_without_terms_still_renders_as_it_was_billed() -> None:
    request = BookingRequest(
        company="Beispiel Versand GmbH", start=FRIDAY_16, end=FRIDAY_20_30, reason="Inventur"
    )
    legacy = new_booking("ONC-20261204-OLD1", request, MONDAY)
    _, body = text(confirmation_message(legacy, POLICY))
    assert "95,00 EUR je angefangene Stunde." in body
    assert "5 angefangene Stunden × 95,00 EUR = 475,00 EUR" in body
    assert "Bis zum Beginn können Sie die Buchung kostenfrei stornieren." in body


# -- cancellation --------------------------------------------------------------------------


def test_a_late_cancellation_names_the_deadline_and_the_fee() -> None:
    policy = policy_with(cancellation_fee="50.00", free_cancellation_business_days=3)
    b = cancel(
        booked(policy), CancelBooking(reason="verschoben"), datetime(2026, 12, 3, 9, tzinfo=BERLIN)
    )
    _, body = text(cancellation_message(b, policy, bill(b, policy.oncall)))
    assert (
        "Die Stornierung erfolgte nach Ablauf der kostenfreien Stornierungsfrist "
        "(Mittwoch, 02.12.2026, 00:00 Uhr); wir berechnen die vereinbarte Stornogebühr von "
        "50,00 EUR." in body
    )
    assert_german(body)


def test_a_cancellation_in_the_business_hours_part_costs_nothing() -> None:
    b = activate(booked(), FRIDAY_16)
    b = cancel(b, CancelBooking(), datetime(2026, 12, 4, 17, tzinfo=BERLIN))
    record = bill(b, POLICY.oncall)
    assert record is None
    _, body = text(cancellation_message(b, POLICY, record))
    assert "lag in der regulären Bereitschaftszeit. Es fallen keine Kosten an." in body


def test_a_cancellation_in_the_evening_bills_the_started_hours_outside_business_time() -> None:
    b = activate(booked(), FRIDAY_16)
    b = cancel(b, CancelBooking(), datetime(2026, 12, 4, 19, 10, tzinfo=BERLIN))
    _, body = text(cancellation_message(b, POLICY, bill(b, POLICY.oncall)))
    assert (
        "berechnen wir die bis zur Stornierung angefangenen Stunden außerhalb der regulären "
        "Bereitschaftszeit: 2 × 95,00 EUR = 190,00 EUR." in body
    )


# -- operator -----------------------------------------------------------------------------------


def test_the_operator_notice_names_the_new_operator_and_whom_they_replace() -> None:
    b = assign_operator(booked(), AssignOperator(operator="Erika Muster"), MONDAY)
    subject, body = text(operator_message(b, POLICY))
    assert subject == (
        "Operator für Ihre erweiterte Bereitschaft am Freitag, 04.12.2026, 16:00 Uhr "
        "[ONC-20261204-TEST]"
    )
    assert "steht Ihnen Erika Muster als Operator zur Verfügung." in body
    assert "statt" not in body

    b = assign_operator(b, AssignOperator(operator="Max Muster"), MONDAY.replace(hour=10))
    _, body = text(operator_message(b, POLICY))
    assert "steht Ihnen statt Erika Muster nun Max Muster als Operator zur Verfügung." in body
    assert "Operator: Max Muster" in body
    assert_german(body)
