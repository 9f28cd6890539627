"""``domain.incident``: a report classified as a change request, and bug links to dev tickets.

The SLA ("Störungsmeldung oder Änderungswunsch?"): a change request is no
incident; at acknowledgement the operator may classify the report as one. The
incident then closes, a change request is started from the report, and the
reporter learns its ID. Bugs found while resolving an incident are linked to a
development ticket.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from domain.effects import effects_of
from domain.errors import AlreadyDone, MissingText, WrongStatus
from domain.incident import (
    CHANGE_REQUEST_STATUS_MESSAGE,
    ChangeRequestRecorded,
    ClassifiedAsChangeRequest,
    ClassifyAsChangeRequest,
    DevTicketLinked,
    IncidentState,
    IncidentStatus,
    LinkDevTicket,
    PostStatusUpdate,
    RecordChangeRequest,
    RecordDevTicketLink,
    Resolve,
    StatusResolved,
    change_request_of,
    change_request_request_id,
    check_link,
    decide,
    execute,
    outcome,
    pending_timers,
)
from domain.notifications import MessageKind, notifications_for
from domain.read_model import build_view
from domain.status import StatusPostKind
from tests.domain.test_incident import (
    DEADLINES,
    MAJOR,
    POLICY,
    TUE,
    acked,
    apply,
    at,
    event,
    opened,
    refused,
    types,
)

CLASSIFY = ClassifyAsChangeRequest(
    title="CSV-Export der Sendungsliste", reason="Es fehlt eine Funktion, nichts ist defekt."
)
CR_ID = "CR-20261124-ABCDEF"


def classified(state: IncidentState | None = None, now: str = "10:00") -> IncidentState:
    hour, minute = (int(part) for part in now.split(":"))
    return apply(state or opened(), CLASSIFY, at(hour, minute))


# -- classification ------------------------------------------------------------------


def test_classifying_a_new_report_closes_the_incident_with_a_summary() -> None:
    state, events = execute(opened(), CLASSIFY, at(10))

    assert types(events) == ["classified_as_change_request"]
    done = event(events, 0, ClassifiedAsChangeRequest)
    assert done.title == CLASSIFY.title and done.reason == CLASSIFY.reason
    assert done.change_request_request_id == "incident:SLA-1"
    assert done.reaction_met and done.resolution_met
    assert state.status is IncidentStatus.RESOLVED
    assert state.resolved_at == at(10)
    assert state.resolution_summary is not None
    assert "Änderungswunsch" in state.resolution_summary
    assert CLASSIFY.title in state.resolution_summary
    assert state.change_request_id is None  # known once the change request exists
    assert pending_timers(state) == []  # no SLA clock any more: no breach to come


def test_the_outcome_of_a_classified_report_meets_the_reaction_and_breaches_nothing() -> None:
    state = classified(now="10:00")
    result = outcome(state, POLICY.calendar)
    assert result.status is IncidentStatus.RESOLVED
    assert result.reaction_met is True and result.resolution_met is True
    assert not result.reaction_breached and not result.resolution_breached
    assert result.time_to_react == timedelta(minutes=30)


def test_a_late_classification_records_the_reaction_breach_first() -> None:
    late = DEADLINES[MAJOR].reaction_due + timedelta(minutes=5)
    state, events = execute(opened(), CLASSIFY, late)

    assert types(events) == ["reaction_breached", "classified_as_change_request"]
    assert event(events, 1, ClassifiedAsChangeRequest).reaction_met is False
    result = outcome(state, POLICY.calendar)
    assert result.reaction_met is False and result.reaction_breached
    assert result.resolution_met is True and not result.resolution_breached


def test_work_after_acknowledgement_may_still_show_a_change_request() -> None:
    # Issue 16: allowed after acknowledgement too, with its reason, not only while new.
    state, events = execute(acked(all_users=True), CLASSIFY, at(11))
    assert types(events) == ["classified_as_change_request", "status_resolved"]
    assert event(events, 0, ClassifiedAsChangeRequest).reason == CLASSIFY.reason
    assert state.status is IncidentStatus.RESOLVED
    assert state.acknowledged_at == at(10)  # the reaction stays as it was
    result = outcome(state, POLICY.calendar)
    assert result.reaction_met is True and not result.resolution_breached


def test_classification_is_refused_after_resolution() -> None:
    resolved = apply(opened(), Resolve(summary="Neu gestartet"), at(10))
    refused(resolved, CLASSIFY, at(11), WrongStatus)
    refused(classified(), CLASSIFY, at(11), WrongStatus)


@pytest.mark.parametrize(
    ("title", "reason", "what"),
    [(" ", "Funktion fehlt", "title"), ("CSV-Export", "  ", "reason")],
)
def test_classification_needs_a_title_and_a_reason(title: str, reason: str, what: str) -> None:
    error = refused(
        opened(), ClassifyAsChangeRequest(title=title, reason=reason), at(10), MissingText
    )
    assert what in error.message


def test_an_overlong_title_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError):
        ClassifyAsChangeRequest(title="x" * 201, reason="Funktion fehlt")


def test_a_published_report_is_marked_resolved_on_the_status_page() -> None:
    published = apply(opened(), PostStatusUpdate(message="Wir prüfen", all_users=True), at(9, 45))
    state, events = execute(published, CLASSIFY, at(10))

    assert types(events) == ["classified_as_change_request", "status_resolved"]
    assert event(events, 1, StatusResolved).message == CHANGE_REQUEST_STATUS_MESSAGE
    first = len(state.events) - 2
    (closing, post) = effects_of(state, first, POLICY)
    assert closing.change_request is not None and closing.status_post is None
    assert post.status_post is not None and post.status_post.kind is StatusPostKind.RESOLVED


# -- the change request made from the report ------------------------------------------


def test_the_change_request_carries_the_report_and_a_deterministic_request_id() -> None:
    state = classified(opened(attachments=["https://files.example/shot.png"]))
    done = event(state.events, -1, ClassifiedAsChangeRequest)
    request = change_request_of(state, done)

    report = state.report
    assert (request.company, request.full_name, request.email, request.phone) == (
        report.company,
        report.full_name,
        report.email,
        report.phone,
    )
    assert request.title == CLASSIFY.title
    assert request.attachments == ("https://files.example/shot.png",)
    assert request.description.startswith(report.description)
    assert "SLA-1" in request.description and CLASSIFY.reason in request.description
    assert request.request_id == change_request_request_id("SLA-1") == "incident:SLA-1"


def test_a_long_report_is_shortened_to_fit_the_change_request() -> None:
    state = classified(opened(description="Text " * 4_000))
    request = change_request_of(state, event(state.events, -1, ClassifiedAsChangeRequest))
    assert len(request.description) <= 20_000
    assert request.description.endswith(CLASSIFY.reason)


def test_the_classification_effect_starts_the_change_request_and_mails_nobody_yet() -> None:
    state = classified()
    sequence = len(state.events) - 1
    (effect,) = effects_of(state, sequence, POLICY)
    assert effect.notifications == ()
    assert effect.change_request is not None
    assert effect.change_request.received_at == at(10)
    assert effect.change_request.request.request_id == "incident:SLA-1"


# -- recording the change request ID --------------------------------------------------


def test_the_change_request_id_is_recorded_after_resolution_and_mailed_to_the_reporter() -> None:
    state, events = execute(classified(), RecordChangeRequest(change_request_id=CR_ID), at(10, 1))

    recorded = event(events, 0, ChangeRequestRecorded)
    assert (recorded.change_request_id, recorded.title) == (CR_ID, CLASSIFY.title)
    assert recorded.reason == CLASSIFY.reason
    assert state.change_request_id == CR_ID
    assert build_view(state).change_request_id == CR_ID
    assert outcome(state, POLICY.calendar).change_request_id == CR_ID
    (mail,) = notifications_for(state, len(state.events) - 1, POLICY)
    assert mail.kind is MessageKind.CLASSIFIED_AS_CHANGE_REQUEST
    assert mail.to == (state.report.email,)


def test_recording_the_same_change_request_again_changes_nothing() -> None:
    state = apply(classified(), RecordChangeRequest(change_request_id=CR_ID), at(10, 1))
    assert decide(state, RecordChangeRequest(change_request_id=CR_ID), at(10, 2)) == []
    refused(
        state, RecordChangeRequest(change_request_id="CR-20261124-OTHER2"), at(10, 2), AlreadyDone
    )


def test_a_change_request_id_needs_a_classified_report() -> None:
    refused(opened(), RecordChangeRequest(change_request_id=CR_ID), at(10), WrongStatus)
    resolved = apply(opened(), Resolve(summary="Neu gestartet"), at(10))
    refused(resolved, RecordChangeRequest(change_request_id=CR_ID), at(11), WrongStatus)


# -- bugs linked to development tickets ------------------------------------------------


def test_a_link_is_allowed_while_the_incident_is_open() -> None:
    link = LinkDevTicket(title="Umlaute im Export")
    check_link(opened(), link)
    check_link(acked(), LinkDevTicket(dev_ticket_id="DEV-0007"))


def test_a_link_is_refused_after_resolution() -> None:
    resolved = apply(acked(), Resolve(summary="Neu gestartet"), at(11))
    with pytest.raises(WrongStatus):
        check_link(resolved, LinkDevTicket(dev_ticket_id="DEV-0007"))


def test_a_new_bug_ticket_needs_a_title() -> None:
    with pytest.raises(ValidationError, match="title is required"):
        LinkDevTicket()
    with pytest.raises(ValidationError):
        LinkDevTicket(title="  ")


def test_a_recorded_link_is_an_event_once_per_dev_ticket() -> None:
    state, events = execute(
        acked(), RecordDevTicketLink(dev_ticket_id="DEV-0007", title="Umlaute"), at(10, 30)
    )
    linked = event(events, 0, DevTicketLinked)
    assert (linked.dev_ticket_id, linked.title) == ("DEV-0007", "Umlaute")
    assert state.dev_tickets == ("DEV-0007",)
    assert build_view(state).dev_tickets == ("DEV-0007",)
    assert notifications_for(state, len(state.events) - 1, POLICY) == []

    again = RecordDevTicketLink(dev_ticket_id="DEV-0007", title="Umlaute")
    assert decide(state, again, at(10, 31)) == []
    state = apply(state, RecordDevTicketLink(dev_ticket_id="DEV-0008", title="Zweiter"), at(11))
    assert state.dev_tickets == ("DEV-0007", "DEV-0008")


def test_a_link_answered_after_resolution_is_still_recorded() -> None:
    resolved = apply(acked(), Resolve(summary="Neu gestartet"), at(11))
    state = apply(resolved, RecordDevTicketLink(dev_ticket_id="DEV-0007", title="Umlaute"), at(11))
    assert state.status is IncidentStatus.RESOLVED
    assert state.dev_tickets == ("DEV-0007",)


def test_receipt_time_is_unchanged_by_classification() -> None:
    assert classified().received_at == TUE
