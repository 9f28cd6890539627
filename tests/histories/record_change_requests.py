"""Record change request histories for the replay tests.

``python -m tests.histories.record_change_requests`` (next to ``record.py``,
which records the incident and status page scenarios). Run it after a
deliberate change of ``ChangeRequestWorkflow`` or ``LinkBugWorkflow`` and
commit the JSON files.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.dev_tickets import IncidentLink
from domain.change_request import Decline, Discuss, PlanRelease
from service.change_requests import submit_change_request
from service.connect import ensure_search_attributes
from tests.conftest import Stack, make_stack
from tests.servers import installed_binary
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow
from workflows.converter import sla_data_converter

HERE = Path(__file__).parent
Scenario = Callable[[Stack], Awaitable[WorkflowHandle[Any, Any]]]

REQUEST = {
    "company": "Beispiel Versand GmbH",
    "full_name": "Erika Mustermann",
    "email": "erika.mustermann@beispiel-versand.de",
    "title": "CSV-Export der Sendungsliste",
    "description": "Wir möchten die Sendungsliste als CSV-Datei exportieren.",
}


async def _submit(stack: Stack, request_id: str) -> WorkflowHandle[Any, Any]:
    receipt = await submit_change_request(
        stack.client, {**REQUEST, "request_id": request_id}, task_queue=stack.task_queue
    )
    return stack.client.get_workflow_handle_for(
        ChangeRequestWorkflow.run, receipt.change_request_id
    )


async def change_request_planned(stack: Stack) -> WorkflowHandle[Any, Any]:
    """Submitted, discussed twice, planned."""
    handle = await _submit(stack, "portal-recorded-planned")
    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen das."))
    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Machbar."))
    await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
    await handle.result()
    return handle


async def change_request_declined(stack: Stack) -> WorkflowHandle[Any, Any]:
    """Submitted, discussed, declined."""
    handle = await _submit(stack, "portal-recorded-declined")
    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen das."))
    await handle.execute_update(ChangeRequestWorkflow.decline, Decline(reason="Passt nicht."))
    await handle.result()
    return handle


async def bug_linked(stack: Stack) -> WorkflowHandle[Any, Any]:
    """An incident linked to a new bug ticket."""
    handle = await stack.client.start_workflow(
        LinkBugWorkflow.run,
        IncidentLink(ticket_id="INC-20261124-AAAAAA", title="Export bricht bei Umlauten ab"),
        id="link-bug.INC-20261124-AAAAAA.new",
        task_queue=stack.task_queue,
    )
    await handle.result()
    return handle


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "change_request_planned": ("change_request", change_request_planned),
    "change_request_declined": ("change_request", change_request_declined),
    "bug_linked": ("link_bug", bug_linked),
}


async def record() -> None:
    """Run every scenario and write ``<scenario>-<workflow>.json`` histories."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=sla_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    try:
        await ensure_search_attributes(env.client)
        for name, (kind, scenario) in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, env, Path(data_dir))
                async with stack.worker:
                    handle = await scenario(stack)
                    history = await handle.fetch_history()
                    path = HERE / f"{name}-{kind}.json"
                    path.write_text(history.to_json(), "utf-8")
                    print(f"recorded {path.name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
