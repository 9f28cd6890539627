"""``sla repair TICKET``: recover an incident whose workflow task fails on a replay divergence.

After a worker crash the SDK can rebuild a workflow for a query in a way that a
later replay does not repeat (docs/RELIABILITY.md, "Nondeterminism after a
worker kill"). The incident's workflow task then fails on every retry with a
``[TMPRL1100] Nondeterminism error`` naming the first history event that no
longer matches. Nothing is lost, but the incident stops moving.

The repair resets the workflow to the start of the workflow task that recorded
that event: the history before it replays cleanly, that task runs again with
the current code, and the signals and updates that arrived after it are
re-applied by Temporal. E-mails that were already sent keep their Message-IDs,
so a receiver deduplicates any that are sent again.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import typer
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowHistory

from cli.common import CliError, JsonOption, client, print_json, run

_NONDETERMINISM = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
_DIVERGING_EVENT = re.compile(r"Nondeterminism error:.*?HistoryEvent\(id: (\d+)")


def reset_point(history: WorkflowHistory) -> int | None:
    """The ``WorkflowTaskStarted`` event to reset to, or ``None`` if there is no divergence.

    That is the start of the workflow task whose completion recorded the first
    event the replay no longer matches (named in the latest nondeterminism
    failure of the history). Some nondeterminism failures name no event (e.g.
    ``Non-deprecated patch marker encountered for change …``, after a rollback
    past a ``workflow.patched`` call); then it is the start of the run's first
    workflow task, the one point certainly before the divergence.
    """
    stuck = False
    diverging: int | None = None
    for event in history.events:
        if not event.HasField("workflow_task_failed_event_attributes"):
            continue
        failed = event.workflow_task_failed_event_attributes
        if failed.cause != _NONDETERMINISM:
            continue
        stuck = True
        found = _DIVERGING_EVENT.search(failed.failure.message)
        diverging = int(found.group(1)) if found else None
    if not stuck:
        return None
    recorded_by = [
        event.workflow_task_completed_event_attributes.started_event_id
        for event in history.events
        if (diverging is None or event.event_id < diverging)
        and event.HasField("workflow_task_completed_event_attributes")
    ]
    if not recorded_by:
        return None
    return recorded_by[0] if diverging is None else recorded_by[-1]


def repair(
    ticket_id: Annotated[str, typer.Argument(help="The stuck incident's ticket ID.")],
    as_json: JsonOption = False,
) -> None:
    """Reset an incident stuck on a replay divergence (after a worker crash) and let it go on."""

    async def body() -> tuple[int, str]:
        c = await client()
        history = await c.get_workflow_handle(ticket_id).fetch_history()
        point = reset_point(history)
        if point is None:
            raise CliError(f"{ticket_id} is not stuck on a replay divergence; nothing to repair")
        response = await c.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=c.namespace,
                workflow_execution=WorkflowExecution(workflow_id=ticket_id),
                reason=f"sla repair: replay divergence, reset to event {point}",
                workflow_task_finish_event_id=point,
                request_id=str(uuid.uuid4()),
            )
        )
        return point, response.run_id

    point, run_id = run(body, ticket_id=ticket_id)
    if as_json:
        print_json({"ticket_id": ticket_id, "reset_to_event": point, "run_id": run_id})
    else:
        print(f"{ticket_id}: reset to event {point}; it continues as run {run_id}")
