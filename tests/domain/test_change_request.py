"""The change request lifecycle: submitted → under discussion → planned / declined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.change_request import (
    ChangeRequestDeclined,
    ChangeRequestEffects,
    ChangeRequestState,
    ChangeRequestStatus,
    ChangeRequestSubmitted,
    Command,
    CustomerNotReached,
    Decline,
    DevTicketCreated,
    DevTicketStatus,
    Discuss,
    Discussed,
    PlanRelease,
    RecordDeliveryFailure,
    RecordDevTicket,
    RecordTrackerFailure,
    ReleasePlanned,
    SubmitChangeRequest,
    TrackerNotUpdated,
    build_view,
    decide,
    effects_of,
    evolve,
    fold,
    summarize,
)
from domain.errors import AlreadyDone, DomainError, DomainErrorKind, MissingText, WrongStatus
from domain.report import ChangeRequest

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
CR = "CR-20261124-ABCDEF"
REQUEST = ChangeRequest(
    company="Beispiel Versand GmbH",
    full_name="Erika Mustermann",
    email="erika.mustermann@beispiel-versand.de",
    title="CSV-Export der Sendungsliste",
    description="Wir möchten die Sendungsliste als CSV exportieren.",
)
TO = ("erika.mustermann@beispiel-versand.de", "it@beispiel-versand.de")


def submitted() -> ChangeRequestState:
    command = SubmitChangeRequest(change_request_id=CR, request=REQUEST, received_at=NOW)
    return fold(None, decide(None, command, NOW))


def run(state: ChangeRequestState, *commands: Command) -> ChangeRequestState:
    for n, command in enumerate(commands, start=1):
        events = decide(state, command, NOW + timedelta(minutes=n))
        state = fold(state, events) if events else state
    return state


def with_ticket() -> ChangeRequestState:
    return run(submitted(), RecordDevTicket(dev_ticket_id="DEV-0001"))


def discussed() -> ChangeRequestState:
    return run(with_ticket(), Discuss(note="Wir prüfen den Aufwand."))


# -- the happy paths ---------------------------------------------------------------


def test_submission_opens_the_request_without_dev_ticket() -> None:
    state = submitted()
    assert state.status is ChangeRequestStatus.SUBMITTED
    assert state.dev_ticket_id is None
    assert state.is_open
    assert [e.type for e in state.events] == ["submitted"]
    assert isinstance(state.events[0], ChangeRequestSubmitted)


def test_discuss_then_plan_records_the_release_and_closes() -> None:
    state = run(
        with_ticket(),
        Discuss(note="Wir prüfen den Aufwand."),
        Discuss(note="Umsetzung ist möglich."),
        PlanRelease(release="  2027.1 "),
    )
    assert state.status is ChangeRequestStatus.PLANNED
    assert state.release == "2027.1"
    assert state.notes == ("Wir prüfen den Aufwand.", "Umsetzung ist möglich.")
    assert state.closed_at is not None
    assert not state.is_open
    assert [e.type for e in state.events] == [
        "submitted",
        "dev_ticket_created",
        "discussed",
        "discussed",
        "planned",
    ]


def test_decline_records_the_reason_and_closes() -> None:
    state = run(discussed(), Decline(reason="Passt nicht zur Produktstrategie."))
    assert state.status is ChangeRequestStatus.DECLINED
    assert state.decline_reason == "Passt nicht zur Produktstrategie."
    assert state.closed_at is not None
    assert isinstance(state.events[-1], ChangeRequestDeclined)


def test_the_same_dev_ticket_again_is_no_event_a_different_one_is_refused() -> None:
    state = with_ticket()
    assert decide(state, RecordDevTicket(dev_ticket_id="DEV-0001"), NOW) == []
    with pytest.raises(AlreadyDone, match="DEV-0001"):
        decide(state, RecordDevTicket(dev_ticket_id="DEV-0002"), NOW)


def test_delivery_failures_are_recorded_even_after_the_decision() -> None:
    state = run(discussed(), Decline(reason="Nein."))
    failure = RecordDeliveryFailure(
        template="change_request_declined", to=TO[:1], error="mailbox full"
    )
    (event,) = decide(state, failure, NOW)
    assert isinstance(event, CustomerNotReached)
    assert evolve(state, event).status is ChangeRequestStatus.DECLINED


# -- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "command", "error", "fragment"),
    [
        (
            lambda: run(discussed(), Decline(reason="Nein.")),
            PlanRelease(release="2027.1"),
            WrongStatus,
            "declined request cannot be planned",
        ),
        (
            lambda: run(discussed(), Decline(reason="Nein.")),
            Decline(reason="Nochmals nein."),
            AlreadyDone,
            "is declined",
        ),
        (
            lambda: run(discussed(), PlanRelease(release="2027.1")),
            PlanRelease(release="2027.2"),
            AlreadyDone,
            "planned for release 2027.1",
        ),
        (
            lambda: run(discussed(), PlanRelease(release="2027.1")),
            Decline(reason="Doch nicht."),
            WrongStatus,
            "planned request cannot be declined",
        ),
        (
            lambda: run(discussed(), PlanRelease(release="2027.1")),
            Discuss(note="Noch etwas."),
            WrongStatus,
            "discussion is over",
        ),
        (discussed, PlanRelease(release=""), MissingText, "release"),
        (discussed, PlanRelease(release="   "), MissingText, "release"),
        (discussed, Decline(reason=" \n "), MissingText, "reason"),
        (with_ticket, Discuss(note=""), MissingText, "note"),
        (with_ticket, PlanRelease(release="2027.1"), WrongStatus, "not been discussed"),
        (with_ticket, Decline(reason="Nein."), WrongStatus, "not been discussed"),
    ],
    ids=[
        "plan-after-declined",
        "decline-twice",
        "plan-twice",
        "decline-after-planned",
        "discuss-after-planned",
        "release-empty",
        "release-blank",
        "reason-blank",
        "note-empty",
        "plan-before-discussion",
        "decline-before-discussion",
    ],
)
def test_refusals_name_the_problem(state, command, error, fragment) -> None:
    before = state()
    with pytest.raises(error) as info:
        decide(before, command, NOW)
    assert fragment in info.value.message
    assert info.value.kind in set(DomainErrorKind)


def test_nothing_but_submission_before_submission() -> None:
    with pytest.raises(WrongStatus):
        decide(None, Discuss(note="x"), NOW)
    with pytest.raises(AlreadyDone):
        decide(
            submitted(),
            SubmitChangeRequest(change_request_id=CR, request=REQUEST, received_at=NOW),
            NOW,
        )
    with pytest.raises(ValueError, match="starts with 'submitted'"):
        evolve(None, Discussed(at=NOW, note="x"))


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(submitted(), Discuss(note="x"), NOW.replace(tzinfo=None))


# -- effects -------------------------------------------------------------------------


def effects(state: ChangeRequestState, first: int) -> list[ChangeRequestEffects]:
    return effects_of(state, first, recipients=TO, timezone="Europe/Berlin")


def test_nothing_is_sent_before_the_dev_ticket_exists() -> None:
    assert effects(submitted(), 0) == []


def test_each_step_notifies_the_customer_with_the_dev_ticket_and_moves_the_ticket() -> None:
    state = run(
        submitted(),
        RecordDevTicket(dev_ticket_id="DEV-0007"),
        Discuss(note="Wir prüfen den Aufwand."),
        PlanRelease(release="2027.1"),
    )
    out = effects(state, 1)
    assert [e.message.template for e in out if e.message] == [
        "change_request_received",
        "change_request_discussion",
        "change_request_planned",
    ]
    for effect in out:
        assert effect.message is not None
        assert effect.message.to == TO
        assert effect.message.context["dev_ticket_id"] == "DEV-0007"
        assert effect.message.message_id.startswith(f"<{CR}.{effect.sequence}.")
    received, discussion, planned = out
    assert received.dev_ticket is None  # the ticket is born open
    assert discussion.dev_ticket is not None
    assert discussion.dev_ticket.status is DevTicketStatus.IN_DISCUSSION
    assert discussion.dev_ticket.note == "Wir prüfen den Aufwand."
    assert planned.dev_ticket is not None
    assert planned.dev_ticket.status is DevTicketStatus.PLANNED
    assert planned.dev_ticket.release == "2027.1"
    # Transition keys differ per event, so each is recorded once even when retried.
    assert len({e.dev_ticket.key for e in out if e.dev_ticket}) == 2


def test_messages_are_fixed_at_event_time() -> None:
    first_note = run(with_ticket(), Discuss(note="Erste Anmerkung."))
    later = run(first_note, Discuss(note="Zweite Anmerkung."), Decline(reason="Nein."))
    (early,) = effects(first_note, 2)
    again = effects(later, 2)
    assert again[0] == early  # the later state does not change the earlier message
    assert early.message is not None and early.message.context["first_note"] is True
    assert again[1].message is not None and again[1].message.context["first_note"] is False
    declined = again[2]
    assert declined.message is not None
    assert declined.message.context["reason"] == "Nein."
    assert declined.dev_ticket is not None and declined.dev_ticket.note == "Nein."


def test_view_and_summary_carry_the_lifecycle() -> None:
    state = run(discussed(), PlanRelease(release="2027.1"))
    full = build_view(state)
    assert full.status is ChangeRequestStatus.PLANNED
    assert full.dev_ticket_id == "DEV-0001"
    assert full.release == "2027.1"
    assert full.events == state.events
    row = summarize(state)
    assert row.model_dump() == full.model_dump(exclude={"request", "notes", "events"})
    # JSON round trip (the query result crosses the wire).
    assert type(full).model_validate_json(full.model_dump_json()) == full


# -- properties ----------------------------------------------------------------------

commands = st.lists(
    st.one_of(
        st.builds(Discuss, note=st.sampled_from(["", "Anmerkung"])),
        st.builds(PlanRelease, release=st.sampled_from(["", "2027.1"])),
        st.builds(Decline, reason=st.sampled_from(["", "Grund"])),
        st.builds(RecordDevTicket, dev_ticket_id=st.sampled_from(["DEV-0001", "DEV-0002"])),
    ),
    max_size=12,
)
ORDER = list(ChangeRequestStatus)


@given(commands)
def test_status_only_moves_forward_and_a_decision_is_final(sequence: list[Command]) -> None:
    state = submitted()
    for command in sequence:
        try:
            events = decide(state, command, NOW)
        except DomainError:
            continue
        after = fold(state, events) if events else state
        assert ORDER.index(after.status) >= ORDER.index(state.status)
        if not state.is_open:
            assert after.status is state.status
            assert after.release == state.release and after.decline_reason == state.decline_reason
        if state.dev_ticket_id is not None:
            assert after.dev_ticket_id == state.dev_ticket_id
        state = after
    decisions = [e for e in state.events if isinstance(e, ReleasePlanned | ChangeRequestDeclined)]
    assert len(decisions) <= 1
    assert sum(isinstance(e, DevTicketCreated) for e in state.events) <= 1


def test_a_tracker_that_did_not_take_a_change_is_recorded_and_changes_nothing_else() -> None:
    state = run(discussed(), PlanRelease(release="2027.1"))
    failure = RecordTrackerFailure(
        action="move", dev_ticket_id=state.dev_ticket_id, error="tracker unreachable"
    )
    (event,) = decide(state, failure, NOW)
    assert isinstance(event, TrackerNotUpdated)
    assert (event.action, event.dev_ticket_id, event.error) == (
        "move",
        state.dev_ticket_id,
        "tracker unreachable",
    )
    after = evolve(state, event)
    assert after.model_copy(update={"events": state.events}) == state
    assert after.events[-1] == event


def test_a_tracker_failure_before_the_ticket_exists_names_no_ticket() -> None:
    (event,) = decide(
        submitted(),
        RecordTrackerFailure(action="create", error="tracker unreachable"),
        NOW,
    )
    assert isinstance(event, TrackerNotUpdated) and event.dev_ticket_id is None
