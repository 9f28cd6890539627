"""Missed estimates are followed up (issue 16; rules 2): every miss is told, the page never lies.

The SLA: "Ist die Störung nach der geschätzten Störungsbehebungszeit nicht
behoben, so schätzen wir die Störungsbehebungszeit neu und informieren
anschließend die betroffenen Anwender." Incidents opened under rules 1 (before
this) keep deciding as they recorded.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.incident import (
    REESTIMATE_STATUS_MESSAGE,
    RULES,
    Acknowledge,
    EstimateMissed,
    ExtendEstimate,
    IncidentState,
    MissEstimate,
    OpenIncident,
    StatusUpdated,
    execute,
)
from domain.notifications import MessageKind, notifications_for
from domain.sla import Severity
from domain.status import StatusBoard, StatusPost, StatusPostKind
from tests.domain.test_incident import POLICY, TUE, make_report

HOUR = timedelta(hours=1)


def opened_under(rules: int) -> IncidentState:
    state, _ = execute(
        None,
        OpenIncident(
            ticket_id="SLA-1",
            report=make_report(login_impossible=False),
            received_at=TUE,
            deadlines=POLICY.all_deadlines(TUE),
            rules=rules,
        ),
        TUE,
    )
    return state


def missed(state: IncidentState, times: int, *, all_users: bool = False) -> IncidentState:
    """Acknowledged with an estimate one hour ahead, then ``times`` estimates missed in a row."""
    now = TUE + timedelta(minutes=10)
    state, _ = execute(
        state,
        Acknowledge(severity=Severity.MAJOR, estimate=now + HOUR, all_users=all_users),
        now,
    )
    for n in range(times):
        due = state.estimate
        assert due is not None
        state, _ = execute(state, MissEstimate(), due)
        if n + 1 < times:
            state, _ = execute(
                state, ExtendEstimate(estimate=due + HOUR, reason="Ersatzteil fehlt"), due
            )
    return state


def kinds_of(state: IncidentState) -> list[MessageKind]:
    return [
        n.kind
        for sequence in range(len(state.events))
        for n in notifications_for(state, sequence, POLICY)
    ]


def test_new_incidents_open_under_the_current_rules() -> None:
    assert RULES == 4
    assert opened_under(RULES).rules == 4
    assert opened_under(3).rules == 3
    assert opened_under(2).rules == 2
    assert opened_under(1).rules == 1


@settings(max_examples=20, deadline=None)
@given(times=st.integers(min_value=1, max_value=5))
def test_every_miss_at_any_stage_tells_the_customer(times: int) -> None:
    state = missed(opened_under(2), times)
    misses = [e for e in state.events if isinstance(e, EstimateMissed)]
    assert len(misses) == times and all(e.followed_up for e in misses)
    assert kinds_of(state).count(MessageKind.ESTIMATE_MISSED) == times
    told = [n for s in range(len(state.events)) for n in notifications_for(state, s, POLICY)]
    for note in told:
        if note.kind is MessageKind.ESTIMATE_MISSED:
            # The reporter and the company's contacts from the directory.
            assert note.to == ("erika.mustermann@beispiel-versand.de", "it@beispiel-versand.de")


def test_a_miss_replaces_the_past_time_on_the_status_page() -> None:
    state = missed(opened_under(2), 1, all_users=True)
    update = state.events[-1]
    assert isinstance(update, StatusUpdated)
    assert update.expected_resolution is None
    assert update.message == REESTIMATE_STATUS_MESSAGE
    quiet = missed(opened_under(2), 1, all_users=False)
    assert not any(isinstance(e, StatusUpdated) for e in quiet.events)


def test_incidents_opened_before_decide_as_they_recorded() -> None:
    state = missed(opened_under(1), 3, all_users=True)
    assert not any(e.followed_up for e in state.events if isinstance(e, EstimateMissed))
    assert MessageKind.ESTIMATE_MISSED not in kinds_of(state)
    last = state.events[-1]
    assert not (isinstance(last, StatusUpdated) and last.expected_resolution is None)


def test_the_board_drops_a_withdrawn_estimate_but_keeps_one_a_message_leaves_alone() -> None:
    def post(minutes: int, **fields: object) -> StatusPost:
        values: dict[str, object] = {
            "ticket_id": "SLA-1",
            "kind": StatusPostKind.UPDATED,
            "at": TUE + timedelta(minutes=minutes),
            "severity": Severity.MAJOR,
            "message": None,
            "expected_resolution": None,
            **fields,
        }
        return StatusPost.model_validate(values)

    board = StatusBoard().apply(
        post(0, kind=StatusPostKind.PUBLISHED, expected_resolution=TUE + HOUR)
    )
    board = board.apply(post(1, message="Wir arbeiten daran."))
    assert board.entries[0].expected_resolution == TUE + HOUR  # a message changes no time
    board = board.apply(post(2, message=REESTIMATE_STATUS_MESSAGE, withdraws_estimate=True))
    assert board.entries[0].expected_resolution is None
    board = board.apply(post(3, expected_resolution=TUE + 3 * HOUR))
    assert board.entries[0].expected_resolution == TUE + 3 * HOUR
