"""``domain.maintenance``: notice period, usual window, lifecycle; maintenance on the status board.

The 48 hours of notice are calendar hours, i.e. real elapsed time: across the
DST weekends the wall clock gains or loses an hour. The tests build their
instants with the Berlin ``ZoneInfo`` on purpose, because two datetimes sharing
that tzinfo subtract by wall clock in Python — the trap the domain must avoid.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import DomainError, DomainErrorKind, MissingText, NotDue, WrongStatus
from domain.maintenance import (
    CancelMaintenance,
    CompleteMaintenance,
    InsufficientNotice,
    InvalidWindow,
    MaintenanceErrorKind,
    MaintenancePlan,
    MaintenancePost,
    MaintenanceRescheduled,
    MaintenanceState,
    MaintenanceStatus,
    NoServices,
    PlanMaintenance,
    RecordDeliveryFailure,
    RescheduleMaintenance,
    StartMaintenance,
    check_plan,
    check_window,
    decide,
    execute,
    fold,
    is_usual_window,
    maintenance_id,
    maintenance_post_for,
    parse_services,
    pending_timer,
    window_warnings,
)
from domain.sla import MaintenancePolicy, MaintenanceWindow, Severity, SlaPolicy
from domain.status import (
    RESOLVED_RETENTION,
    StatusBoard,
    StatusPost,
    StatusPostKind,
)
from tests.maintenance_support import BERLIN

POLICY = SlaPolicy.default()
RULES = POLICY.maintenance
USUAL = RULES.window
ZONE = "Europe/Berlin"
MAINTENANCE_ID = re.compile(r"^MNT-\d{8}-\d{4}-[A-Z2-7]{4}$")

# Friday 27 November 2026, 18:00–22:00 CET (winter) and Friday 3 July 2026 (summer).
WINTER_START = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
SUMMER_START = datetime(2026, 7, 3, 18, 0, tzinfo=BERLIN)
MONDAY_BEFORE = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


def plan(
    start: datetime = WINTER_START,
    end: datetime | None = None,
    *,
    services: tuple[str, ...] = ("Versand", "Statistik"),
    shipments_possible: bool = True,
    message: str = "Datenbank-Update",
) -> MaintenancePlan:
    return MaintenancePlan(
        start=start,
        end=end or start + timedelta(hours=4),
        services=services,
        shipments_possible=shipments_possible,
        message=message,
    )


def planned(at: datetime = MONDAY_BEFORE, **changes: object) -> MaintenanceState:
    the_plan = plan(**changes)  # type: ignore[arg-type]
    state, _ = execute(
        None,
        PlanMaintenance(maintenance_id=maintenance_id(the_plan, ZONE), plan=the_plan),
        at,
        RULES,
    )
    return state


def started(state: MaintenanceState | None = None) -> MaintenanceState:
    state = state or planned()
    return execute(state, StartMaintenance(), state.start, RULES)[0]


# -- 48 hours of notice (calendar time) ---------------------------------------------


def test_exactly_48_hours_ahead_is_enough() -> None:
    now = WINTER_START - timedelta(hours=48)
    check_plan(plan(), now, RULES)


def test_a_second_less_than_48_hours_is_refused() -> None:
    now = WINTER_START - timedelta(hours=48) + timedelta(seconds=1)
    with pytest.raises(InsufficientNotice, match="48 hours") as info:
        check_plan(plan(), now, RULES)
    assert info.value.kind.value == "InsufficientNotice"


def test_a_start_in_the_past_is_refused() -> None:
    with pytest.raises(InsufficientNotice):
        check_plan(plan(), WINTER_START + timedelta(minutes=5), RULES)


def test_notice_across_the_spring_dst_change_counts_real_hours() -> None:
    # Sunday 29 March 2026 02:00 CET → 03:00 CEST: the wall clock skips an hour.
    friday_evening = datetime(2026, 3, 27, 20, 0, tzinfo=BERLIN)
    same_wall_time_sunday = datetime(2026, 3, 29, 20, 0, tzinfo=BERLIN)
    assert same_wall_time_sunday.astimezone(UTC) - friday_evening.astimezone(UTC) == timedelta(
        hours=47
    )
    with pytest.raises(InsufficientNotice):
        check_plan(plan(same_wall_time_sunday), friday_evening, RULES)
    check_plan(plan(datetime(2026, 3, 29, 21, 0, tzinfo=BERLIN)), friday_evening, RULES)


def test_notice_across_the_autumn_dst_change_counts_real_hours() -> None:
    # Sunday 25 October 2026 03:00 CEST → 02:00 CET: the wall clock repeats an hour.
    friday_evening = datetime(2026, 10, 23, 20, 0, tzinfo=BERLIN)
    check_plan(plan(datetime(2026, 10, 25, 19, 0, tzinfo=BERLIN)), friday_evening, RULES)
    with pytest.raises(InsufficientNotice):
        check_plan(plan(datetime(2026, 10, 25, 18, 59, tzinfo=BERLIN)), friday_evening, RULES)


@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(BERLIN)
    ),
    lead_minutes=st.integers(min_value=47 * 60 - 90, max_value=48 * 60 + 90),
)
def test_notice_is_accepted_exactly_when_48_real_hours_remain(
    now: datetime, lead_minutes: int
) -> None:
    start = (now.astimezone(UTC) + timedelta(minutes=lead_minutes)).astimezone(BERLIN)
    if lead_minutes >= 48 * 60:
        check_window(start, start + timedelta(hours=1), now, RULES)
    else:
        with pytest.raises(InsufficientNotice):
            check_window(start, start + timedelta(hours=1), now, RULES)


def test_the_notice_period_is_policy_data() -> None:
    rules = MaintenancePolicy(notice=timedelta(hours=72))
    with pytest.raises(InsufficientNotice, match="72 hours"):
        check_plan(plan(), WINTER_START - timedelta(hours=60), rules)


# -- window and services -------------------------------------------------------------


@pytest.mark.parametrize("length", [timedelta(0), timedelta(hours=-1)])
def test_a_window_that_does_not_end_after_its_start_is_refused(length: timedelta) -> None:
    with pytest.raises(InvalidWindow, match="end after it starts") as info:
        check_plan(plan(end=WINTER_START + length), MONDAY_BEFORE, RULES)
    assert info.value.kind.value == "InvalidWindow"


def test_a_plan_without_services_is_refused() -> None:
    with pytest.raises(NoServices) as info:
        check_plan(plan(services=()), MONDAY_BEFORE, RULES)
    assert info.value.kind.value == "NoServices"


def test_services_are_parsed_from_a_comma_list_once_each() -> None:
    assert parse_services(" Versand, Statistik ,,") == ("Versand", "Statistik")
    assert parse_services(" , ") == ()
    assert plan(services=("Versand", "versand", "Statistik")).services == ("Versand", "Statistik")


def test_a_plan_needs_aware_times_and_a_message() -> None:
    with pytest.raises(ValidationError):
        MaintenancePlan(
            start=datetime(2026, 11, 27, 18, 0),
            end=datetime(2026, 11, 27, 22, 0, tzinfo=BERLIN),
            services=("Versand",),
            message="x",
        )
    with pytest.raises(ValidationError, match="message"):
        plan(message="  ")


def test_plan_times_are_stored_as_utc_instants() -> None:
    the_plan = plan()
    assert the_plan.start.utcoffset() == timedelta(0)
    assert the_plan.start == WINTER_START


# -- the usual window (Friday 18:00–22:00 in Berlin) ------------------------------------


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        (WINTER_START, 4),  # winter, CET
        (SUMMER_START, 4),  # summer, CEST
        (WINTER_START + timedelta(hours=1), 2),  # inside the slot
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), 4),  # 18:00 CET given in UTC
        (datetime(2026, 7, 3, 16, 0, tzinfo=UTC), 4),  # 18:00 CEST given in UTC
    ],
)
def test_friday_evening_is_the_usual_window(start: datetime, hours: int) -> None:
    end = start + timedelta(hours=hours)
    assert is_usual_window(start, end, USUAL, ZONE)
    assert window_warnings(start, end, POLICY) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (  # Saturday
            datetime(2026, 11, 28, 18, 0, tzinfo=BERLIN),
            datetime(2026, 11, 28, 22, 0, tzinfo=BERLIN),
        ),
        (WINTER_START - timedelta(hours=1), WINTER_START + timedelta(hours=3)),  # from 17:00
        (WINTER_START, WINTER_START + timedelta(hours=4, minutes=30)),  # until 22:30
        (WINTER_START + timedelta(hours=2), WINTER_START + timedelta(hours=8)),  # past midnight
        (  # 17:00 UTC is 19:00 CEST in summer: ends 23:00
            datetime(2026, 7, 3, 17, 0, tzinfo=UTC),
            datetime(2026, 7, 3, 21, 0, tzinfo=UTC),
        ),
    ],
)
def test_other_windows_are_unusual_and_warned_about(start: datetime, end: datetime) -> None:
    assert not is_usual_window(start, end, USUAL, ZONE)
    (warning,) = window_warnings(start, end, POLICY)
    assert "outside the usual maintenance window" in warning
    assert "fri 18:00–22:00" in warning


def test_the_usual_window_is_policy_data() -> None:
    saturday_morning = MaintenanceWindow(weekday="sat", start="06:00", end="10:00")
    start = datetime(2026, 11, 28, 6, 0, tzinfo=BERLIN)
    assert is_usual_window(start, start + timedelta(hours=4), saturday_morning, ZONE)
    assert not is_usual_window(
        WINTER_START, WINTER_START + timedelta(hours=4), saturday_morning, ZONE
    )


# -- maintenance IDs ------------------------------------------------------------------------


def test_the_id_shows_the_local_start_and_is_deterministic() -> None:
    first = maintenance_id(plan(), ZONE)
    assert MAINTENANCE_ID.match(first), first
    assert first.startswith("MNT-20261127-1800-")
    assert maintenance_id(plan(), ZONE) == first
    assert maintenance_id(plan(message="anderer Text"), ZONE) != first
    assert maintenance_id(plan(SUMMER_START), ZONE).startswith("MNT-20260703-1800-")


# -- lifecycle ------------------------------------------------------------------------------


def test_planned_then_in_progress_then_completed() -> None:
    state = planned()
    assert state.status is MaintenanceStatus.PLANNED
    assert state.planned_at == MONDAY_BEFORE
    timer = pending_timer(state)
    assert timer is not None and timer.at == WINTER_START
    assert isinstance(timer.command, StartMaintenance)

    state = started(state)
    assert state.status is MaintenanceStatus.IN_PROGRESS
    timer = pending_timer(state)
    assert timer is not None and timer.at == state.end
    assert isinstance(timer.command, CompleteMaintenance)

    state, _ = execute(state, CompleteMaintenance(), state.end, RULES)
    assert state.status is MaintenanceStatus.COMPLETED
    assert pending_timer(state) is None
    assert [e.type for e in state.events] == ["planned", "started", "completed"]
    assert fold(None, state.events) == state


def test_timers_are_not_due_before_their_instant() -> None:
    state = planned()
    with pytest.raises(NotDue):
        decide(state, StartMaintenance(), WINTER_START - timedelta(seconds=1), RULES)
    state = started(state)
    with pytest.raises(NotDue):
        decide(state, CompleteMaintenance(), state.end - timedelta(seconds=1), RULES)


def test_reschedule_moves_the_window_and_raises_the_revision() -> None:
    state = planned()
    new_start = WINTER_START + timedelta(days=7)
    state, (event,) = execute(
        state,
        RescheduleMaintenance(start=new_start, end=new_start + timedelta(hours=3)),
        MONDAY_BEFORE + timedelta(hours=1),
        RULES,
    )
    assert isinstance(event, MaintenanceRescheduled)
    assert (event.previous_start, event.start) == (WINTER_START, new_start)
    assert state.start == new_start and state.end == new_start + timedelta(hours=3)
    assert state.revision == 1
    timer = pending_timer(state)
    assert timer is not None and timer.at == new_start


def test_reschedule_needs_48_hours_of_notice_again_from_now() -> None:
    state = planned()
    now = WINTER_START - timedelta(hours=30)
    soon = now + timedelta(hours=47)
    with pytest.raises(InsufficientNotice):
        decide(state, RescheduleMaintenance(start=soon, end=soon + timedelta(hours=1)), now, RULES)
    later = now + timedelta(hours=48)
    decide(state, RescheduleMaintenance(start=later, end=later + timedelta(hours=1)), now, RULES)


def test_reschedule_to_a_reversed_or_the_same_window_is_refused() -> None:
    state = planned()
    with pytest.raises(InvalidWindow, match="end after"):
        decide(
            state,
            RescheduleMaintenance(start=WINTER_START, end=WINTER_START - timedelta(hours=1)),
            MONDAY_BEFORE,
            RULES,
        )
    with pytest.raises(InvalidWindow, match="current one"):
        decide(
            state,
            RescheduleMaintenance(start=state.start, end=state.end),
            MONDAY_BEFORE,
            RULES,
        )


def test_nothing_but_completion_happens_once_started() -> None:
    state = started()
    later = WINTER_START + timedelta(minutes=10)
    with pytest.raises(WrongStatus, match="in progress"):
        decide(
            state,
            RescheduleMaintenance(start=later + timedelta(days=3), end=later + timedelta(days=4)),
            later,
            RULES,
        )
    with pytest.raises(WrongStatus, match="in progress"):
        decide(state, CancelMaintenance(reason="zu spät"), later, RULES)
    with pytest.raises(WrongStatus):
        decide(state, StartMaintenance(), later, RULES)


def test_cancel_while_planned_then_nothing_more() -> None:
    state, (event,) = execute(
        planned(), CancelMaintenance(reason=" Update verschoben "), MONDAY_BEFORE, RULES
    )
    assert event.type == "cancelled"
    assert state.status is MaintenanceStatus.CANCELLED
    assert state.cancel_reason == "Update verschoben"
    assert pending_timer(state) is None
    for command in (
        CancelMaintenance(reason="nochmal"),
        RescheduleMaintenance(
            start=WINTER_START + timedelta(days=7), end=WINTER_START + timedelta(days=7, hours=1)
        ),
        StartMaintenance(),
    ):
        with pytest.raises(WrongStatus, match="cancelled"):
            decide(state, command, WINTER_START, RULES)


def test_a_cancellation_needs_a_reason() -> None:
    with pytest.raises(MissingText) as info:
        decide(planned(), CancelMaintenance(reason="   "), MONDAY_BEFORE, RULES)
    assert info.value.kind is DomainErrorKind.MISSING_TEXT


def test_a_completed_maintenance_cannot_be_cancelled() -> None:
    state = started()
    state, _ = execute(state, CompleteMaintenance(), state.end, RULES)
    with pytest.raises(WrongStatus, match="completed"):
        decide(state, CancelMaintenance(reason="x"), state.end, RULES)


def test_planning_twice_or_commanding_before_planning_is_refused() -> None:
    the_plan = plan()
    with pytest.raises(WrongStatus):
        decide(planned(), PlanMaintenance(maintenance_id="X", plan=the_plan), MONDAY_BEFORE, RULES)
    with pytest.raises(WrongStatus):
        decide(None, CancelMaintenance(reason="x"), MONDAY_BEFORE, RULES)


def test_plan_refusals_apply_to_the_plan_command() -> None:
    too_soon = plan(MONDAY_BEFORE + timedelta(hours=2))
    with pytest.raises(InsufficientNotice):
        decide(None, PlanMaintenance(maintenance_id="X", plan=too_soon), MONDAY_BEFORE, RULES)


def test_delivery_failures_are_recorded_in_any_state() -> None:
    state = started()
    state, (event,) = execute(
        state,
        RecordDeliveryFailure(template="maintenance_announcement", to=("a@b.de",), error="550"),
        WINTER_START,
        RULES,
    )
    assert event.type == "delivery_failed"
    assert state.status is MaintenanceStatus.IN_PROGRESS


def test_error_kinds_are_distinct_application_error_types() -> None:
    kinds = {kind.value for kind in MaintenanceErrorKind} | {k.value for k in DomainErrorKind}
    assert len(kinds) == len(MaintenanceErrorKind) + len(DomainErrorKind)
    for error in (InsufficientNotice("x"), InvalidWindow("x"), NoServices("x")):
        assert isinstance(error, DomainError)
        assert error.message == "x"


# -- maintenance on the status board ------------------------------------------------------------


def post_of(state: MaintenanceState) -> MaintenancePost:
    post = maintenance_post_for(state, state.events[-1])
    assert post is not None
    return post


def test_every_lifecycle_event_replaces_the_board_entry() -> None:
    board = StatusBoard()
    state = planned()
    board = board.apply_maintenance(post_of(state))
    assert [m.maintenance_id for m in board.maintenance_planned] == [state.maintenance_id]

    state = started(state)
    board = board.apply_maintenance(post_of(state))
    assert board.maintenance_planned == []
    (entry,) = board.maintenance_in_progress
    assert entry.services == ("Versand", "Statistik")
    assert entry.shipments_possible and entry.message == "Datenbank-Update"
    assert entry.closed_at is None

    state, _ = execute(state, CompleteMaintenance(), state.end, RULES)
    board = board.apply_maintenance(post_of(state))
    (entry,) = board.maintenance_closed
    assert entry.closed_at == state.end
    assert len(board.maintenance) == 1


def test_repeated_or_stale_maintenance_posts_change_nothing() -> None:
    state = planned()
    first = post_of(state)
    state = started(state)
    board = StatusBoard().apply_maintenance(first).apply_maintenance(post_of(state))
    assert board.apply_maintenance(post_of(state)) is board
    assert board.apply_maintenance(first) is board


def test_a_cancellation_is_shown_with_its_reason() -> None:
    state, _ = execute(planned(), CancelMaintenance(reason="verschoben"), MONDAY_BEFORE, RULES)
    (entry,) = StatusBoard().apply_maintenance(post_of(state)).maintenance_closed
    assert entry.state is MaintenanceStatus.CANCELLED
    assert entry.reason == "verschoben"


def test_delivery_failures_do_not_touch_the_board() -> None:
    state, (event,) = execute(
        planned(),
        RecordDeliveryFailure(template="t", to=("a@b.de",), error="550"),
        MONDAY_BEFORE,
        RULES,
    )
    assert maintenance_post_for(state, event) is None


def test_closed_maintenance_ages_off_after_seven_days_and_incidents_stay() -> None:
    incident = StatusPost(
        ticket_id="INC-20261124-ABCDEF",
        kind=StatusPostKind.PUBLISHED,
        at=MONDAY_BEFORE,
        severity=Severity.CRITICAL,
        message="Anmeldung gestört",
        expected_resolution=None,
    )
    state = started()
    state, _ = execute(state, CompleteMaintenance(), state.end, RULES)
    board = StatusBoard().apply(incident).apply_maintenance(post_of(state))
    # Posting an incident keeps the maintenance entries and vice versa.
    assert len(board.entries) == 1 and len(board.maintenance) == 1
    assert board.expiries == [state.end + RESOLVED_RETENTION]

    assert board.pruned(state.end + RESOLVED_RETENTION) is board
    pruned = board.pruned(state.end + RESOLVED_RETENTION + timedelta(seconds=1))
    assert pruned.maintenance == ()
    assert len(pruned.entries) == 1  # the open incident stays
