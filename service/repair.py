"""Recovering workflows stuck on a replay divergence: find the reset point, reset, go on.

Why workflows get stuck (docs/RELIABILITY.md, "Nondeterminism after a worker
kill"; sdk-python #1591): when a timer fires and an update arrives while no
worker holds the workflow, the worker that picks the task up may run them
live in two activations (the timer first), while a replay runs them in one and
accepts the update first. The update's acceptance then sits in another place
than the history recorded, and every later replay of that task fails with a
``[TMPRL1100] Nondeterminism error``. Workflow code cannot move where the SDK
places an update's acceptance, so the engine repairs instead.

The repair resets the workflow to the start of the workflow task that recorded
the divergence: the history before it replays cleanly, that task runs again,
and the updates and signals that arrived after it are re-applied by Temporal.
E-mails keep their Message-IDs, so a receiver drops any sent again.

* :func:`first_divergence` finds that task by replaying the history with the
  current code (:func:`reset_point` reads it from the failure message alone);
* :func:`repair` resets one workflow (``sla repair TICKET``);
* :func:`repair_stuck` finds every running workflow whose tasks fail on
  nondeterminism (visibility: ``TemporalReportedProblems``) and repairs it —
  the worker runs it every minute (``SLA_AUTO_REPAIR``, on by default), so an
  incident goes on by itself, with a warning in the worker's log.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.common import SearchAttributeKey
from temporalio.worker import Replayer

from service.visibility import Query, executions
from workflows.converter import sla_data_converter
from workflows.sandbox import workflow_runner

log = logging.getLogger("sla.repair")

_NONDETERMINISM = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
_DIVERGING_EVENT = re.compile(r"Nondeterminism error:.*?HistoryEvent\(id: (\d+)")

_RECORDED_BY_COMMANDS = frozenset(
    {
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    }
)
"""Events a completed workflow task's commands record right after it."""

REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")
"""The server's own search attribute naming why a workflow's tasks keep failing."""
NONDETERMINISTIC = "cause=WorkflowTaskFailedCauseNonDeterministicError"


@dataclass(frozen=True)
class Repaired:
    """One reset: the workflow, the event it was reset to, and its new run."""

    workflow_id: str
    reset_to_event: int
    run_id: str


def _nondeterminism_failures(events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    return [
        e
        for e in events
        if e.HasField("workflow_task_failed_event_attributes")
        and e.workflow_task_failed_event_attributes.cause == _NONDETERMINISM
    ]


def _tasks(events: Sequence[HistoryEvent]) -> list[tuple[int, int]]:
    """``(started_event_id, completed_event_id)`` of every completed workflow task.

    The started event is the last ``WorkflowTaskStarted`` before the completion
    (some servers leave the completion's ``started_event_id`` unset).
    """
    tasks: list[tuple[int, int]] = []
    started = 0
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started = event.event_id
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started:
            tasks.append((started, event.event_id))
    return tasks


def reset_point(history: WorkflowHistory) -> int | None:
    """The ``WorkflowTaskStarted`` event to reset to, or ``None`` if there is no divergence.

    That is the start of the workflow task whose completion recorded the first
    event the replay no longer matches (named in the latest nondeterminism
    failure of the history). When the failure names no event (e.g. ``Missing
    associated machine for LocalActivity``), it is the start of the run's first
    workflow task, the one point certainly before the divergence. Read from
    the history alone; :func:`first_divergence` finds the point by replaying.
    """
    events = list(history.events)
    failures = _nondeterminism_failures(events)
    if not failures:
        return None
    found = _DIVERGING_EVENT.search(
        failures[-1].workflow_task_failed_event_attributes.failure.message
    )
    diverging = int(found.group(1)) if found else None
    tasks = [
        started
        for started, completed in _tasks(events)
        if diverging is None or completed < diverging
    ]
    if not tasks:
        return None
    return tasks[-1] if diverging is not None else tasks[0]


async def first_divergence(history: WorkflowHistory, workflows: Sequence[type]) -> int | None:
    """The ``WorkflowTaskStarted`` event of the first task the current code does not replay.

    Found by replaying: the whole history first, then, if that fails, growing
    prefixes ending after each completed task's recorded events. A failure
    message does not always name the event (``Missing associated machine for
    LocalActivity``), and the first divergence may lie before the task that
    failed live (a worker kept the workflow cached past it).

    Returns:
        ``None`` when the history replays (not stuck on a divergence).
    """
    events = list(history.events)
    if await _replays(history.workflow_id, events, workflows):
        return None
    position = {event.event_id: n for n, event in enumerate(events)}
    for started, completed in _tasks(events):
        # The task and the events its commands recorded, nothing that came
        # after (a timer that fired later would be replayed with this task's
        # time: a stale clock, not a divergence).
        end = position[completed] + 1
        while end < len(events) and events[end].event_type in _RECORDED_BY_COMMANDS:
            end += 1
        if not await _replays(history.workflow_id, events[:end], workflows):
            return started
    return None


async def _replays(workflow_id: str, events: list[HistoryEvent], workflows: Sequence[type]) -> bool:
    replayer = Replayer(
        workflows=list(workflows),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(
        WorkflowHistory(workflow_id, events), raise_on_replay_failure=False
    )
    return result.replay_failure is None


async def repair(
    client: Client,
    workflow_id: str,
    *,
    reason: str,
    workflows: Sequence[type],
    only_if_reproduced: bool = False,
) -> Repaired | None:
    """Reset ``workflow_id`` to its first divergence; ``None`` when it is not stuck.

    Args:
        client: Temporal client.
        workflow_id: The stuck workflow.
        reason: Recorded with the reset.
        workflows: The workflow classes the workers run (the replay needs them).
        only_if_reproduced: Reset only when this code's replay fails too. When
            it replays, the failing worker runs other code (a deploy in
            progress, a faulty build): an operator decides, not the engine.
            Without it the point comes from the failure message
            (:func:`reset_point`) then.
    """
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    if not _nondeterminism_failures(list(history.events)):
        return None
    point = await first_divergence(history, workflows)
    if point is None and not only_if_reproduced:
        point = reset_point(history)
    if point is None:
        return None
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            reason=f"{reason}: replay divergence, reset to event {point}",
            workflow_task_finish_event_id=point,
            request_id=str(uuid.uuid4()),
        )
    )
    return Repaired(workflow_id, point, response.run_id)


def stuck_query(task_queue: str | None = None) -> Query:
    """Running workflows whose tasks fail on nondeterminism (visibility)."""
    return Query().running().where(REPORTED_PROBLEMS, NONDETERMINISTIC).on_task_queue(task_queue)


async def repair_stuck(
    client: Client, workflows: Sequence[type], *, task_queue: str | None = None
) -> list[Repaired]:
    """Repair every running workflow whose tasks fail on a replay divergence."""
    repaired: list[Repaired] = []
    async for execution in executions(client, stuck_query(task_queue)):
        result = await repair(
            client,
            execution.id,
            reason="automatic repair",
            workflows=workflows,
            only_if_reproduced=True,
        )
        if result is not None:
            log.warning(
                "%s was stuck on a replay divergence: reset to event %d (run %s)",
                result.workflow_id,
                result.reset_to_event,
                result.run_id,
            )
            repaired.append(result)
    return repaired
