"""A closed incident is read from its result: no worker and no replay needed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from domain.incident import Acknowledge, Resolve
from domain.sla import Severity
from service.queries import incident_view
from tests.conftest import make_stack
from tests.workflows.test_incident_workflow import event_types, harness_for
from tests.workflows.waiting import settled
from workflows.incident import IncidentWorkflow


async def test_a_resolved_incident_reads_from_its_result_after_every_worker_stopped(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker, harness_for(stack) as h:
        incident = await h.report(login_impossible=False)
        await settled(incident.handle)
        running = await incident_view(stack.client, incident.ticket)  # by query
        assert event_types(running) == ["reported"]
        await incident.handle.execute_update(
            IncidentWorkflow.acknowledge,
            Acknowledge(severity=Severity.MAJOR, estimate=incident.received + timedelta(hours=4)),
        )
        await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="ok"))
        result = await incident.handle.result()
        live = await incident.view()

    # The worker is gone: a query could not be answered, the result still is.
    closed = await incident_view(stack.client, incident.ticket)
    assert closed == live
    assert result.view == live
    assert event_types(closed) == ["reported", "acknowledged", "resolved"]
    assert result.resolution_met is True
