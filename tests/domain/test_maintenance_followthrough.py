"""``domain.maintenance`` followed through: who is told, extend, end early, overrun.

Issue 16: every customer in the directory gets the notice and planning warns
about those it cannot reach; a window can be extended (before or while it runs)
or ended early, each re-announced; a window still running when business hours
begin has overrun and opens an incident through the ordinary intake.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import MissingText, NotDue, WrongStatus
from domain.maintenance import (
    CancelMaintenance,
    CompleteMaintenance,
    EndMaintenance,
    ExtendMaintenance,
    InvalidWindow,
    MaintenanceEndedEarly,
    MaintenanceExtended,
    MaintenanceIncidentOpened,
    MaintenanceOverran,
    MaintenancePlan,
    MaintenancePlanned,
    MaintenanceState,
    MaintenanceStatus,
    OverrunMaintenance,
    PlanMaintenance,
    RecordOverrunIncident,
    StartMaintenance,
    business_hours_warnings,
    customer_recipients,
    decide,
    effects_of,
    execute,
    fold,
    maintenance_id,
    maintenance_post_for,
    overrun_report,
    overrun_request_id,
    pending_timer,
    recipient_warnings,
    unreached_customers,
)
from domain.report import Channel, Scope
from domain.sla import Severity, SlaPolicy
from domain.status import StatusBoard
from tests.maintenance_support import BERLIN, directory_policy

POLICY = directory_policy()
RULES = POLICY.maintenance
ZONE = "Europe/Berlin"

# The usual slot: Friday 27 November 2026, 18:00–22:00 CET.
START = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
END = datetime(2026, 11, 27, 22, 0, tzinfo=BERLIN)
PLANNED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
MONDAY_OPENING = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)


def policy_with(customers: list[dict[str, object]], **maintenance: object) -> SlaPolicy:
    data = SlaPolicy.default().model_dump(mode="json", by_alias=True)
    data["customers"] = customers
    data["maintenance"] = {**data["maintenance"], **maintenance}
    return SlaPolicy.from_mapping(data, source="test policy")


def planned() -> MaintenanceState:
    the_plan = MaintenancePlan(
        start=START,
        end=END,
        services=("Versand", "Statistik"),
        shipments_possible=True,
        message="Datenbank-Update",
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(the_plan, ZONE), plan=the_plan)
    return execute(None, command, PLANNED_AT, RULES)[0]


def started(state: MaintenanceState | None = None) -> MaintenanceState:
    """Started at its start; business hours begin Monday 08:00 (what the calendar says)."""
    state = state or planned()
    opens = POLICY.calendar.next_open(state.start)
    return execute(state, StartMaintenance(business_opens_at=opens), state.start, RULES)[0]


def extended(state: MaintenanceState, until: datetime, at: datetime) -> MaintenanceState:
    command = ExtendMaintenance(end=until, reason="Die Datenbankmigration dauert länger.")
    return execute(state, command, at, RULES)[0]


def overran(state: MaintenanceState | None = None) -> MaintenanceState:
    state = state or extended(started(), MONDAY_OPENING + timedelta(hours=2), END)
    assert state.business_opens_at is not None
    return execute(state, OverrunMaintenance(), state.business_opens_at, RULES)[0]


# -- every customer, and warnings when somebody cannot be told --------------------------


def test_every_directory_customer_with_a_contact_is_a_recipient_of_its_own() -> None:
    recipients = customer_recipients(POLICY)
    assert [company for company, _ in recipients] == [
        "Beispiel Versand GmbH",
        "Nordlicht Handel KG",
        "Alpen Logistik AG",
    ]
    assert dict(recipients)["Nordlicht Handel KG"] == (
        "edv@nordlicht-handel.de",
        "versand@nordlicht-handel.de",
    )


def test_customers_without_a_contact_are_named_in_a_warning() -> None:
    assert unreached_customers(POLICY) == ("Ohne Kontakt GmbH",)
    (warning,) = recipient_warnings(POLICY)
    assert "will not be told" in warning
    assert "Ohne Kontakt GmbH" in warning


def test_planning_with_no_recipient_at_all_warns_clearly() -> None:
    nobody = policy_with([{"company": "Ohne Kontakt GmbH"}, {"company": "Stumm AG"}])
    assert customer_recipients(nobody) == []
    warnings = recipient_warnings(nobody)
    assert any("nobody will be told" in w for w in warnings)
    assert any("Ohne Kontakt GmbH, Stumm AG" in w for w in warnings)
    empty = policy_with([])
    assert [w for w in recipient_warnings(empty) if "nobody will be told" in w]


def test_a_directory_where_everybody_has_a_contact_gives_no_warning() -> None:
    assert recipient_warnings(SlaPolicy.default()) == []


def test_the_planned_event_records_who_was_told_and_who_was_not() -> None:
    state = planned()
    the_plan = state.events[0]
    assert isinstance(the_plan, MaintenancePlanned)
    command = PlanMaintenance(
        maintenance_id=state.maintenance_id,
        plan=the_plan.plan,
        recipients=3,
        unreached=("Ohne Kontakt GmbH",),
    )
    (event,) = decide(None, command, PLANNED_AT, RULES)
    assert isinstance(event, MaintenancePlanned)
    assert event.recipients == 3
    assert event.unreached == ("Ohne Kontakt GmbH",)


# -- extend ------------------------------------------------------------------------------


def test_a_planned_window_can_be_extended_and_is_re_announced() -> None:
    state = extended(planned(), END + timedelta(hours=2), PLANNED_AT + timedelta(hours=1))
    assert state.status is MaintenanceStatus.PLANNED
    assert state.start == START.astimezone(UTC)
    assert state.end == (END + timedelta(hours=2)).astimezone(UTC)
    assert state.revision == 1
    event = state.events[-1]
    assert isinstance(event, MaintenanceExtended)
    assert event.previous_end == END.astimezone(UTC)
    assert event.reason == "Die Datenbankmigration dauert länger."
    (effects,) = effects_of(state, len(state.events) - 1, POLICY)
    assert len(effects.messages) == len(customer_recipients(POLICY))
    assert {m.template for m in effects.messages} == {"maintenance_extended"}
    assert effects.post is not None and effects.post.state is MaintenanceStatus.PLANNED


def test_a_running_window_can_be_extended_and_its_end_timer_follows() -> None:
    state = started()
    state = extended(state, END + timedelta(hours=1), START + timedelta(hours=3))
    assert state.status is MaintenanceStatus.IN_PROGRESS
    timer = pending_timer(state)
    assert timer is not None and timer.at == END + timedelta(hours=1)
    assert isinstance(timer.command, CompleteMaintenance)
    post = maintenance_post_for(state, state.events[-1])
    assert post is not None
    assert post.state is MaintenanceStatus.IN_PROGRESS
    assert post.end == END + timedelta(hours=1)
    assert post.reason == "Die Datenbankmigration dauert länger."


def test_every_extension_raises_the_revision() -> None:
    state = extended(started(), END + timedelta(hours=1), START + timedelta(hours=3))
    state = extended(state, END + timedelta(hours=2), START + timedelta(hours=3, minutes=30))
    assert state.revision == 2
    assert [e.type for e in state.events] == ["planned", "started", "extended", "extended"]
    assert fold(None, state.events) == state


@pytest.mark.parametrize("until", [END, END - timedelta(hours=1)])
def test_an_extension_must_move_the_end_later(until: datetime) -> None:
    with pytest.raises(InvalidWindow, match="end it early"):
        decide(started(), ExtendMaintenance(end=until, reason="x"), START, RULES)


def test_an_extension_needs_a_reason() -> None:
    command = ExtendMaintenance(end=END + timedelta(hours=1), reason="  ")
    with pytest.raises(MissingText):
        decide(started(), command, START, RULES)


def test_an_extension_to_an_end_already_past_is_refused() -> None:
    state = started()
    command = ExtendMaintenance(end=END + timedelta(hours=1), reason="später")
    with pytest.raises(InvalidWindow, match="already passed"):
        decide(state, command, END + timedelta(hours=2), RULES)


def test_a_closed_maintenance_cannot_be_extended() -> None:
    command = ExtendMaintenance(end=END + timedelta(hours=1), reason="später")
    done = execute(started(), CompleteMaintenance(), END, RULES)[0]
    with pytest.raises(WrongStatus, match="completed"):
        decide(done, command, END, RULES)
    cancelled = execute(planned(), CancelMaintenance(reason="verschoben"), PLANNED_AT, RULES)[0]
    with pytest.raises(WrongStatus, match="cancelled"):
        decide(cancelled, command, PLANNED_AT, RULES)


# -- end early ---------------------------------------------------------------------------


def test_a_running_window_can_be_ended_early_and_customers_are_told() -> None:
    at = START + timedelta(hours=2, minutes=15)
    state = execute(started(), EndMaintenance(note="Alles lief glatt."), at, RULES)[0]
    assert state.status is MaintenanceStatus.COMPLETED
    assert state.completed_at == at
    assert state.end == at  # the window that really happened
    event = state.events[-1]
    assert isinstance(event, MaintenanceEndedEarly)
    assert event.planned_end == END.astimezone(UTC)
    assert event.note == "Alles lief glatt."
    assert pending_timer(state) is None
    (effects,) = effects_of(state, len(state.events) - 1, POLICY)
    assert {m.template for m in effects.messages} == {"maintenance_ended"}
    assert effects.post is not None
    assert effects.post.state is MaintenanceStatus.COMPLETED
    assert effects.post.end == at
    (entry,) = StatusBoard().apply_maintenance(effects.post).maintenance_closed
    assert entry.end == at


def test_an_empty_note_is_no_note() -> None:
    state = execute(started(), EndMaintenance(note=" "), START + timedelta(hours=1), RULES)[0]
    event = state.events[-1]
    assert isinstance(event, MaintenanceEndedEarly) and event.note is None


def test_only_a_running_window_can_be_ended_early() -> None:
    with pytest.raises(WrongStatus, match="has not started yet"):
        decide(planned(), EndMaintenance(), PLANNED_AT, RULES)
    with pytest.raises(InvalidWindow, match="anyway"):
        decide(started(), EndMaintenance(), END, RULES)


# -- overrun into business hours -------------------------------------------------------------


def test_the_usual_friday_window_is_watched_until_monday_but_never_overruns() -> None:
    state = started()
    assert state.business_opens_at == MONDAY_OPENING
    timer = pending_timer(state)
    assert timer is not None and timer.at == END
    assert isinstance(timer.command, CompleteMaintenance)
    with pytest.raises(WrongStatus, match="does not reach business hours"):
        decide(state, OverrunMaintenance(), MONDAY_OPENING, RULES)


def test_a_window_extended_into_monday_overruns_at_the_opening() -> None:
    state = extended(started(), MONDAY_OPENING + timedelta(hours=2), END)
    timer = pending_timer(state)
    assert timer is not None and timer.at == MONDAY_OPENING
    assert isinstance(timer.command, OverrunMaintenance)
    with pytest.raises(NotDue):
        decide(state, OverrunMaintenance(), MONDAY_OPENING - timedelta(seconds=1), RULES)

    state = overran(state)
    event = state.events[-1]
    assert isinstance(event, MaintenanceOverran)
    assert event.at == MONDAY_OPENING
    assert event.request_id == overrun_request_id(state.maintenance_id)
    assert state.status is MaintenanceStatus.IN_PROGRESS
    # Then the end, as extended; the overrun is not decided twice.
    timer = pending_timer(state)
    assert timer is not None and timer.at == MONDAY_OPENING + timedelta(hours=2)
    assert isinstance(timer.command, CompleteMaintenance)
    with pytest.raises(WrongStatus):
        decide(state, OverrunMaintenance(), MONDAY_OPENING, RULES)


def test_the_overrun_opens_an_incident_and_sends_no_customer_mail() -> None:
    state = overran()
    (effects,) = effects_of(state, len(state.events) - 1, POLICY)
    assert effects.open_incident
    assert effects.messages == ()
    assert effects.post is None  # the incident makes its own entry


def test_the_incident_ticket_is_recorded_once() -> None:
    state = overran()
    at = MONDAY_OPENING + timedelta(seconds=5)
    state = execute(state, RecordOverrunIncident(ticket_id="INC-20261130-ABCD"), at, RULES)[0]
    assert state.incident_ticket_id == "INC-20261130-ABCD"
    event = state.events[-1]
    assert isinstance(event, MaintenanceIncidentOpened) and event.ticket_id == "INC-20261130-ABCD"
    again = RecordOverrunIncident(ticket_id="INC-20261130-ABCD")
    assert decide(state, again, at, RULES) == []
    with pytest.raises(WrongStatus, match="has not overrun"):
        decide(started(), again, at, RULES)


def test_a_window_ended_before_the_opening_does_not_overrun() -> None:
    state = extended(started(), MONDAY_OPENING + timedelta(hours=2), END)
    state = execute(state, EndMaintenance(), MONDAY_OPENING - timedelta(hours=1), RULES)[0]
    assert pending_timer(state) is None
    with pytest.raises(WrongStatus):
        decide(state, OverrunMaintenance(), MONDAY_OPENING, RULES)


def test_a_start_without_an_opening_is_not_watched() -> None:
    """Runs started before overruns were watched replay as they ran."""
    state = execute(planned(), StartMaintenance(), START, RULES)[0]
    state = extended(state, MONDAY_OPENING + timedelta(hours=2), END)
    timer = pending_timer(state)
    assert timer is not None and isinstance(timer.command, CompleteMaintenance)


@given(
    opens_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)),
    length=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=4)),
)
def test_a_running_window_wakes_first_for_whichever_comes_first(
    opens_after: timedelta, length: timedelta
) -> None:
    state = planned()
    opens = state.start + opens_after
    state = execute(state, StartMaintenance(business_opens_at=opens), state.start, RULES)[0]
    state = state.model_copy(update={"end": state.start + length})  # any length
    timer = pending_timer(state)
    assert timer is not None
    if opens < state.end:
        assert (timer.at, timer.command) == (opens, OverrunMaintenance())
    else:
        assert (timer.at, timer.command) == (state.end, CompleteMaintenance())


# -- the incident's report -----------------------------------------------------------------------


def test_the_overrun_report_says_all_users_are_locked_out() -> None:
    state = overran()
    report = overrun_report(state, POLICY)
    assert report.channel is Channel.MONITORING
    assert report.all_users_affected
    assert report.scope is Scope.ALL_WORKSTATIONS
    assert report.login_impossible
    assert report.suggested_severity() is Severity.CRITICAL
    assert report.email == POLICY.contacts.support_lead
    assert report.company == POLICY.intake.monitoring.company
    assert report.request_id == f"maintenance-overrun:{state.maintenance_id}"
    assert report.first_noticed_at == MONDAY_OPENING
    assert report.missing == ()
    assert state.maintenance_id in report.description
    assert "Beginn der Bereitschaftszeit am 30.11.2026 08:00 Uhr" in report.description
    assert "angekündigtes Ende: 30.11.2026 10:00 Uhr" in report.description
    assert "Versand, Statistik" in report.description


def test_the_overrun_severity_is_policy_data() -> None:
    lenient = policy_with([], overrun_severity="major")
    assert lenient.maintenance.overrun_severity is Severity.MAJOR
    assert overrun_report(overran(), lenient).suggested_severity() is Severity.MAJOR
    assert SlaPolicy.default().maintenance.overrun_severity is Severity.CRITICAL


def test_no_report_without_an_overrun() -> None:
    with pytest.raises(ValueError, match="has not overrun"):
        overrun_report(started(), POLICY)


# -- warned when planning or extending ------------------------------------------------------------


def test_the_usual_window_reaches_no_business_hours() -> None:
    assert business_hours_warnings(START, END, POLICY) == []


def test_a_window_into_monday_is_warned_about_with_the_opening_and_severity() -> None:
    (warning,) = business_hours_warnings(START, MONDAY_OPENING + timedelta(minutes=1), POLICY)
    assert "reaches business hours at Mon 30.11.2026 08:00 (Europe/Berlin)" in warning
    assert "a critical incident is opened for all users" in warning
    assert business_hours_warnings(START, MONDAY_OPENING, POLICY) == []


def test_a_window_on_a_weekday_afternoon_is_in_business_hours_at_its_start() -> None:
    thursday = datetime(2026, 11, 26, 14, 0, tzinfo=BERLIN)
    (warning,) = business_hours_warnings(thursday, thursday + timedelta(hours=1), POLICY)
    assert "Thu 26.11.2026 14:00" in warning
