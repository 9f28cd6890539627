"""Maintenance activities without a server: the business-hours look-up and the overrun intake."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities, OpeningRequest
from activities.maintenance import (
    OVERRUN_INCIDENT_REFUSED,
    MaintenanceActivities,
    OverrunIncidentOpened,
    OverrunIncidentRequest,
)
from domain.errors import IntakeError
from domain.maintenance import (
    ExtendMaintenance,
    MaintenancePlan,
    MaintenanceState,
    OverrunMaintenance,
    PlanMaintenance,
    StartMaintenance,
    execute,
    maintenance_id,
)
from domain.report import IncidentReport
from tests.maintenance_support import BERLIN, directory_policy

POLICY = directory_policy()
RULES = POLICY.maintenance
FRIDAY = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)


def overran() -> MaintenanceState:
    plan = MaintenancePlan(
        start=FRIDAY, end=FRIDAY + timedelta(hours=4), services=("Versand",), message="Update"
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(plan, "Europe/Berlin"), plan=plan)
    state = execute(None, command, FRIDAY - timedelta(days=4), RULES)[0]
    state = execute(state, StartMaintenance(business_opens_at=MONDAY), FRIDAY, RULES)[0]
    extend = ExtendMaintenance(end=MONDAY + timedelta(hours=2), reason="dauert")
    state = execute(state, extend, FRIDAY + timedelta(hours=3), RULES)[0]
    return execute(state, OverrunMaintenance(), MONDAY, RULES)[0]


def request() -> OverrunIncidentRequest:
    return OverrunIncidentRequest(
        maintenance=overran(), policy=POLICY, task_queue="tq", status_page_id="status"
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (FRIDAY, MONDAY),  # closed: the next opening
        (
            datetime(2026, 11, 26, 14, 0, tzinfo=BERLIN),
            datetime(2026, 11, 26, 14, 0, tzinfo=BERLIN),
        ),
        (datetime(2026, 12, 24, 19, 0, tzinfo=BERLIN), datetime(2026, 12, 28, 8, 0, tzinfo=BERLIN)),
    ],
    ids=["friday-evening", "open-now", "christmas"],
)
async def test_business_hours_begin_at_the_next_opening(at: datetime, expected: datetime) -> None:
    opens = await ActivityEnvironment().run(
        CalendarActivities().compute_business_opening, OpeningRequest(policy=POLICY, at=at)
    )
    assert opens == expected


async def test_the_overrun_report_goes_through_the_intake_it_is_given() -> None:
    seen: list[tuple[IncidentReport, OverrunIncidentRequest]] = []

    async def intake(report: IncidentReport, req: OverrunIncidentRequest) -> OverrunIncidentOpened:
        seen.append((report, req))
        return OverrunIncidentOpened(ticket_id="INC-20261130-ABCDEF", created=True)

    given = request()
    opened = await ActivityEnvironment().run(
        MaintenanceActivities(intake).open_overrun_incident, given
    )
    assert opened.ticket_id == "INC-20261130-ABCDEF"
    ((report, passed),) = seen
    assert passed == given
    assert report.request_id == f"maintenance-overrun:{given.maintenance.maintenance_id}"


async def test_a_refused_overrun_report_is_not_retried() -> None:
    async def intake(report: IncidentReport, req: OverrunIncidentRequest) -> OverrunIncidentOpened:
        raise IntakeError("description: too long")

    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            MaintenanceActivities(intake).open_overrun_incident, request()
        )
    assert info.value.type == OVERRUN_INCIDENT_REFUSED
    assert info.value.non_retryable
