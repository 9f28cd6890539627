"""The development-ticket rules: which moves are allowed per kind, and the bug mails."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dev_ticket import (
    BUG_FLOW,
    BUG_LINKED,
    BUG_RELEASED,
    DevTicket,
    DevTicketKind,
    DevTicketStatus,
    IncidentContact,
    LinkedIncident,
    TransitionSource,
    allowed_transitions,
    bug_linked_message,
    bug_message_id,
    bug_released_messages,
    check_transition,
    select,
    unreachable_links,
)
from domain.errors import AlreadyDone, DomainError, MissingText, WrongStatus
from domain.sla import Severity

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BUG, FEATURE = DevTicketKind.BUG, DevTicketKind.FEATURE
OPERATOR, CR = TransitionSource.OPERATOR, TransitionSource.CHANGE_REQUEST
S = DevTicketStatus

statuses = st.sampled_from(list(DevTicketStatus))
kinds = st.sampled_from(list(DevTicketKind))
sources = st.sampled_from(list(TransitionSource))


def ticket(**changes: object) -> DevTicket:
    data: dict[str, object] = {
        "id": "DEV-0007",
        "key": "bug:INC-20261124-AAAAAA",
        "kind": BUG,
        "title": "Export bricht bei Umlauten ab",
        "description": "",
        "company": "Beispiel Versand GmbH",
        "reference": "INC-20261124-AAAAAA",
        "status": S.OPEN,
        "release": None,
        "created_at": T0,
    }
    return DevTicket.model_validate({**data, **changes})


ERIKA = IncidentContact(
    email="erika.mustermann@beispiel-versand.de",
    name="Erika Mustermann",
    company="Beispiel Versand GmbH",
    severity=Severity.CRITICAL,
)


# -- bugs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.FIXED),
        (S.FIXED, S.RELEASED),
        (S.OPEN, S.FIXED),  # fixed at once: a step may be skipped
        (S.FIXED, S.IN_PROGRESS),  # the fix did not hold: reopened
    ],
)
def test_an_operator_moves_a_bug_forward_or_reopens_a_fix(
    current: DevTicketStatus, target: DevTicketStatus
) -> None:
    check_transition("DEV-0007", BUG, current, target, OPERATOR, release="2027.1")


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        (S.IN_PROGRESS, S.OPEN, "cannot go back to open (allowed: fixed, released)"),
        (S.FIXED, S.OPEN, "cannot go back to open"),
        (S.RELEASED, S.IN_PROGRESS, "DEV-0007 is released; a released bug ticket is final"),
        (S.RELEASED, S.RELEASED, "final"),
        (S.OPEN, S.PLANNED, "a bug ticket is never planned"),
    ],
)
def test_a_bug_never_moves_back_except_a_reopened_fix_and_released_is_final(
    current: DevTicketStatus, target: DevTicketStatus, words: str
) -> None:
    with pytest.raises(WrongStatus, match=re.escape(words)):
        check_transition("DEV-0007", BUG, current, target, OPERATOR, release="2027.1")


def test_a_bug_already_in_the_state_asked_for_is_refused_as_done() -> None:
    with pytest.raises(AlreadyDone, match="DEV-0007 is fixed already"):
        check_transition("DEV-0007", BUG, S.FIXED, S.FIXED, OPERATOR)


@pytest.mark.parametrize("release", [None, "", "   "])
def test_releasing_a_bug_fix_needs_the_release(release: str | None) -> None:
    with pytest.raises(MissingText, match="a release is required"):
        check_transition("DEV-0007", BUG, S.FIXED, S.RELEASED, OPERATOR, release=release)


def test_a_change_request_workflow_never_moves_a_bug() -> None:
    with pytest.raises(WrongStatus, match="sla dev-ticket transition"):
        check_transition("DEV-0007", BUG, S.OPEN, S.IN_PROGRESS, CR)


# -- features --------------------------------------------------------------------------


@pytest.mark.parametrize("target", [S.IN_PROGRESS, S.FIXED, S.RELEASED, S.PLANNED])
def test_an_operator_cannot_move_a_feature_ticket_and_is_told_to_use_the_change_request(
    target: DevTicketStatus,
) -> None:
    with pytest.raises(WrongStatus) as info:
        check_transition("DEV-0003", FEATURE, S.OPEN, target, OPERATOR, release="2027.1")
    assert info.value.message == (
        "DEV-0003 is a feature ticket: it moves with its change request; "
        "use `sla change-request discuss|plan|decline CR-…` instead"
    )


def test_a_feature_ticket_follows_its_change_request_until_decided() -> None:
    check_transition("DEV-0003", FEATURE, S.OPEN, S.IN_DISCUSSION, CR)
    check_transition("DEV-0003", FEATURE, S.IN_DISCUSSION, S.IN_DISCUSSION, CR)  # again
    check_transition("DEV-0003", FEATURE, S.IN_DISCUSSION, S.PLANNED, CR)
    check_transition("DEV-0003", FEATURE, S.IN_DISCUSSION, S.DECLINED, CR)
    for decided in (S.PLANNED, S.DECLINED):
        with pytest.raises(WrongStatus, match="cannot move from"):
            check_transition("DEV-0003", FEATURE, decided, S.IN_DISCUSSION, CR)
    with pytest.raises(WrongStatus):
        check_transition("DEV-0003", FEATURE, S.OPEN, S.FIXED, CR)


# -- properties ------------------------------------------------------------------------


@given(kinds, statuses, statuses, sources)
def test_check_transition_agrees_with_allowed_transitions(
    kind: DevTicketKind,
    current: DevTicketStatus,
    target: DevTicketStatus,
    source: TransitionSource,
) -> None:
    allowed = target in allowed_transitions(kind, current, source)
    try:
        check_transition("DEV-1", kind, current, target, source, release="2027.1")
    except DomainError as error:
        assert not allowed
        assert error.message  # always says why
    else:
        assert allowed


@given(st.lists(st.sampled_from(list(DevTicketStatus)), max_size=12))
def test_every_walk_of_allowed_bug_moves_stays_in_the_bug_flow_and_ends_at_released(
    wanted: list[DevTicketStatus],
) -> None:
    status = S.OPEN
    for target in wanted:
        if target in allowed_transitions(BUG, status, OPERATOR):
            status = target
        assert status in BUG_FLOW
    # Only a reopened fix goes back, and released allows nothing.
    assert allowed_transitions(BUG, S.RELEASED, OPERATOR) == frozenset()
    for current in BUG_FLOW:
        backwards = {
            t
            for t in allowed_transitions(BUG, current, OPERATOR)
            if BUG_FLOW.index(t) <= BUG_FLOW.index(current)
        }
        assert backwards == ({S.IN_PROGRESS} if current is S.FIXED else set())


@given(statuses, statuses)
def test_no_operator_ever_moves_a_feature_ticket(
    current: DevTicketStatus, target: DevTicketStatus
) -> None:
    assert allowed_transitions(FEATURE, current, OPERATOR) == frozenset()


# -- filters and mails -----------------------------------------------------------------


def test_select_filters_by_status_and_kind() -> None:
    tickets = [
        ticket(id="DEV-0001"),
        ticket(id="DEV-0002", status=S.FIXED),
        ticket(id="DEV-0003", kind=FEATURE, status=S.PLANNED),
    ]
    assert [t.id for t in select(tickets)] == ["DEV-0001", "DEV-0002", "DEV-0003"]
    assert [t.id for t in select(tickets, status=[S.FIXED, S.PLANNED])] == [
        "DEV-0002",
        "DEV-0003",
    ]
    assert [t.id for t in select(tickets, kind=FEATURE)] == ["DEV-0003"]


def test_the_linked_mail_goes_to_the_reporter_with_one_message_id_per_link() -> None:
    message = bug_linked_message(ticket(), "INC-20261124-AAAAAA", ERIKA, T0, "Europe/Berlin")
    assert message is not None
    assert message.template == BUG_LINKED
    assert message.to == ("erika.mustermann@beispiel-versand.de",)
    assert message.message_id == "<INC-20261124-AAAAAA.DEV-0007.bug_linked@sla.myconvento.com>"
    assert message.message_id == bug_message_id("INC-20261124-AAAAAA", "DEV-0007", BUG_LINKED)
    nobody = IncidentContact(name="Erika Mustermann")
    assert bug_linked_message(ticket(), "INC-1", nobody, T0, "Europe/Berlin") is None


def test_a_release_mails_each_linked_reporter_once_and_names_who_cannot_be_told() -> None:
    released = ticket(
        status=S.RELEASED,
        release="2027.1",
        links=("INC-20261124-AAAAAA", "INC-20261124-BBBBBB", "INC-20261124-CCCCCC"),
        linked=(
            LinkedIncident(ticket_id="INC-20261124-AAAAAA", at=T0, contact=ERIKA),
            LinkedIncident(
                ticket_id="INC-20261124-BBBBBB",
                at=T0 + timedelta(hours=1),
                contact=IncidentContact(email="max@beispiel.de"),
            ),
            LinkedIncident(ticket_id="INC-20261124-CCCCCC", at=T0 + timedelta(hours=2)),
        ),
    )
    messages = bug_released_messages(released, T0 + timedelta(days=3), "Europe/Berlin")
    assert [(m.to, m.template) for m in messages] == [
        (("erika.mustermann@beispiel-versand.de",), BUG_RELEASED),
        (("max@beispiel.de",), BUG_RELEASED),
    ]
    assert len({m.message_id for m in messages}) == 2
    assert messages[0].context["release"] == "2027.1"
    assert unreachable_links(released) == ("INC-20261124-CCCCCC",)
    assert bug_released_messages(ticket(status=S.FIXED, linked=released.linked), T0, "UTC") == []
