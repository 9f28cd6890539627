"""Incident metrics from domain events: opened incidents, SLA breaches, escalations.

The incident workflow calls :func:`record_incident_metrics` with the events of
each decision. Counting happens in workflow code on purpose: the meter from
``workflow.metric_meter()`` is replay-safe (the SDK drops every increment while
a workflow replays its history), so a worker restart or a cache eviction does
not count an incident twice. A metric is not a command, so calling this adds
nothing to the history and cannot make a replay nondeterministic.

Every counter carries the SDK's ``namespace``, ``task_queue`` and
``workflow_type`` attributes besides the ones listed here (docs/OBSERVABILITY.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from temporalio import workflow
from temporalio.common import MetricMeter

with workflow.unsafe.imports_passed_through():
    from domain.events import (
        Acknowledged,
        Escalated,
        Event,
        IncidentReported,
        ReactionBreached,
        Reclassified,
        ResolutionBreached,
    )
    from domain.sla import Severity

INCIDENTS_OPENED = "sla_incidents_opened"
BREACHES = "sla_breaches"
ESCALATIONS = "sla_escalations"

DESCRIPTIONS: Mapping[str, str] = {
    INCIDENTS_OPENED: "Incidents opened, by the severity at opening (the suggested one)",
    BREACHES: "SLA deadlines missed, by kind (reaction/resolution) and severity at the breach",
    ESCALATIONS: "Escalation stages reached, by stage (1, 2, 3, extended)",
}
"""Help text of each incident counter, as Prometheus shows it."""

UNKNOWN_SEVERITY = "unknown"
"""Severity label of a breach whose severity is not known (cannot happen in a folded incident)."""


@dataclass(frozen=True)
class Increment:
    """One counter increment: metric name and its label values."""

    name: str
    attributes: Mapping[str, str]


def incident_metric_increments(
    events: Sequence[Event], *, severity: Severity | None = None
) -> Iterator[Increment]:
    """The counter increments that ``events`` stand for, in event order.

    Args:
        events: The events of one decision, oldest first.
        severity: The incident's severity before these events (``None`` before
            it is opened). Breaches are labelled with the severity in force when
            they happen, so classification events in ``events`` update it.

    Yields:
        One :class:`Increment` per counted event.
    """
    current = severity.value if severity is not None else None
    for event in events:
        match event:
            case IncidentReported():
                current = event.severity.value
                yield Increment(INCIDENTS_OPENED, {"severity": current})
            case Acknowledged() | Reclassified():
                current = event.severity.value
            case ReactionBreached():
                yield Increment(
                    BREACHES, {"kind": "reaction", "severity": current or UNKNOWN_SEVERITY}
                )
            case ResolutionBreached():
                yield Increment(
                    BREACHES, {"kind": "resolution", "severity": current or UNKNOWN_SEVERITY}
                )
            case Escalated():
                yield Increment(ESCALATIONS, {"stage": str(event.stage)})
            case _:
                pass


def record_incident_metrics(
    events: Sequence[Event],
    *,
    severity: Severity | None = None,
    meter: MetricMeter | None = None,
) -> None:
    """Count the incidents opened, breaches and escalations among ``events``.

    Call it once per decision, with the events that are folded into the state
    (not with events a validator only tried), before folding them.

    Args:
        events: The events of one decision, oldest first.
        severity: The incident's severity before these events (``None`` while
            opening); see :func:`incident_metric_increments`.
        meter: Where to count; default ``workflow.metric_meter()``, so only
            pass one outside a workflow (tests).
    """
    increments = list(incident_metric_increments(events, severity=severity))
    if not increments:
        return
    if meter is None:
        meter = workflow.metric_meter()
    for increment in increments:
        counter = meter.create_counter(increment.name, DESCRIPTIONS[increment.name])
        counter.add(1, increment.attributes)
