"""Tests for ``domain.timeline_words``: every incident event in words, German and English.

One sample per event type (``SAMPLES``): the union of ``domain.events.Event``
is iterated, so a new event type without a sample — and so without tested
wording — fails here. Times are shown in Europe/Berlin whatever offset the
event carries (histories store UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import (
    Acknowledged,
    AlertNotified,
    ChangeRequestRecorded,
    ClassifiedAsChangeRequest,
    CustomerMessageReceived,
    DeadlineKind,
    DeadlinesRecomputed,
    DeadlineWarned,
    DeliveryFailed,
    DevTicketLinked,
    DiscussionRecorded,
    DuplicateRegistered,
    Escalated,
    EscalatedBy,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    FollowUp,
    FollowUpReminded,
    IncidentReopened,
    IncidentReported,
    LinkedAsDuplicate,
    OnDutyPaged,
    PageReason,
    ReactionBreached,
    Reclassified,
    ReestimateOverdue,
    ReportAmended,
    ResolutionBreached,
    Resolved,
    ResourcesDecided,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
)
from domain.report import ReportChanges
from domain.sla import Severity, SlaPolicy
from domain.timeline_words import (
    Language,
    describe,
    event_label,
    event_types,
    short_time,
)
from tests.domain.test_incident import make_report

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
DE, EN = Language.DE, Language.EN

# Wednesday 2026-12-02, stored as UTC as histories store it: 10:00 UTC is 11:00 in Berlin.
AT = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
ESTIMATE = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def _samples() -> dict[str, Event]:
    report = make_report(first_noticed_at=AT - timedelta(minutes=18))
    deadlines = POLICY.all_deadlines(AT)
    events: list[Event] = [
        IncidentReported(
            at=AT,
            ticket_id="INC-20261202-7QK2AB",
            report=report,
            received_at=AT,
            severity=Severity.CRITICAL,
            deadlines=deadlines,
            all_users=False,
        ),
        Acknowledged(
            at=AT, severity=Severity.CRITICAL, estimate=ESTIMATE, all_users=False, on_time=True
        ),
        Reclassified(
            at=AT,
            previous=Severity.MAJOR,
            severity=Severity.CRITICAL,
            reason="Versandmodul betroffen",
            reaction_due=ESTIMATE,
            resolution_due=LATER,
        ),
        EstimateExtended(
            at=AT, previous=ESTIMATE, estimate=LATER, reason="Failover dauert", replaced_live=True
        ),
        EstimateMissed(at=AT, estimate=ESTIMATE, followed_up=True, reestimate_due=LATER),
        Escalated(
            at=AT,
            stage=3,
            previous=1,
            trigger=EscalationTrigger.OPERATOR,
            reason="Hersteller-Support nötig",
            by=EscalatedBy.CUSTOMER,
        ),
        ResourcesDecided(at=AT, decision="Zwei Entwickler zusätzlich"),
        DeadlineWarned(at=AT, kind=DeadlineKind.REACTION, due=ESTIMATE),
        ReactionBreached(at=AT, due=ESTIMATE),
        ResolutionBreached(at=AT, due=LATER, customer_informed=False),
        OnDutyPaged(at=AT, reason=PageReason.REMINDER, next_reminder_at=ESTIMATE),
        StatusPublished(at=AT, message="Anmeldung gestört", expected_resolution=ESTIMATE),
        StatusUpdated(at=AT, message=None, expected_resolution=None, estimate_withdrawn=True),
        StatusResolved(at=AT, message="Anmeldung wieder möglich"),
        Resolved(at=AT, summary="Index neu aufgebaut", reaction_met=True, resolution_met=False),
        DeliveryFailed(
            at=AT, message_kind="acknowledgement", to=("x@example.de",), error="550 unknown"
        ),
        DeadlinesRecomputed(
            at=AT, deadlines=deadlines, reaction_due=ESTIMATE, resolution_due=LATER
        ),
        ClassifiedAsChangeRequest(
            at=AT,
            title="CSV-Export",
            reason="Neue Funktion",
            summary="Änderungswunsch",
            change_request_request_id="incident-INC-1",
            reaction_met=True,
            resolution_met=True,
        ),
        ChangeRequestRecorded(
            at=AT, change_request_id="CR-20261202-AAAAAA", title="CSV-Export", reason="Neu"
        ),
        DevTicketLinked(at=AT, dev_ticket_id="DEV-0007", title="Fehler im Versandmodul"),
        ReportAmended(
            at=AT,
            changes=ReportChanges(phone="+49 2131 123456", attachments=("log.txt",)),
            report=report,
            source="cli",
        ),
        CustomerMessageReceived(
            at=AT,
            message_id="<1@example.de>",
            sender="erika@beispiel-versand.de",
            subject="Re: Ihre Störungsmeldung",
            text="Es geht wieder nicht.",
            attachments=("a.png", "b.png"),
        ),
        AlertNotified(at=AT, status="resolved", text="LoginDown resolved\nmore"),
        FollowUpReminded(at=AT, kind=FollowUp.DISCUSSION, since=ESTIMATE),
        ReestimateOverdue(at=AT, missed_at=ESTIMATE, due=LATER),
        DiscussionRecorded(at=AT, note="Workaround per CSV", experts=("Datenbankteam",)),
        LinkedAsDuplicate(at=AT, master_ticket_id="INC-20261124-MASTER", merged_status=True),
        DuplicateRegistered(at=AT, ticket_id="INC-20261124-DUPLIC"),
        IncidentReopened(
            at=AT,
            reason="Fehler tritt erneut auf",
            by="ops",
            severity=Severity.CRITICAL,
            deadlines=deadlines,
        ),
    ]
    return {event.type: event for event in events}


SAMPLES = _samples()


def test_the_samples_cover_every_event_type() -> None:
    union = get_args(get_args(Event)[0])
    unsampled = [m.__name__ for m in union if m.model_fields["type"].default not in SAMPLES]
    assert unsampled == [], (
        f"new event types {unsampled}: add a sample here and their wording "
        "to domain/timeline_words.py (describe and _LABELS) in both languages"
    )
    assert set(SAMPLES) == event_types()


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("event_type", sorted(event_types()))
def test_every_event_type_has_a_label_and_a_sentence(lang: Language, event_type: str) -> None:
    event = SAMPLES[event_type]
    assert event_label(event_type, lang) != event_type
    sentence = describe(event, lang, BERLIN)
    assert sentence
    assert "\n" not in sentence  # one line per event
    assert "=" not in sentence  # words, not key=value
    assert "T08:30" not in sentence and "+00:00" not in sentence  # no ISO stamps


@pytest.mark.parametrize("event_type", sorted(event_types()))
def test_german_and_english_sentences_differ(event_type: str) -> None:
    event = SAMPLES[event_type]
    assert describe(event, DE, BERLIN) != describe(event, EN, BERLIN)


def test_acknowledgement_reads_as_the_issue_asks() -> None:
    event = SAMPLES["acknowledged"]
    assert describe(event, DE, BERLIN) == "Bestätigt als kritisch, Schätzung Mi 02.12. 11:00"
    assert describe(event, EN, BERLIN) == "Acknowledged as critical, estimate Wed 02.12. 11:00"


@pytest.mark.parametrize(
    ("event_type", "german", "english"),
    [
        (
            "reported",
            "Störungsmeldung eingegangen per Chat von Erika Mustermann, Beispiel Versand GmbH"
            " – Vorschlag kritisch, Reaktion bis Mi 02.12. 10:30",
            "Report received by chat from Erika Mustermann, Beispiel Versand GmbH"
            " — suggested critical, reaction due Wed 02.12. 10:30",
        ),
        (
            "reclassified",
            "Neu klassifiziert von wesentlich zu kritisch: Versandmodul betroffen;"
            " Reaktion bis Mi 02.12. 11:00, Behebung bis Mi 02.12. 15:00",
            "Reclassified from major to critical: Versandmodul betroffen;"
            " reaction due Wed 02.12. 11:00, resolution due Wed 02.12. 15:00",
        ),
        (
            "estimate_extended",
            "Schätzung verlängert von Mi 02.12. 11:00 auf Mi 02.12. 15:00: Failover dauert"
            " (vor Ablauf ersetzt)",
            "Estimate extended from Wed 02.12. 11:00 to Wed 02.12. 15:00: Failover dauert"
            " (replaced before it expired)",
        ),
        (
            "estimate_missed",
            "Schätzung Mi 02.12. 11:00 verpasst, Kunde informiert;"
            " neue Schätzung fällig bis Mi 02.12. 15:00",
            "Estimate Wed 02.12. 11:00 missed, customer told; new estimate due by Wed 02.12. 15:00",
        ),
        (
            "escalated",
            "Eskaliert auf Stufe 3 (Geschäftsführung) vom Kunden: Hersteller-Support nötig",
            "Escalated to stage 3 (management) by the customer: Hersteller-Support nötig",
        ),
        (
            "resolved",
            "Störung behoben: Index neu aufgebaut – Reaktion fristgerecht,"
            " Behebung nicht fristgerecht",
            "Resolved: Index neu aufgebaut — reaction in time, resolution late",
        ),
        (
            "report_amended",
            "Angaben zur Meldung ergänzt: Telefon, Anhänge (über cli)",
            "Report amended: phone, attachments (via cli)",
        ),
        (
            "customer_message",
            "Nachricht des Kunden von erika@beispiel-versand.de: „Re: Ihre Störungsmeldung“"
            " (2 Anhänge)",
            "Message from the customer, erika@beispiel-versand.de: “Re: Ihre Störungsmeldung”"
            " (2 attachments)",
        ),
        (
            "on_duty_paged",
            "Bereitschaft erinnert (noch unbestätigt), nächste Erinnerung Mi 02.12. 11:00",
            "On-duty reminded (still unacknowledged), next reminder Wed 02.12. 11:00",
        ),
        (
            "reopened",
            "Wieder eröffnet von ops: „Fehler tritt erneut auf“ – Reaktion bis Mi 02.12. 10:30",
            "Reopened by ops: “Fehler tritt erneut auf” — reaction due Wed 02.12. 10:30",
        ),
        (
            "follow_up_reminded",
            "Erinnerung: Abstimmung mit dem Kunden (Stufe 2), offen seit Mi 02.12. 11:00",
            "Reminder: discussion with the customer (stage 2), open since Wed 02.12. 11:00",
        ),
    ],
)
def test_sentences_in_both_languages(event_type: str, german: str, english: str) -> None:
    event = SAMPLES[event_type]
    assert describe(event, DE, BERLIN) == german
    assert describe(event, EN, BERLIN) == english


def test_automatic_escalations_name_their_trigger_not_the_german_stock_reason() -> None:
    event = Escalated(
        at=AT,
        stage=1,
        previous=0,
        trigger=EscalationTrigger.ESTIMATE_MISSED,
        reason="die mitgeteilte Störungsbehebungszeit ist ohne Behebung verstrichen",
    )
    assert describe(event, EN, BERLIN) == "Escalated to stage 1 (estimate missed)"
    assert (
        describe(event, DE, BERLIN) == "Eskaliert auf Stufe 1 (Schätzung ohne Behebung verstrichen)"
    )
    extended = event.model_copy(
        update={"stage": "extended", "trigger": EscalationTrigger.OPERATOR, "reason": "Kunde"}
    )
    assert describe(extended, EN, BERLIN) == "Extended escalation triggered: Kunde"


def test_a_classification_at_acknowledgement_does_not_quote_the_decider_s_german_reason() -> None:
    event = SAMPLES["reclassified"].model_copy(
        update={"at_acknowledgement": True, "reason": "bei der Bestätigung klassifiziert"}
    )
    assert "bei der Bestätigung klassifiziert" not in describe(event, EN, BERLIN)
    assert "at acknowledgement" in describe(event, EN, BERLIN)


def test_an_unknown_reporter_and_company_read_as_words() -> None:
    reported = SAMPLES["reported"]
    assert isinstance(reported, IncidentReported)
    anonymous = reported.model_copy(
        update={"report": make_report(full_name=None, company=None), "all_users": True}
    )
    assert describe(anonymous, EN, BERLIN).startswith(
        "Report received by chat from unknown reporter —"
    )
    assert describe(anonymous, EN, BERLIN).endswith(", all users affected")
    assert "von unbekannt –" in describe(anonymous, DE, BERLIN)


def test_a_type_from_an_older_history_keeps_its_name_as_label() -> None:
    assert event_label("follow_up_scheduled", DE) == "follow_up_scheduled"


def test_the_mail_labels_stay_as_they_were() -> None:
    # The management mails quote these; changing them changes customer-facing text.
    assert event_label("acknowledged", DE) == "Bestätigt mit Klassifizierung und Schätzung"
    assert event_label("discussion_recorded", DE) == "Vorgehen mit dem Kunden besprochen (Stufe 2)"


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    )
)
def test_short_time_is_berlin_wall_clock_in_both_languages(instant: datetime) -> None:
    local = instant.astimezone(BERLIN)
    de, en = short_time(instant, DE, BERLIN), short_time(instant, EN, BERLIN)
    assert de.endswith(f"{local:%d.%m. %H:%M}") and en.endswith(f"{local:%d.%m. %H:%M}")
    assert de.split()[0] == ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")[local.weekday()]
    assert en.split()[0] == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[local.weekday()]


def test_summer_time_is_shown_as_berlin_wall_clock() -> None:
    assert short_time(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), DE, BERLIN) == "Mi 01.07. 11:00"
    assert short_time(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), EN, BERLIN) == "Tue 01.12. 10:00"
