"""Read models of an incident: what ``view`` queries, ``sla show`` and ``sla list`` return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.incident import (
    EscalationStage,
    Event,
    IncidentOutcome,
    IncidentReopened,
    IncidentState,
    IncidentStatus,
    fold,
    period_states,
    resolution_communicated_in_time,
    resolved_within_target,
)
from domain.report import Channel, IncidentReport
from domain.sla import Severity


class IncidentSummary(BaseModel):
    """An incident at a glance (``sla list``; DESIGN §4 keys without ``events``)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: IncidentStatus
    severity: Severity
    classified: bool
    company: str
    reporter: str
    channel: Channel
    received_at: datetime
    reaction_due: datetime
    resolution_due: datetime
    estimate: datetime | None
    escalation_stage: EscalationStage
    reaction_breached: bool
    resolution_breached: bool
    all_users: bool
    on_status_page: bool
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_summary: str | None
    management_decision: str | None
    change_request_id: str | None = None
    dev_tickets: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    source: str | None = None
    master: str | None = None
    duplicates: tuple[str, ...] = ()
    resolution_communicated_in_time: bool | None = None
    resolved_within_target: bool | None = None


def next_deadline(summary: IncidentSummary) -> tuple[str, datetime | None]:
    """The deadline the operator must watch next, and its name (``""`` once resolved)."""
    if summary.status is IncidentStatus.NEW:
        return "reaction", summary.reaction_due
    if summary.status is IncidentStatus.ACKNOWLEDGED:
        if summary.estimate is not None and summary.estimate < summary.resolution_due:
            return "estimate", summary.estimate
        return "resolution", summary.resolution_due
    return "", None


class IncidentView(IncidentSummary):
    """The full view of an incident: summary, the whole report, every domain event.

    ``report`` is ``None`` only in results of incidents closed before it was added.
    """

    report: IncidentReport | None = None
    events: tuple[Event, ...]

    def summary(self) -> IncidentSummary:
        """The same incident without its report and events."""
        return IncidentSummary.model_validate(self.model_dump(exclude={"events", "report"}))


class IncidentResult(IncidentOutcome):
    """What an incident's workflow returns: its SLA outcome and its final view.

    The view makes a closed incident readable from its completion event alone:
    no worker, and no replay of its history, is needed to show it.
    ``None`` in results of incidents closed before the view was added.
    """

    view: IncidentView | None = None


class SearchIndex(BaseModel):
    """What an incident shows Temporal's visibility (its search attributes), as values.

    The starter sets these at start and the workflow keeps them current
    (``workflows/visibility.incident_search_attributes`` names the keys).
    """

    model_config = ConfigDict(frozen=True)

    ticket_status: str
    severity: str
    company: str
    channel: str
    escalation_stage: str
    reaction_due: datetime
    resolution_due: datetime
    sla_breached: bool
    all_users: bool


def search_index(state: IncidentState) -> SearchIndex:
    """The :class:`SearchIndex` of ``state``."""
    return SearchIndex(
        ticket_status=state.status.value,
        severity=state.severity.value,
        company=state.report.company or "",
        channel=state.report.channel.value,
        escalation_stage=str(state.escalation_stage),
        reaction_due=state.reaction_due,
        resolution_due=state.resolution_due,
        sla_breached=state.breached,
        all_users=state.all_users,
    )


def summarize(state: IncidentState) -> IncidentSummary:
    """The :class:`IncidentSummary` of ``state``."""
    return IncidentSummary(**_summary_fields(state))


def build_view(state: IncidentState) -> IncidentView:
    """The :class:`IncidentView` of ``state``."""
    return IncidentView(**_summary_fields(state), report=state.report, events=state.events)


def period_views(view: IncidentView) -> list[IncidentView]:
    """One view per period of a reopened incident (just ``[view]`` until a reopen).

    For the SLA report, where each period is a measurement of its own: a
    period's view has that period's figures (as they were when it closed, for
    an earlier one), its ``received_at`` is the instant its clock started
    (receipt, or the reopen), and its ``events`` are that period's only, so
    an escalation is counted in the period that reached it. Such a view is
    for counting, not for folding (a later period's events do not start with
    the report).
    """
    if not any(isinstance(e, IncidentReopened) for e in view.events):
        return [view]
    return [
        build_view(period).model_copy(
            update={"received_at": period.clock_start, "events": period.period_events}
        )
        for period in period_states(fold(None, view.events))
    ]


def _summary_fields(state: IncidentState) -> dict[str, object]:
    return {
        "ticket_id": state.ticket_id,
        "status": state.status,
        "severity": state.severity,
        "classified": state.classified,
        "company": state.report.company_or_unknown,
        "reporter": state.report.reporter_or_unknown,
        "channel": state.report.channel,
        "received_at": state.received_at,
        "reaction_due": state.reaction_due,
        "resolution_due": state.resolution_due,
        "estimate": state.estimate,
        "escalation_stage": state.escalation_stage,
        "reaction_breached": state.reaction_breached,
        "resolution_breached": state.resolution_breached,
        "all_users": state.all_users,
        "on_status_page": state.on_status_page,
        "acknowledged_at": state.acknowledged_at,
        "resolved_at": state.resolved_at,
        "resolution_summary": state.resolution_summary,
        "management_decision": state.management_decision,
        "change_request_id": state.change_request_id,
        "dev_tickets": state.dev_tickets,
        "missing": tuple(item.value for item in state.report.missing),
        "resolution_communicated_in_time": resolution_communicated_in_time(state),
        "resolved_within_target": resolved_within_target(state),
        "source": state.report.source,
        "master": state.master,
        "duplicates": state.duplicates,
    }


def current_details(state: IncidentState) -> str:
    """What the Temporal UI shows as the incident's *current details* (Markdown, for operators).

    The static summary set at start names ticket, company and severity; this
    says where the incident stands now, so an operator reading a workflow in
    the UI sees the SLA clock without decoding the history. Instants keep the
    offset they were computed with (Berlin wall time).
    """
    stage = state.escalation_stage
    lines = [
        f"**{state.status.value}** · {state.severity.value}"
        f"{'' if state.classified else ' (suggested)'} · escalation stage {stage}",
        f"- reaction due {_clock(state.reaction_due)}"
        + (" — **breached**" if state.reaction_breached else ""),
        f"- resolution due {_clock(state.resolution_due)}"
        + (" — **breached**" if state.resolution_breached else ""),
    ]
    if state.estimate is not None:
        lines.append(f"- estimate {_clock(state.estimate)}")
    if state.all_users:
        lines.append("- all users affected: on the status page")
    if state.resolved_at is not None:
        lines.append(f"- resolved {_clock(state.resolved_at)}")
    return "\n".join(lines)


def _clock(instant: datetime) -> str:
    return instant.isoformat(sep=" ", timespec="minutes")
