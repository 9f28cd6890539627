"""The incident workflow's own counters, on a time-skipping server whose runtime buffers metrics.

Skipped until ``workflows/incident.py`` calls ``record_incident_metrics`` (it is
wired by the engineer who owns that module); it runs by itself from then on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment

from domain.incident import Acknowledge, Escalate, ExtendEstimate, Resolve
from domain.sla import Severity
from service.connect import ensure_search_attributes
from starter import report_incident
from tests.conftest import make_stack, report
from tests.servers import installed_binary
from tests.workflows.waiting import eventually
from workflows.converter import sla_data_converter
from workflows.incident import IncidentWorkflow

ROOT = Path(__file__).resolve().parents[2]
WIRED = "record_incident_metrics(" in (ROOT / "workflows" / "incident.py").read_text("utf-8")

pytestmark = pytest.mark.skipif(
    not WIRED, reason="workflows/incident.py does not call record_incident_metrics yet"
)

Labels = tuple[tuple[str, str], ...]


@pytest.fixture
async def buffered_env() -> AsyncIterator[tuple[WorkflowEnvironment, MetricBuffer]]:
    """A time-skipping server of its own: the shared one has no metrics runtime."""
    buffer = MetricBuffer(10_000)
    env = await WorkflowEnvironment.start_time_skipping(
        runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer)),
        data_converter=sla_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    yield env, buffer
    await env.shutdown()


def sla_totals(buffer: MetricBuffer, task_queue: str) -> Counter[tuple[str, Labels]]:
    result: Counter[tuple[str, Labels]] = Counter()
    for update in buffer.retrieve_updates():
        attributes = update.attributes
        if not update.metric.name.startswith("sla_") or attributes["task_queue"] != task_queue:
            continue
        labels = tuple(
            sorted((k, str(v)) for k, v in attributes.items() if k in ("severity", "kind", "stage"))
        )
        if update.metric.name in ("sla_emails_sent",):
            labels = ()  # the e-mail kinds are not the point here
        result[(update.metric.name, labels)] += int(update.value)
    return result


async def test_incident_workflow_counts_opening_breach_and_escalations(
    buffered_env: tuple[WorkflowEnvironment, MetricBuffer], tmp_path: Path
) -> None:
    env, buffer = buffered_env
    stack = make_stack(env.client, env, tmp_path)
    async with stack.worker:
        ticket = await report_incident(
            stack.client,
            report(login_impossible=True, request_id=f"metrics-{uuid.uuid4().hex[:8]}"),
            received_at=await stack.now(),
            task_queue=stack.task_queue,
            status_page_id=stack.status_page_id,
        )
        handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
        opened = await eventually(lambda: handle.query(IncidentWorkflow.view))

        await stack.skip_to(opened.reaction_due + timedelta(minutes=1))

        async def breached() -> None:
            assert (await handle.query(IncidentWorkflow.view)).reaction_breached

        await eventually(breached)
        now = await stack.now()
        await handle.execute_update(
            IncidentWorkflow.acknowledge,
            Acknowledge(
                severity=Severity.CRITICAL,
                estimate=now + timedelta(days=3),
                estimate_reason="Hardware wird geliefert",  # after the 4 h deadline
            ),
        )
        # Replacing a live estimate fails it: stage 1.
        await handle.execute_update(
            IncidentWorkflow.extend,
            ExtendEstimate(estimate=now + timedelta(days=4), reason="Failover dauert"),
        )
        await handle.signal(IncidentWorkflow.escalate, Escalate(stage=3, reason="Hersteller"))

        async def escalated() -> None:
            assert (await handle.query(IncidentWorkflow.view)).escalation_stage == 3

        await eventually(escalated)
        await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
        await handle.result()

    totals = sla_totals(buffer, stack.task_queue)
    assert totals[("sla_incidents_opened", (("severity", "critical"),))] == 1
    assert totals[("sla_breaches", (("kind", "reaction"), ("severity", "critical")))] == 1
    assert totals[("sla_escalations", (("stage", "1"),))] == 1
    assert totals[("sla_escalations", (("stage", "3"),))] == 1
    assert totals[("sla_emails_sent", ())] >= 3  # receipt, acknowledgement, resolution …
    assert not any(name == "sla_emails_failed" for name, _ in totals)
