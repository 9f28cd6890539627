"""Record workflow histories for the replay tests: ``python -m tests.histories.record``.

Run it after a deliberate workflow change (together with ``workflow.patched``
where running workflows must keep their old path), and commit the JSON files.
Each scenario drives a workflow on the time-skipping server and saves its
history next to this file.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.incident import (
    Acknowledge,
    AmendReport,
    ClassifyAsChangeRequest,
    DecideResources,
    Escalate,
    EscalatedBy,
    ExtendEstimate,
    LinkDevTicket,
    PostStatusUpdate,
    Reclassify,
    RecordAlert,
    RecordCustomerMessage,
    Resolve,
)
from domain.report import ReportChanges
from domain.sla import Severity
from service.duplicates import link_duplicate
from service.incidents import Targets
from service.reopen import reopen_incident
from starter import report_incident
from tests.conftest import Stack, make_stack, report, start_time_skipping
from tests.histories.saving import save_history
from tests.workflows.oncall_support import terminate_settled
from workflows.incident import IncidentWorkflow

Scenario = Callable[[Stack], Awaitable[list[WorkflowHandle[Any, Any]]]]


async def _open(stack: Stack, **changes: object) -> WorkflowHandle[Any, Any]:
    ticket = await report_incident(
        stack.client,
        report(**changes),
        received_at=await stack.now(),
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )
    return stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)


async def critical_escalated(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """Critical: paged, acknowledged for all users, estimate missed twice, stage 3, resolved."""
    handle = await _open(stack)
    now = await stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(
            severity=Severity.CRITICAL,
            estimate=now + timedelta(hours=2),
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
    )
    await stack.skip_to(now + timedelta(hours=3))
    await handle.execute_update(
        IncidentWorkflow.extend,
        ExtendEstimate(estimate=now + timedelta(hours=6), reason="Datenbank-Failover dauert an"),
    )
    await stack.skip_to(now + timedelta(hours=7))
    await handle.signal(
        IncidentWorkflow.escalate,
        Escalate(stage=3, reason="Hersteller-Support nötig", by=EscalatedBy.COMPANY),
    )
    await handle.signal(
        IncidentWorkflow.decide_resources, DecideResources(decision="Zwei Entwickler abgestellt")
    )
    await handle.execute_update(
        IncidentWorkflow.post_status_update, PostStatusUpdate(message="Fehlerursache gefunden")
    )
    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Index neu aufgebaut"))
    await handle.result()
    status = stack.client.get_workflow_handle(stack.status_page_id)
    return [handle, status]


async def minor_reclassified_breached(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """Minor: reaction warning and breach, late ack as major, reclassified back, resolved."""
    handle = await _open(stack, login_impossible=False, workaround_available=True)
    await stack.skip_to(await stack.now() + timedelta(days=7))
    now = await stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(days=2)),
    )
    await handle.execute_update(
        IncidentWorkflow.reclassify,
        Reclassify(severity=Severity.MINOR, reason="Workaround bestätigt"),
    )
    await handle.execute_update(
        IncidentWorkflow.resolve, Resolve(summary="Konfiguration korrigiert")
    )
    await handle.result()
    return [handle]


async def classified_as_change_request(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """Major: a bug linked to a dev ticket, then classified as a change request (closes it)."""
    handle = await _open(stack, login_impossible=False)
    await handle.execute_update(
        IncidentWorkflow.link_dev_ticket, LinkDevTicket(title="Umlaute im Export")
    )
    await handle.execute_update(
        IncidentWorkflow.classify_as_change_request,
        ClassifyAsChangeRequest(
            title="CSV-Export der Sendungsliste", reason="Der Export fehlt; nichts ist defekt."
        ),
    )
    await handle.result()
    return [handle]


async def incomplete_amended(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """A report without phone, scope and name: amended, a customer reply, acknowledged, resolved."""
    handle = await _open(stack, login_impossible=False, phone=None, scope=None, full_name=None)
    await handle.execute_update(
        IncidentWorkflow.amend_report,
        AmendReport(
            changes=ReportChanges(phone="+49 2131 123456", full_name="Erika Mustermann"),
            source="cli",
        ),
    )
    await handle.execute_update(
        IncidentWorkflow.add_customer_message,
        RecordCustomerMessage(
            message_id="<reply-1@beispiel-versand.de>",
            sender="erika.mustermann@beispiel-versand.de",
            subject="AW: Ihre Störungsmeldung",
            text="Betrifft alle Arbeitsplätze.",
        ),
    )
    now = await stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(days=1)),
    )
    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Treiber aktualisiert"))
    await handle.result()
    return [handle]


async def monitoring_alerts(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """A monitoring alert: not public, the group fires again and resolves, confirmed, resolved."""
    handle = await _open(stack, channel="monitoring", login_impossible=False)
    await handle.execute_update(
        IncidentWorkflow.record_alert, RecordAlert(status="firing", text="2 Alarme aktiv: HostDown")
    )
    await handle.execute_update(
        IncidentWorkflow.record_alert, RecordAlert(status="resolved", text="HostDown behoben")
    )
    now = await stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=now + timedelta(hours=4),
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
    )
    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Host neu gestartet"))
    await handle.result()
    return [handle]


async def duplicate_followed(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """Two reports of one outage: linked, the duplicate follows ack, extension and resolution."""
    master = await _open(stack, login_impossible=False)
    duplicate = await _open(stack, login_impossible=False, email="max.muster@beispiel-versand.de")
    await link_duplicate(stack.client, duplicate.id, master.id)
    now = await stack.now()
    await master.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=2)),
    )
    await stack.skip_to(now + timedelta(hours=3))  # both miss the estimate
    await master.execute_update(
        IncidentWorkflow.extend,
        ExtendEstimate(estimate=now + timedelta(hours=6), reason="Dienstleister"),
    )
    await master.execute_update(IncidentWorkflow.resolve, Resolve(summary="Behoben"))
    await master.result()
    await duplicate.result()
    return [master, duplicate]


async def reopened(stack: Stack) -> list[WorkflowHandle[Any, Any]]:
    """Resolved, reopened by an operator (a second run, same ticket), acknowledged, resolved."""
    handle = await _open(stack, login_impossible=False)
    now = await stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=4)),
    )
    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="Dienst neu gestartet"))
    await handle.result()
    first = stack.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    await reopen_incident(
        stack.client,
        handle.id,
        reason="Fehler tritt erneut auf",
        by="ops",
        targets=Targets(task_queue=stack.task_queue, status_page_id=stack.status_page_id),
        now=await stack.now(),
        archive=None,
    )
    second = stack.client.get_workflow_handle_for(IncidentWorkflow.run, handle.id)
    now = await stack.now()
    await second.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=4)),
    )
    await second.execute_update(IncidentWorkflow.resolve, Resolve(summary="Speicher erweitert"))
    await second.result()
    run = (await second.describe()).run_id
    return [first, stack.client.get_workflow_handle(handle.id, run_id=run)]


SCENARIOS: dict[str, Scenario] = {
    "critical_escalated": critical_escalated,
    "minor_reclassified_breached": minor_reclassified_breached,
    "classified_as_change_request": classified_as_change_request,
    "incomplete_amended": incomplete_amended,
    "monitoring_alerts": monitoring_alerts,
    "duplicate_followed": duplicate_followed,
    "reopened": reopened,
}


async def record(only: Sequence[str] = ()) -> None:
    """Run every scenario (or those named in ``only``) and write ``<scenario>-<workflow>.json``."""
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            if only and name not in only:
                continue
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, env, Path(data_dir))
                async with stack.worker:
                    handles = await scenario(stack)
                    for index, handle in enumerate(handles):
                        kind = (
                            "status_page"
                            if handle.id == stack.status_page_id
                            else "incident"
                            if index == 0
                            else "reopened_run"
                            if handle.id == handles[0].id
                            else "duplicate"
                        )
                        await save_history(handle, name, kind)
                    # The status page runs on with a timer; left on a task queue
                    # nobody polls, it stops the server from skipping time for
                    # the next scenario ("Timeout expired" in its first skip).
                    await terminate_settled(env.client, [stack.status_page_id])
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
