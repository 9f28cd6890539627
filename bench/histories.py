"""Reading workflow histories: event-type histograms and Temporal Cloud billable actions.

Counting rule for billable actions (Temporal Cloud, "Temporal Cloud Actions",
https://docs.temporal.io/cloud/actions), applied to one run's event history:

======================================  =====================================================
history event                           actions
======================================  =====================================================
WorkflowExecutionStarted                1 (client start, continue-as-new; start-time search
                                        attributes are included, not counted separately)
TimerStarted                            1 each (also the SDK's implicit timers, e.g.
                                        ``workflow.wait_condition(..., timeout=...)``)
ActivityTaskScheduled                   1 per attempt: the attempt number of its
                                        ActivityTaskStarted (1 when never started)
MarkerRecorded (local activity)         1 per workflow task that recorded any local-activity
                                        marker ("all Local Activities associated with one
                                        Workflow Task count as a single Action")
UpsertWorkflowSearchAttributes          1 per command, however many attributes it sets
WorkflowExecutionSignaled               1 (the signal is counted where it arrives)
WorkflowExecutionUpdateAccepted         1 (rejected updates are billed too but leave no
                                        history; this benchmark sends none)
StartChildWorkflowExecutionInitiated    2 (start + execution)
WorkflowExecutionOptionsUpdated         1
======================================  =====================================================

Not in history, hence not counted: queries (the benchmark sends none), activity
heartbeats (none of our activities heartbeats), workflow-task heartbeats of long
local activities, schedules, exports. Patch markers are not actions.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"

ACTION_KINDS: tuple[str, ...] = (
    "workflow started",
    "timer started",
    "activity started or retried",
    "local activities (per workflow task)",
    "search attribute upsert",
    "signal received",
    "update accepted",
    "child workflow started",
    "workflow options updated",
)


def event_type_name(event: HistoryEvent) -> str:
    """``WorkflowExecutionStarted`` style name of an event's type."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def describe(event: HistoryEvent) -> str:
    """The event's type name with what it is about (activity type, update name, keys)."""
    name = event_type_name(event)
    kind = event.event_type
    detail = ""
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        detail = event.activity_task_scheduled_event_attributes.activity_type.name
    elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        accepted = event.workflow_execution_update_accepted_event_attributes
        detail = accepted.accepted_request.input.name
    elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        detail = " ".join(sorted(fields.indexed_fields))
    elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
        marker = event.marker_recorded_event_attributes
        detail = marker.marker_name
        data = marker.details.get("data")
        if data is not None and data.payloads:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                decoded = json.loads(data.payloads[0].data)
                if isinstance(decoded, dict) and "activity_type" in decoded:
                    detail = str(decoded["activity_type"])
    return f"{name}({detail})" if detail else name


def histogram(events: Iterable[HistoryEvent]) -> Counter[str]:
    """How many events of each type."""
    return Counter(event_type_name(e) for e in events)


def billable_actions(events: Sequence[HistoryEvent]) -> Counter[str]:
    """Billable actions of one run's history, by kind (see the module docstring)."""
    actions: Counter[str] = Counter()
    local_activity_tasks: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            actions["workflow started"] += 1
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            actions["timer started"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            actions["activity started or retried"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            retries = event.activity_task_started_event_attributes.attempt - 1
            actions["activity started or retried"] += max(retries, 0)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            attributes = event.marker_recorded_event_attributes
            if attributes.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activity_tasks.add(attributes.workflow_task_completed_event_id)
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            actions["search attribute upsert"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            actions["signal received"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            actions["update accepted"] += 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            actions["child workflow started"] += 2
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
            actions["workflow options updated"] += 1
    if local_activity_tasks:
        actions["local activities (per workflow task)"] = len(local_activity_tasks)
    return actions


def typical(histograms: Sequence[Counter[str]]) -> tuple[Counter[str], int]:
    """The most common histogram among ``histograms`` and how many distinct shapes there are."""
    shapes = Counter(tuple(sorted(h.items())) for h in histograms)
    shape, _ = shapes.most_common(1)[0]
    return Counter(dict(shape)), len(shapes)


def mean_max(values: Sequence[int]) -> tuple[float, int]:
    """Mean and maximum of ``values``."""
    return statistics.fmean(values), max(values)
