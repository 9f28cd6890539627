"""A missed estimate that an operator command overtakes still gets its new-estimate deadline.

On the dev server (real clock): the worker is away while the estimate passes,
and the operator's command (here an escalation) is waiting when a worker comes
back, in the same workflow task as the estimate's timer. Whichever of the two
the workflow sees first, the miss is recorded once, with the business-time
deadline for the new estimate (rules 3) — not without one, as when the domain
caught it up on its own.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.incident import Acknowledge, Escalate, EstimateMissed
from domain.read_model import IncidentView
from domain.sla import Severity
from starter import report_incident
from tests.conftest import make_stack, report
from tests.workflows.waiting import eventually
from workflows.incident import IncidentWorkflow


@pytest.mark.timeout(120)
async def test_a_miss_overtaken_by_a_command_gets_its_new_estimate_deadline(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(dev_env.client, None, tmp_path / "first")
    async with stack.worker:
        ticket = await report_incident(
            stack.client,
            report(login_impossible=False),
            task_queue=stack.task_queue,
            status_page_id=stack.status_page_id,
        )
        handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
        estimate = datetime.now(UTC) + timedelta(seconds=3)
        await handle.execute_update(
            IncidentWorkflow.acknowledge, Acknowledge(severity=Severity.MAJOR, estimate=estimate)
        )
    try:
        # No worker: the estimate passes, and the operator's command waits for one.
        await asyncio.sleep(4)
        await handle.signal(
            IncidentWorkflow.escalate, Escalate(stage=3, reason="Kunde verlangt Geschäftsführung")
        )
        back = make_stack(dev_env.client, None, tmp_path / "back", task_queue=stack.task_queue)
        async with back.worker:

            async def escalated() -> IncidentView:
                view = await handle.query(IncidentWorkflow.view)
                assert view.escalation_stage == 3
                return view

            view = await eventually(escalated)
            missed = [e for e in view.events if isinstance(e, EstimateMissed)]
            assert len(missed) == 1, [e.type for e in view.events]
            assert missed[0].reestimate_due is not None
            assert missed[0].reestimate_due > missed[0].at
            await handle.terminate("test over")
    finally:
        with suppress(RPCError):
            await handle.terminate("test over")
