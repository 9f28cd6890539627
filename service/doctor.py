"""What `sla doctor` checks: the setup the engine needs, and workflows that do not move.

Each check answers with a :class:`Check` (ok or not, and what to do about it).
Stuck workflows are those the server flags after failed workflow tasks
(``TemporalReportedProblems``), with the reason from their last failed task —
e.g. a replay divergence, which the workers' repair pass resets by itself
(``service/repair.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from service.audit_schedules import describe_audit_schedules
from service.repair import stuck_query
from service.visibility import executions
from workflows.names import SEARCH_ATTRIBUTES


@dataclass(frozen=True)
class Check:
    """One finding: ``ok``, what was checked, and what to do when it is not ok."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Stuck:
    """A running workflow whose tasks keep failing, and the last failure's message."""

    workflow_id: str
    workflow_type: str
    reason: str


async def search_attributes(client: Client) -> Check:
    """Every custom search attribute of ``workflows/names.py`` is registered."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    known = set(response.custom_attributes) | set(response.system_attributes)
    missing = sorted(k.name for k in SEARCH_ATTRIBUTES if k.name not in known)
    if missing:
        return Check(
            "search attributes",
            False,
            f"missing {', '.join(missing)}: start a worker (it registers them) or run the "
            "registration job",
        )
    return Check("search attributes", True, f"{len(SEARCH_ATTRIBUTES)} registered")


async def audit_schedules(client: Client) -> Check:
    """The daily and weekly audit schedules exist (and whether one is paused)."""
    statuses = await describe_audit_schedules(client)
    missing = [s.schedule_id for s in statuses if not s.exists]
    if missing:
        return Check(
            "audit schedules",
            False,
            f"missing {', '.join(missing)}: start a worker (it applies them) or `sla schedules "
            "apply`",
        )
    paused = [s.schedule_id for s in statuses if s.paused]
    detail = "daily and weekly applied" + (f"; paused: {', '.join(paused)}" if paused else "")
    return Check("audit schedules", True, detail)


async def stuck_workflows(client: Client, *, limit: int = 100) -> list[Stuck]:
    """Running workflows the server flags as failing their tasks, with the last reason."""
    found: list[Stuck] = []
    async for execution in executions(client, stuck_query(), limit):
        reason = "workflow tasks keep failing"
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                message = event.workflow_task_failed_event_attributes.failure.message
                reason = message.splitlines()[0][:300] if message else reason
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                reason = "workflow task timed out (no worker answered in time)"
        found.append(Stuck(execution.id, execution.workflow_type, reason))
    return found
