"""Record change request histories for the replay tests.

``python -m tests.histories.record_change_requests`` (next to ``record.py``,
which records the incident and status page scenarios). Run it after a
deliberate change of ``ChangeRequestWorkflow`` or ``LinkBugWorkflow`` and
commit the JSON files. Also records the ``sla dev-ticket`` workflows
(read, transition, the reporters' release mails).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from activities.dev_tickets import IncidentLink, NewDevTicket, SqliteDevTicketTracker
from domain.change_request import Decline, Discuss, PlanRelease
from domain.dev_ticket import DevTicketKind, DevTicketStatus, IncidentContact
from domain.sla import Severity
from service.change_requests import submit_change_request
from tests.conftest import Stack, make_stack, start_time_skipping
from tests.histories.saving import save_history
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow
from workflows.dev_ticket import (
    DevTicketMove,
    DevTicketRead,
    ReadDevTicketsWorkflow,
    TransitionDevTicketWorkflow,
)

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


ERIKA = IncidentContact(
    email="erika.mustermann@beispiel-versand.de",
    name="Erika Mustermann",
    company="Beispiel Versand GmbH",
    severity=Severity.CRITICAL,
)


async def bug_linked(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A resolved incident linked to a new bug ticket; its reporter is told the DEV ID."""
    handle = await stack.client.start_workflow(
        LinkBugWorkflow.run,
        IncidentLink(
            ticket_id="INC-20261124-AAAAAA", title="Export bricht bei Umlauten ab", contact=ERIKA
        ),
        id="link-bug.INC-20261124-AAAAAA.new",
        task_queue=stack.task_queue,
    )
    await handle.result()
    return handle


async def _released(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A bug of two incidents moved to fixed, then released (the reporters are told)."""
    tracker = SqliteDevTicketTracker.in_data_dir(stack.data_dir)
    bug = await tracker.create(
        NewDevTicket(key="bug:INC-20261124-AAAAAA", kind=DevTicketKind.BUG, title="Umlaute")
    )
    await tracker.link(bug.id, "INC-20261124-AAAAAA", ERIKA)
    await tracker.link(bug.id, "INC-20261124-BBBBBB", IncidentContact(email="max@beispiel.de"))
    await tracker.link(bug.id, "INC-20261124-CCCCCC")
    for status, release in ((DevTicketStatus.FIXED, None), (DevTicketStatus.RELEASED, "2027.1")):
        handle = await stack.client.start_workflow(
            TransitionDevTicketWorkflow.run,
            DevTicketMove(dev_ticket_id=bug.id, status=status, release=release),
            id=f"dev-ticket.{bug.id}.{status.value}.recorded",
            task_queue=stack.task_queue,
        )
        moved = await handle.result()
    if moved.notification_workflow is not None:
        await stack.client.get_workflow_handle(moved.notification_workflow).result()
    return handle


async def bug_released(stack: Stack) -> WorkflowHandle[Any, Any]:
    """The release move of :func:`_released`."""
    return await _released(stack)


async def bug_release_notified(stack: Stack) -> WorkflowHandle[Any, Any]:
    """The reporters' mails of :func:`_released`."""
    handle = await _released(stack)
    moved = await handle.result()
    assert moved.notification_workflow is not None
    return stack.client.get_workflow_handle(moved.notification_workflow)


async def dev_tickets_read(stack: Stack) -> WorkflowHandle[Any, Any]:
    """``sla dev-ticket list --kind bug``."""
    tracker = SqliteDevTicketTracker.in_data_dir(stack.data_dir)
    await tracker.create(NewDevTicket(key="bug:INC-1", kind=DevTicketKind.BUG, title="Umlaute"))
    handle = await stack.client.start_workflow(
        ReadDevTicketsWorkflow.run,
        DevTicketRead(kind=DevTicketKind.BUG),
        id="dev-ticket-read.recorded",
        task_queue=stack.task_queue,
    )
    await handle.result()
    return handle


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "change_request_planned": ("change_request", change_request_planned),
    "change_request_declined": ("change_request", change_request_declined),
    "bug_linked": ("link_bug", bug_linked),
    "bug_released": ("transition_dev_ticket", bug_released),
    "bug_release_notified": ("notify_reporters", bug_release_notified),
    "dev_tickets_read": ("read_dev_tickets", dev_tickets_read),
}


async def record() -> None:
    """Run every scenario and write ``<scenario>-<workflow>.json`` histories."""
    env = await start_time_skipping()
    try:
        for name, (kind, scenario) in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, env, Path(data_dir))
                async with stack.worker:
                    handle = await scenario(stack)
                    await save_history(handle, name, kind)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
