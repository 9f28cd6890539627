"""Who the customer directory adds to mails, and who may read the hotline number (issue 16).

* "Premium phone support: the phone number only in mails to premium
  customers" — premium proven by customer number or e-mail domain
  (``SlaPolicy.plan_for``), never by the typed company name.
* "The extended process includes the affected specialists, and customer
  leadership from the directory" — one message, more recipients, and the text
  says who was included.

Messages are built as the workflows build them and rendered by the real templates.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from activities.rendering import MessageRenderer
from domain.change_request import RecordDevTicket, SubmitChangeRequest, decide, fold
from domain.change_request import effects_of as change_request_effects
from domain.incident import (
    RULES,
    Acknowledge,
    Command,
    Escalate,
    EscalatedBy,
    ExtendEstimate,
    IncidentState,
    MissEstimate,
    Resolve,
    execute,
)
from domain.maintenance import MaintenancePlan, PlanMaintenance, maintenance_id, messages_for
from domain.maintenance import execute as execute_maintenance
from domain.notifications import (
    MessageKind,
    Notification,
    ParticipantRole,
    notifications_for,
)
from domain.oncall import (
    BookingRequest,
    booking_id_for,
    booking_seed,
    confirmation_message,
    new_booking,
)
from domain.report import ChangeRequest, IncidentReport
from domain.sla import Severity, SlaPolicy
from tests.activities.test_notifications import open_incident_from
from tests.conftest import report

HOTLINE = "+49 (0)2131-200900"
RENDERER = MessageRenderer()
WINTER = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin
SHIPPED = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")

PREMIUM = {
    "company": "Beispiel Versand GmbH",
    "customer_number": "K-10001",
    "plan": "premium",
    "domains": ["beispiel-versand.de"],
    "contacts": ["it@beispiel-versand.de"],
    "roles": {
        "it": ["admin@beispiel-versand.de", "IT@beispiel-versand.de"],
        "management": ["gf@beispiel-versand.de"],
    },
}
STANDARD = {
    "company": "Kleinbetrieb KG",
    "domains": ["kleinbetrieb.example"],
    "contacts": ["info@kleinbetrieb.example"],
    "roles": {"management": ["inhaber@kleinbetrieb.example"]},
}


def policy_with(*customers: dict[str, Any]) -> SlaPolicy:
    data = tomllib.loads(SHIPPED)
    data["customers"] = list(customers)
    return SlaPolicy.from_mapping(data, source="test policy")


POLICY = policy_with(PREMIUM, STANDARD)


def opened(policy: SlaPolicy, **changes: Any) -> IncidentState:
    incident_report = IncidentReport.model_validate(report(**changes))
    return open_incident_from(incident_report, WINTER, rules=RULES, policy=policy)


def customer_mails(policy: SlaPolicy, **changes: Any) -> list[Notification]:
    """Every notification of an incident that passes through each customer mail."""
    state = opened(policy, **changes)
    found = list(notifications_for(state, 0, policy))
    minute = timedelta(minutes=1)
    first = WINTER + 60 * minute
    second = first + 90 * minute
    steps: list[tuple[Command, datetime]] = [
        (
            Acknowledge(severity=Severity.CRITICAL, estimate=first, all_users=False),
            WINTER + 20 * minute,
        ),
        (MissEstimate(), first),
        (ExtendEstimate(estimate=second, reason="Ersatzserver wird eingerichtet"), first),
        (MissEstimate(), second),
        (
            Escalate(stage="extended", reason="Kunde bittet um Gespräch", by=EscalatedBy.CUSTOMER),
            second + minute,
        ),
        (Resolve(summary="Datenbankserver ersetzt"), second + 2 * minute),
    ]
    for command, at in steps:
        before = len(state.events)
        state, events = execute(state, command, at)
        assert events, command
        for sequence in range(before, len(state.events)):
            found.extend(notifications_for(state, sequence, policy))
    return found


def extended(policy: SlaPolicy, **changes: Any) -> Notification:
    found = [
        n for n in customer_mails(policy, **changes) if n.kind is MessageKind.EXTENDED_ESCALATION
    ]
    assert len(found) == 1  # one message, however many recipients: replay-safe
    return found[0]


CUSTOMER_KINDS = {
    MessageKind.RECEIPT,
    MessageKind.ACKNOWLEDGEMENT,
    MessageKind.ESTIMATE_MISSED,
    MessageKind.EXTENSION,
    MessageKind.STAGE_2,
    MessageKind.EXTENDED_ESCALATION,
    MessageKind.RESOLUTION,
}


def body(notification: Notification) -> str:
    return RENDERER.render(notification)[1]


# -- the hotline number ----------------------------------------------------------------


def test_the_receipt_of_a_premium_customer_names_the_hotline() -> None:
    receipt = customer_mails(
        POLICY, channel="email", login_impossible=True, email="erika@beispiel-versand.de"
    )[0]
    text = body(receipt)
    assert receipt.kind is MessageKind.RECEIPT
    assert "nicht allein auf die E-Mail" in text
    assert f"Live-Chat oder Ihren Premium-Support am Telefon:\n{HOTLINE}." in text
    assert f"Premium-Support am Telefon: {HOTLINE}" in text  # the signature


def test_the_receipt_of_a_standard_customer_names_no_phone_number() -> None:
    receipt = customer_mails(
        POLICY, channel="email", login_impossible=True, email="info@kleinbetrieb.example"
    )[0]
    text = body(receipt)
    assert "nicht allein auf die E-Mail" in text
    assert "nutzen Sie zusätzlich den Live-Chat.\n" in text
    assert HOTLINE not in text and "200900" not in text
    assert "Premium" not in text and "Hotline" not in text


def test_a_typed_premium_company_name_does_not_reveal_the_number() -> None:
    mails = customer_mails(
        POLICY,
        channel="email",
        login_impossible=True,
        company="Beispiel Versand GmbH",
        email="erika@privat.example",
    )
    for notification in mails:
        assert notification.facts.support_hotline is None
        assert "200900" not in body(notification), notification.kind


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"email": "erika@beispiel-versand.de"}, True),
        ({"email": "erika@privat.example", "customer_number": "K-10001"}, True),
        ({"email": "info@kleinbetrieb.example"}, False),
        ({"email": "erika@privat.example", "company": "Beispiel Versand GmbH"}, False),
    ],
    ids=["premium-domain", "premium-number", "standard", "name-only"],
)
def test_every_customer_mail_names_the_hotline_exactly_for_premium_customers(
    changes: dict[str, Any], shown: bool
) -> None:
    mails = [
        n
        for n in customer_mails(POLICY, login_impossible=True, **changes)
        if n.kind in CUSTOMER_KINDS
    ]
    assert {n.kind for n in mails} == CUSTOMER_KINDS
    for notification in mails:
        assert (HOTLINE in body(notification)) is shown, notification.kind


def test_a_policy_without_a_hotline_names_no_number_even_to_premium_customers() -> None:
    data = tomllib.loads(SHIPPED)
    del data["support"]
    data["customers"] = [PREMIUM]
    bare = SlaPolicy.from_mapping(data)
    for notification in customer_mails(bare, email="erika@beispiel-versand.de"):
        assert "200900" not in body(notification)


def test_a_maintenance_notice_names_the_hotline_to_premium_customers_only() -> None:
    start = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    plan = MaintenancePlan(
        start=start,
        end=start + timedelta(hours=4),
        services=("Versand",),
        shipments_possible=True,
        message="Update der Datenbank.",
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(plan, "Europe/Berlin"), plan=plan)
    state = execute_maintenance(None, command, WINTER, POLICY.maintenance)[0]
    messages = {m.context["company"]: m for m in messages_for(state, 0, POLICY)}
    # Every contact of the customer, general and by role, once each, lower-cased.
    assert set(messages["Beispiel Versand GmbH"].to) == {
        "it@beispiel-versand.de",
        "admin@beispiel-versand.de",
        "gf@beispiel-versand.de",
    }
    assert set(messages["Kleinbetrieb KG"].to) == {
        "info@kleinbetrieb.example",
        "inhaber@kleinbetrieb.example",
    }
    premium = RENDERER.render_message(messages["Beispiel Versand GmbH"])[1]
    standard = RENDERER.render_message(messages["Kleinbetrieb KG"])[1]
    assert f"Premium-Support am Telefon: {HOTLINE}" in premium
    assert "200900" not in standard and "Telefon" not in standard


def test_a_maintenance_message_recorded_before_the_hotline_still_renders() -> None:
    start = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    plan = MaintenancePlan(
        start=start, end=start + timedelta(hours=4), services=("Versand",), message="Update."
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(plan, "Europe/Berlin"), plan=plan)
    state = execute_maintenance(None, command, WINTER, POLICY.maintenance)[0]
    message = messages_for(state, 0, POLICY)[0]
    context = {k: v for k, v in message.context.items() if k != "support_hotline"}
    old = message.model_copy(update={"context": context})
    assert "200900" not in RENDERER.render_message(old)[1]


def test_an_oncall_confirmation_names_the_hotline_to_premium_customers_only() -> None:
    def confirmation(company: str) -> str:
        start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
        request = BookingRequest(
            company=company, start=start, end=start + timedelta(hours=2), reason="Migration"
        )
        booked = new_booking(booking_id_for(start.date(), booking_seed(request)), request, WINTER)
        return RENDERER.render_message(confirmation_message(booked, POLICY))[1]

    assert f"Premium-Support am Telefon: {HOTLINE}" in confirmation("Beispiel Versand GmbH")
    assert "200900" not in confirmation("Kleinbetrieb KG")
    assert "200900" not in confirmation("Neukunde AG")


def test_change_request_mails_name_no_phone_number() -> None:
    request = ChangeRequest(
        company="Beispiel Versand GmbH",
        full_name="Erika Mustermann",
        email="erika@beispiel-versand.de",
        title="CSV-Export",
        description="Bitte als CSV.",
    )
    submit = SubmitChangeRequest(
        change_request_id="CR-20261124-ABCDEF", request=request, received_at=WINTER
    )
    state = fold(None, decide(None, submit, WINTER))
    state = fold(state, decide(state, RecordDevTicket(dev_ticket_id="DEV-0042"), WINTER))
    (effect,) = change_request_effects(
        state, 1, recipients=(request.email,), timezone="Europe/Berlin"
    )
    assert effect.message is not None
    assert "200900" not in RENDERER.render_message(effect.message)[1]


# -- the extended escalation ---------------------------------------------------------------


def test_the_extended_escalation_includes_leadership_and_specialists_of_both_sides() -> None:
    notification = extended(POLICY, email="erika@beispiel-versand.de")
    contacts = POLICY.contacts
    assert notification.to == (
        contacts.management,
        "gf@beispiel-versand.de",
        "admin@beispiel-versand.de",
        "it@beispiel-versand.de",
        "erika@beispiel-versand.de",
        contacts.experts,
        contacts.support_lead,
    )
    roles = [(p.role, p.addresses) for p in notification.participants]
    assert roles == [
        (ParticipantRole.OUR_MANAGEMENT, (contacts.management,)),
        (ParticipantRole.CUSTOMER_MANAGEMENT, ("gf@beispiel-versand.de",)),
        # it@ is both an IT contact and a general one: named once, under IT.
        (ParticipantRole.CUSTOMER_IT, ("admin@beispiel-versand.de", "it@beispiel-versand.de")),
        (ParticipantRole.REPORTER, ("erika@beispiel-versand.de",)),
        (ParticipantRole.EXPERTS, (contacts.experts,)),
        (ParticipantRole.SUPPORT_LEAD, (contacts.support_lead,)),
    ]


def test_the_extended_escalation_mail_says_who_was_included() -> None:
    text = body(extended(POLICY, email="erika@beispiel-versand.de"))
    included = text.split("Diese Nachricht geht an:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert included == [
        "- Geschäftsführung der Convento GmbH: geschaeftsfuehrung@convento.de",
        "- Führungspersonen Ihres Unternehmens: gf@beispiel-versand.de",
        "- IT-Fachkräfte Ihres Unternehmens: admin@beispiel-versand.de, it@beispiel-versand.de",
        "- Meldende Person: erika@beispiel-versand.de",
        "- Fachkräfte der Convento GmbH: experten@myconvento.com",
        "- Support-Leitung der Convento GmbH: support@myconvento.com",
    ]
    assert "nicht hinterlegt" not in text


def test_the_customer_is_found_by_number_then_domain_then_name_for_its_leadership() -> None:
    by_number = extended(POLICY, email="erika@privat.example", customer_number="K-10001")
    assert "gf@beispiel-versand.de" in by_number.to
    by_name = extended(POLICY, email="erika@privat.example", company="Beispiel Versand GmbH")
    assert "gf@beispiel-versand.de" in by_name.to  # whom to tell: the name is enough
    assert by_name.facts.support_hotline is None  # what to reveal: it is not
    by_domain = extended(POLICY, email="x@kleinbetrieb.example", company="Beispiel Versand GmbH")
    assert "inhaber@kleinbetrieb.example" in by_domain.to
    assert "gf@beispiel-versand.de" not in by_domain.to


def test_without_leadership_in_the_directory_the_mail_asks_to_forward_it() -> None:
    notification = extended(POLICY, email="erika@unbekannt.example", company="Unbekannt GmbH")
    contacts = POLICY.contacts
    assert notification.to == (
        contacts.management,
        "erika@unbekannt.example",
        contacts.experts,
        contacts.support_lead,
    )
    text = body(notification)
    assert "Führungspersonen Ihres Unternehmens sind bei uns nicht hinterlegt" in text
    assert "an Ihre Geschäftsführung weiter" in text


def test_an_incident_under_an_old_policy_snapshot_gets_one_mail_with_the_experts_added() -> None:
    # Snapshots recorded before roles existed: the same single message, the
    # experts (the affected specialists) added as recipients.
    old = policy_with({"company": "Beispiel Versand GmbH", "plan": "premium", "contacts": []})
    notification = extended(old, email="erika@beispiel-versand.de")
    contacts = old.contacts
    assert notification.to == (
        contacts.management,
        "erika@beispiel-versand.de",
        contacts.experts,
        contacts.support_lead,
    )


def test_a_carried_extended_mail_without_participants_still_renders() -> None:
    notification = extended(POLICY, email="erika@beispiel-versand.de")
    old = notification.model_copy(update={"participants": ()})
    text = body(old)
    assert "Diese Nachricht geht an" not in text
    assert "Führungspersonen beider Unternehmen" in text


def test_stage_2_draws_in_the_customers_it_specialists() -> None:
    """Stage 2: "… mit dem Kunden besprochen … weitere Fachpersonen" — its IT too."""
    (stage_2,) = [
        n
        for n in customer_mails(POLICY, email="erika@beispiel-versand.de")
        if n.kind is MessageKind.STAGE_2
    ]
    assert "admin@beispiel-versand.de" in stage_2.to
    assert stage_2.to.count("it@beispiel-versand.de") == 1  # a contact in both lists: once
    assert {"erika@beispiel-versand.de", POLICY.contacts.experts} <= set(stage_2.to)
    # A customer without IT specialists in the directory: its general contacts only.
    (standard,) = [
        n
        for n in customer_mails(
            POLICY, email="chef@kleinbetrieb.example", company="Kleinbetrieb KG"
        )
        if n.kind is MessageKind.STAGE_2
    ]
    assert "info@kleinbetrieb.example" in standard.to
    assert not any("beispiel-versand" in a for a in standard.to)
