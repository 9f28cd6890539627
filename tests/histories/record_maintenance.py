"""Record maintenance histories for the replay tests.

``python -m tests.histories.record_maintenance`` (next to ``record.py``, which
records the incident and status page scenarios). Run it after a deliberate
change of ``MaintenanceWorkflow`` (or of the status page's maintenance signal)
and commit the JSON files.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.maintenance import (
    CancelMaintenance,
    MaintenancePlan,
    MaintenanceStatus,
    RescheduleMaintenance,
)
from service.maintenance import start_maintenance
from tests.conftest import Stack, make_stack, start_time_skipping
from tests.histories.saving import save_history
from tests.maintenance_support import directory_policy
from workflows.maintenance import MaintenanceWorkflow
from workflows.status_page import StatusPageWorkflow

Scenario = Callable[[Stack], Awaitable[WorkflowHandle[Any, Any]]]


async def _plan(stack: Stack, message: str) -> WorkflowHandle[Any, Any]:
    now = await stack.now()
    plan = MaintenancePlan(
        start=now + timedelta(hours=50),
        end=now + timedelta(hours=54),
        services=("Versand", "Statistik"),
        shipments_possible=True,
        message=message,
    )
    maintenance = await start_maintenance(
        stack.client,
        plan,
        policy=directory_policy(),
        now=now,
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )
    return stack.client.get_workflow_handle_for(MaintenanceWorkflow.run, maintenance)


async def _page_settled(stack: Stack, maintenance: str, state: MaintenanceStatus) -> None:
    page = stack.client.get_workflow_handle_for(StatusPageWorkflow.run, stack.status_page_id)
    for _ in range(100):
        board = await page.query(StatusPageWorkflow.board)
        if any(m.maintenance_id == maintenance and m.state is state for m in board.maintenance):
            await asyncio.sleep(0.5)  # let the render activity finish
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"status page never showed {maintenance} as {state}")


async def maintenance_rescheduled(stack: Stack) -> WorkflowHandle[Any, Any]:
    """Planned, rescheduled a day later, started and completed."""
    handle = await _plan(stack, "Datenbank-Update")
    state = await handle.query(MaintenanceWorkflow.view)
    later = state.start + timedelta(days=1)
    await handle.execute_update(
        MaintenanceWorkflow.reschedule,
        RescheduleMaintenance(start=later, end=later + timedelta(hours=3)),
    )
    # The test server ends a result() long poll after 20 s of its virtual time,
    # so the clock is moved past the end first.
    await stack.skip_to(later + timedelta(seconds=1))
    await stack.skip_to(later + timedelta(hours=3, seconds=1))
    await handle.result()
    await _page_settled(stack, handle.id, MaintenanceStatus.COMPLETED)
    return handle


async def maintenance_cancelled(stack: Stack) -> WorkflowHandle[Any, Any]:
    """Planned, then cancelled."""
    handle = await _plan(stack, "Serverumzug")
    await handle.execute_update(
        MaintenanceWorkflow.cancel, CancelMaintenance(reason="Der Umzug wird verschoben.")
    )
    await handle.result()
    await _page_settled(stack, handle.id, MaintenanceStatus.CANCELLED)
    return handle


SCENARIOS: dict[str, Scenario] = {
    "maintenance_rescheduled": maintenance_rescheduled,
    "maintenance_cancelled": maintenance_cancelled,
}


async def record() -> None:
    """Run every scenario; write ``<scenario>-maintenance.json`` and ``-status_page.json``."""
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, env, Path(data_dir))
                async with stack.worker:
                    handle = await scenario(stack)
                    page = stack.client.get_workflow_handle(stack.status_page_id)
                    for kind, recorded in (("maintenance", handle), ("status_page", page)):
                        await save_history(recorded, name, kind)
                    await page.terminate("recorded")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
