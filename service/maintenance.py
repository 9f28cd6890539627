"""Planning maintenance from the client side: validate against the notice period, then start.

``sla maintenance plan`` (and any tool that plans windows) calls
:func:`start_maintenance`; the workflow then announces, posts and follows the
window (:mod:`workflows.maintenance`).
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from domain.maintenance import MaintenancePlan, MaintenanceStatus, check_plan, maintenance_id
from domain.sla import SlaPolicy
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
