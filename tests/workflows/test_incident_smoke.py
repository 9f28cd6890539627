"""A first full lifecycle through the time-skipping server."""

from __future__ import annotations

from datetime import timedelta

from domain.incident import Acknowledge, IncidentStatus, Resolve
from domain.sla import Severity, SlaPolicy
from starter import report_incident
from tests.conftest import Stack, report
from workflows.incident import IncidentWorkflow


async def test_major_incident_from_report_to_resolution(stack: Stack) -> None:
    policy = SlaPolicy.default()
    received = await stack.now()
    ticket = await report_incident(
        stack.client,
        report(login_impossible=False),
        received_at=received,
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )
    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    deadlines = policy.deadlines(Severity.MAJOR, received)

    view = await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=received + timedelta(days=2)),
    )
    assert view.status is IncidentStatus.ACKNOWLEDGED
    assert view.reaction_due == deadlines.reaction_due
    assert view.resolution_due == deadlines.resolution_due

    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Zertifikat erneuert"))
    outcome = await handle.result()
    assert outcome.status is IncidentStatus.RESOLVED
    assert outcome.reaction_met is True
    assert outcome.resolution_met is True
    kinds = [m["X-SLA-Kind"] for m in stack.emails()]
    assert kinds.count("receipt") == 1
    assert kinds.count("acknowledgement") == 1
    assert kinds.count("resolution") == 1
