"""Planning maintenance from the client side: validate against the notice period, then start.

``sla maintenance plan`` (and any tool that plans windows) calls
:func:`start_maintenance`; the workflow then announces, posts and follows the
window (:mod:`workflows.maintenance`). :func:`open_overrun_incident` is the
intake the worker gives the maintenance activities for a window that ran into
business hours.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from activities.maintenance import OverrunIncidentOpened, OverrunIncidentRequest
from domain.maintenance import MaintenancePlan, MaintenanceStatus, check_plan, maintenance_id
from domain.report import IncidentReport
from domain.sla import SlaPolicy
from service.incidents import open_incident
from workflows import names
from workflows.maintenance import MaintenanceInput, MaintenanceWorkflow, visibility_memo


async def start_maintenance(
    client: Client,
    plan: MaintenancePlan,
    *,
    policy: SlaPolicy,
    now: datetime,
    task_queue: str = names.TASK_QUEUE,
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID,
) -> str:
    """Validate ``plan`` against ``now`` and start its workflow; returns the ID.

    Validation happens here, before anything starts (DESIGN §3: a start the
    workflow would refuse is better refused to the operator). Planning the very
    same maintenance again returns the same ID without a second announcement.

    Raises:
        DomainError: The plan is refused (no services, reversed window, too
            little notice).
    """
    check_plan(plan, now, policy.maintenance)
    workflow_id = maintenance_id(plan, policy.calendar_spec.timezone)
    await client.start_workflow(
        MaintenanceWorkflow.run,
        MaintenanceInput(
            maintenance_id=workflow_id,
            plan=plan,
            planned_at=now,
            policy=policy,
            status_page_id=status_page_id,
            archive_feed=True,
        ),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.WINDOW_START, plan.start),
                SearchAttributePair(names.LIFECYCLE_STATE, MaintenanceStatus.PLANNED.value),
            ]
        ),
        memo=visibility_memo(plan.end, plan.services, plan.message),
        static_summary=f"maintenance {', '.join(plan.services)}",
    )
    return workflow_id


OVERRUN_SOURCE = "maintenance"
"""The intake source recorded on overrun incidents."""


async def open_overrun_incident(
    client: Client, report: IncidentReport, request: OverrunIncidentRequest
) -> OverrunIncidentOpened:
    """Open the incident of an overrunning maintenance through intake (idempotent).

    Received at the overrun instant, so a retry on another day still derives
    the same ticket; published on the status page at once (all users are
    locked out, which the engine knows first-hand).

    Raises:
        IntakeError: The report is refused; nothing was started.
    """
    received_at = request.maintenance.overran_at
    opened = await open_incident(
        client,
        report,
        policy=request.policy,
        received_at=received_at,
        task_queue=request.task_queue,
        status_page_id=request.status_page_id,
        source=OVERRUN_SOURCE,
        publish_unconfirmed=True,
    )
    return OverrunIncidentOpened(ticket_id=opened.ticket_id, created=opened.created)
