"""No input can grow a workflow's payloads past Temporal's limits (issue 14).

Temporal refuses a payload above 2 MB (and a history above 51 200 events). An
incident's state travels whole in its continue-as-new input and its ``view``
answer; the status page's board in its continue-as-new input and the render
activity's argument. Before, ~2.2 MB of status messages froze the status page
workflow for everyone and a 1.95 MB phone number wedged an incident.

Here the largest report intake accepts is opened, and operators post the
largest status message until the validator refuses with a clear line: every
payload stays well under the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.status_page import StatusSnapshot
from domain.errors import RecordFull
from domain.incident import (
    RECORD_BUDGET,
    Acknowledge,
    OpenIncident,
    PostStatusUpdate,
    check_room,
    execute,
)
from domain.read_model import build_view
from domain.report import IncidentReport
from domain.sla import Severity, SlaPolicy
from domain.status import StatusBoard, StatusPost, StatusPostKind
from domain.values import ATTACHMENTS_MAX, DESCRIPTION_MAX, NAME_MAX, REFERENCE_MAX, TEXT_MAX
from workflows.incident import IncidentInput
from workflows.status_page import StatusPageInput

PAYLOAD_LIMIT = 2 * 1024 * 1024
HISTORY_EVENTS_LIMIT = 51_200
POLICY = SlaPolicy.default()
RECEIVED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def largest_report() -> IncidentReport:
    reference = "https://files.example/" + "a" * (REFERENCE_MAX - len("https://files.example/"))
    return IncidentReport.model_validate(
        {
            "company": "C" * NAME_MAX,
            "full_name": "N" * 99 + " " + "M" * (NAME_MAX - 100),
            "phone": "+49 (0) 2131 / 200 900 - 100 . 11 2" + " " * 10 + "0",
            "email": "e" * 64 + "@" + "d" * 60 + ".example",
            "description": "ä" * DESCRIPTION_MAX,
            "attachments": [reference] * ATTACHMENTS_MAX,
            "first_noticed_at": "2026-11-24T09:12:00+01:00",
            "scope": "all_workstations",
            "reproducible": True,
            "channel": "chat",
            "request_id": "r" * 128,
            "login_impossible": True,
        }
    )


def test_the_largest_report_with_updates_until_refused_stays_under_every_limit() -> None:
    report = largest_report()
    assert len(report.description) == DESCRIPTION_MAX
    opening = OpenIncident(
        ticket_id="INC-20261124-AAAAAA",
        report=report,
        received_at=RECEIVED,
        deadlines=POLICY.all_deadlines(RECEIVED),
    )
    state, _ = execute(None, opening, RECEIVED)
    now = RECEIVED + timedelta(minutes=10)
    ack = Acknowledge(
        severity=Severity.CRITICAL,
        estimate=RECEIVED + timedelta(hours=3),
        all_users=True,
        status_message="ü" * TEXT_MAX,
    )
    state, _ = execute(state, ack, now)
    posted = 0
    with pytest.raises(RecordFull, match="kB of 1000 kB"):
        while True:
            command = PostStatusUpdate(message="ß" * TEXT_MAX)
            check_room(state, command)  # what the update validator asks first
            now += timedelta(seconds=1)
            state, _ = execute(state, command, now)
            posted += 1
    assert posted > 50, posted  # a long disturbance has room for many updates

    state_size = len(state.model_dump_json())
    assert state_size <= RECORD_BUDGET
    # What Temporal carries: the continue-as-new input and the view answer.
    carried = IncidentInput(
        ticket_id=state.ticket_id,
        report=report,
        received_at=RECEIVED,
        policy=POLICY,
        state=state,
    )
    assert len(carried.model_dump_json()) < PAYLOAD_LIMIT
    assert len(build_view(state).model_dump_json()) < PAYLOAD_LIMIT
    assert len(state.events) < HISTORY_EVENTS_LIMIT


def test_the_status_board_stays_bounded_however_much_is_posted() -> None:
    board = StatusBoard()
    at = RECEIVED
    for ticket in range(60):
        for n in range(40):
            at += timedelta(seconds=1)
            board = board.apply(
                StatusPost(
                    ticket_id=f"INC-20261124-{ticket:06d}",
                    kind=StatusPostKind.PUBLISHED if n == 0 else StatusPostKind.UPDATED,
                    at=at,
                    severity=Severity.CRITICAL,
                    message="x" * TEXT_MAX,
                    expected_resolution=at + timedelta(hours=1),
                )
            )
    size = len(board.model_dump_json())
    assert size < 1_300_000, size
    assert len(StatusPageInput(board=board).model_dump_json()) < PAYLOAD_LIMIT
    snapshot = StatusSnapshot(board=board, generated_at=at)
    assert len(snapshot.model_dump_json()) < PAYLOAD_LIMIT
    latest = board.entries[-1]
    assert latest.omitted_updates == 20 and len(latest.updates) == 20
    assert all(u.message is None or len(u.message) <= 2_000 for u in latest.updates)
