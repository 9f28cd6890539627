"""Record on-call histories for the replay tests: ``python -m tests.histories.record_oncall``.

Run it after a deliberate change to ``OnCallBookingWorkflow`` or to the
incident's on-call signal (with ``workflow.patched`` where running workflows
must keep their old path), and commit the JSON files. Scenarios run on the
time-skipping server with visibility answered by a ``Directory``
(``tests/workflows/oncall_support.py``).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.incident import Resolve
from domain.oncall import CancelBooking, check_booking
from domain.sla import SlaPolicy
from service.oncall import book_oncall
from starter import report_incident
from tests.conftest import Stack, report, start_time_skipping
from tests.histories.saving import save_history
from tests.workflows.oncall_support import (
    Directory,
    at,
    bookable_day,
    oncall_stack,
    terminate_settled,
)
from workflows.incident import IncidentWorkflow
from workflows.oncall import OnCallBookingWorkflow

POLICY = SlaPolicy.default()
COMPANY = "Beispiel Versand GmbH"
Scenario = Callable[[Stack, Directory], Awaitable[list[tuple[str, WorkflowHandle[Any, Any]]]]]


async def _book(stack: Stack, hours: timedelta) -> WorkflowHandle[Any, Any]:
    now = await stack.now()
    start = at(bookable_day(POLICY, now, 5), 10)
    request = check_booking(
        POLICY,
        company=COMPANY,
        start=start,
        end=start + hours,
        reason="Migration",
        operator="Max Muster",
        booked_at=now,
    )
    receipt = await book_oncall(
        stack.client, request, policy=POLICY, booked_at=now, task_queue=stack.task_queue
    )
    return stack.client.get_workflow_handle_for(OnCallBookingWorkflow.run, receipt.booking_id)


async def oncall_completed(
    stack: Stack, directory: Directory
) -> list[tuple[str, WorkflowHandle[Any, Any]]]:
    """Booked, confirmed, reminded, run, billed for 3 started hours."""
    handle = await _book(stack, timedelta(hours=2, minutes=1))
    view = await handle.query(OnCallBookingWorkflow.view)
    await stack.skip_to(view.end + timedelta(minutes=1))
    await handle.result()
    return [("oncall_booking", handle)]


async def oncall_moves_incident(
    stack: Stack, directory: Directory
) -> list[tuple[str, WorkflowHandle[Any, Any]]]:
    """A minor incident; a booking moves its deadlines, cancelled while running moves them back."""
    ticket = await report_incident(
        stack.client,
        report(company=COMPANY, login_impossible=False, workaround_available=True),
        received_at=await stack.now(),
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
        oncall_windows=(),
    )
    directory.incidents[COMPANY] = [ticket]
    incident = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    booking = await _book(stack, timedelta(hours=4))
    view = await booking.query(OnCallBookingWorkflow.view)
    await stack.skip_to(view.start + timedelta(hours=1))
    await booking.execute_update(OnCallBookingWorkflow.cancel, CancelBooking(reason="erledigt"))
    await booking.result()
    await incident.execute_update(IncidentWorkflow.resolve, Resolve(summary="Workaround genügt"))
    await incident.result()
    return [("oncall_booking", booking), ("incident", incident)]


SCENARIOS: dict[str, Scenario] = {
    "oncall_completed": oncall_completed,
    "oncall_moves_incident": oncall_moves_incident,
}


async def record() -> None:
    """Run every scenario and write ``<scenario>-<workflow>.json`` histories."""
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                directory = Directory()
                stack, _ = oncall_stack(env.client, env, Path(data_dir), directory)
                async with stack.worker:
                    for kind, handle in await scenario(stack, directory):
                        await save_history(handle, name, kind)
                    # Nothing may run on with timers on a queue nobody polls
                    # (it stops the server from skipping time).
                    await terminate_settled(env.client, [stack.status_page_id])
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
