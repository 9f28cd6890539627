"""Phone reports need a proven premium plan: customer number or e-mail domain, not a name.

Issue 16: "the plan is checked against a customer number or the contact's
e-mail domain in the directory, not the typed company name alone". The
shipped directory lists Beispiel Versand GmbH, customer number ``K-10001``,
premium, domain ``beispiel-versand.de``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from domain.errors import IntakeError
from domain.report import IncidentReport
from domain.sla import SlaPolicy
from service.intake import check_report, content_digest, parse_report
from starter import report_incident
from tests.conftest import EXAMPLE_REPORT
from tests.intake.fakes import RecordingClient

POLICY = SlaPolicy.default()


def phone_report(**changes: Any) -> IncidentReport:
    data = {**EXAMPLE_REPORT, "channel": "phone", **changes}
    return parse_report({k: v for k, v in data.items() if v is not None})


def refusal(report: IncidentReport) -> IntakeError:
    with pytest.raises(IntakeError) as info:
        check_report(report, POLICY)
    return info.value


def test_a_phone_report_from_the_premium_customers_domain_is_accepted() -> None:
    check_report(phone_report(), POLICY)  # erika.mustermann@beispiel-versand.de
    check_report(phone_report(email="IT@Beispiel-Versand.DE", company=None), POLICY)


def test_a_phone_report_with_the_premium_customer_number_is_accepted() -> None:
    check_report(
        phone_report(email=None, customer_number="K-10001", company="Beispiel Versand GmbH"),
        POLICY,
    )
    check_report(phone_report(email="erika@privat.example", customer_number="k 10001"), POLICY)


def test_the_typed_company_name_alone_is_refused_naming_what_is_needed() -> None:
    error = refusal(phone_report(email="erika@privat.example"))
    message = str(error)
    assert message.startswith("report refused: phone support is part of the premium subscription")
    assert "'Beispiel Versand GmbH' was not proven premium" in message
    assert "e-mail domain 'privat.example' is no customer's in the directory" in message
    assert "customer number" in message and "a company name alone is not checked" in message
    assert "Telefon-Support gehört zum Premium-Vertrag" in message
    assert [field for field, _ in error.errors] == ["customer_number", "email"]
    assert "\n" not in message


def test_a_phone_report_without_number_or_address_is_refused() -> None:
    message = str(refusal(phone_report(email=None)))
    assert "no customer number or e-mail address given" in message


def test_an_unknown_or_standard_customer_number_is_refused_and_said_so() -> None:
    unknown = str(refusal(phone_report(email=None, customer_number="K-99999")))
    assert "customer number 'K-99999' is not in the customer directory" in unknown
    standard = SlaPolicy.from_mapping(
        {
            **POLICY.model_dump(mode="json", by_alias=True),
            "customers": [
                {
                    "company": "Kleinbetrieb KG",
                    "customer_number": "K-20002",
                    "domains": ["kleinbetrieb.example"],
                }
            ],
        }
    )
    with pytest.raises(IntakeError) as info:
        check_report(
            phone_report(customer_number="K-20002", email="chef@kleinbetrieb.example"), standard
        )
    assert "customer number 'K-20002' is on the standard plan" in str(info.value)
    assert "'kleinbetrieb.example' is 'Kleinbetrieb KG''s, on the standard plan" in str(info.value)


def test_chat_and_mail_reports_need_no_proof() -> None:
    for channel in ("chat", "email"):
        check_report(phone_report(channel=channel, email="erika@privat.example"), POLICY)


def test_the_customer_number_is_bounded_and_checked() -> None:
    with pytest.raises(IntakeError, match="customer_number"):
        parse_report({**EXAMPLE_REPORT, "customer_number": "K" * 41})
    with pytest.raises(IntakeError, match="customer_number"):
        parse_report({**EXAMPLE_REPORT, "customer_number": "K-1\nX-Evil: 1"})
    assert parse_report({**EXAMPLE_REPORT, "customer_number": " K-10001 "}).customer_number == (
        "K-10001"
    )


def test_a_report_of_the_old_json_shape_has_the_same_digest_as_before() -> None:
    # Digests recorded before the field existed must still match a retry.
    report = parse_report(EXAMPLE_REPORT)
    assert "customer_number" not in json.loads(
        report.model_dump_json(exclude={"request_id", "customer_number"})
    )
    before = report.model_dump_json(exclude={"request_id", "customer_number"})
    assert content_digest(report) == hashlib.sha256(before.encode()).hexdigest()
    numbered = report.model_copy(update={"customer_number": "K-10001"})
    assert content_digest(numbered) != content_digest(report)


async def test_a_phone_report_proven_by_number_alone_starts_an_incident() -> None:
    client = RecordingClient()
    data = {k: v for k, v in EXAMPLE_REPORT.items() if k != "email"}
    data.update(channel="phone", customer_number="K-10001", company="Irgendwie Falsch GmbH")
    ticket = await report_incident(client, data)  # type: ignore[arg-type]
    assert [c for c in client.calls if c.startswith("start")] == [f"start {ticket}"]


async def test_a_phone_report_proven_by_nothing_starts_nothing() -> None:
    client = RecordingClient()
    data = {**EXAMPLE_REPORT, "channel": "phone", "email": "erika@privat.example"}
    with pytest.raises(IntakeError, match="premium"):
        await report_incident(client, data)  # type: ignore[arg-type]
    assert client.calls == []
