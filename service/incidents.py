"""Reporting an incident: validate, look up the company's on-call windows, start idempotently.

Used by every intake door (``starter.py``, ``sla report``, the coming HTTP API)::

    ticket_id = await report_incident(client, report_json)

Idempotency: a report with a ``request_id`` always maps to the same ticket.
Its ticket ID is derived from the request ID and the receipt date; a retry
that arrives after midnight finds the ticket of the previous day first.

Booked extended on-call windows of the company (bookings that are booked or
running, from visibility) travel in the incident's input: they count as
business time for its deadlines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.ids import ticket_id_for
from domain.incident import RULES, OpenIncident, decide, fold
from domain.oncall import OnCallWindow, with_oncall_windows
from domain.read_model import SearchIndex, search_index
from domain.report import IncidentReport
from domain.sla import IncidentClock, Severity, SlaPolicy
from service.intake import (
    MEMO_CONTENT,
    MEMO_REQUEST_ID,
    check_channel,
    content_digest,
    owned_by,
    parse_report,
    receipt_day,
    start_idempotently,
)
from service.oncall import company_windows
from workflows import names
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.visibility import incident_search_attributes

log = logging.getLogger("sla.intake")


async def oncall_windows_for(
    client: Client, company: str | None, policy: SlaPolicy
) -> tuple[OnCallWindow, ...]:
    """Windows of the company's booked or running extended on-call (visibility).

    Bookings carry the directory's spelling of the company, so both spellings
    are looked up. Without a visibility API (the time-skipping test server) or
    with unregistered search attributes there are none: intake must not fail
    for it, and without windows the deadlines only get more lenient.
    """
    if company is None:
        return ()  # not named yet: no booking can be found for it
    entry = policy.customer(company)
    spellings = (company, entry.company) if entry is not None else (company,)
    try:
        return await company_windows(client, *spellings)
    except RPCError as exc:
        if exc.status not in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
            raise
        # Info, not warning: only test servers lack visibility, and the CLI keeps
        # stderr for refusals.
        log.info("on-call bookings of %s not looked up: %s", company, exc.message)
        return ()


@dataclass(frozen=True)
class Targets:
    """Where incidents run: the worker's task queue and the status page workflow.

    The defaults are production's; tests and embedded stacks use their own.
    """

    task_queue: str = names.TASK_QUEUE
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID


@dataclass(frozen=True)
class OpenedIncident:
    """What intake answers for a report (the HTTP API's 201/200 body).

    Attributes:
        ticket_id: The ticket.
        created: Whether this call started it (``False``: a retry found it).
        severity: The severity the reaction clock runs on now.
        reaction_due: When the acknowledgement is due.
        missing: The SLA's report items still to ask for.
    """

    ticket_id: str
    created: bool
    severity: Severity
    reaction_due: datetime
    missing: tuple[str, ...]


def opened_json(opened: OpenedIncident) -> dict[str, Any]:
    """The intake answer as JSON (``sla report --json``, the HTTP API's body)."""
    return {
        "ticket_id": opened.ticket_id,
        "reaction_due": opened.reaction_due.isoformat(),
        "severity": opened.severity.value,
        "missing": list(opened.missing),
    }


async def report_incident(
    client: Client,
    report: IncidentReport | Mapping[str, Any] | str | bytes,
    *,
    policy: SlaPolicy | None = None,
    received_at: datetime | None = None,
    task_queue: str = names.TASK_QUEUE,
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID,
    oncall_windows: Sequence[OnCallWindow] | None = None,
) -> str:
    """Validate ``report`` and start its incident workflow; returns the ticket ID.

    The same ``request_id`` returns the same ticket and starts nothing new.
    :func:`open_incident` answers more (the HTTP API's body).

    Args:
        client: Temporal client (with the pydantic data converter).
        report: The report as model, mapping or JSON text.
        policy: Policy snapshot for the incident (default: the shipped one).
        received_at: Receipt instant (default: now).
        task_queue: Worker task queue.
        status_page_id: Status page workflow ID.
        oncall_windows: The company's on-call windows (default: looked up with
            :func:`oncall_windows_for` before starting).

    Raises:
        IntakeError: The report is refused; nothing was started.
    """
    opened = await open_incident(
        client,
        report,
        policy=policy,
        received_at=received_at,
        task_queue=task_queue,
        status_page_id=status_page_id,
        oncall_windows=oncall_windows,
    )
    return opened.ticket_id


async def open_incident(
    client: Client,
    report: IncidentReport | Mapping[str, Any] | str | bytes,
    *,
    policy: SlaPolicy | None = None,
    received_at: datetime | None = None,
    task_queue: str = names.TASK_QUEUE,
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID,
    oncall_windows: Sequence[OnCallWindow] | None = None,
    source: str | None = None,
    match_content: bool = True,
    publish_unconfirmed: bool | None = None,
) -> OpenedIncident:
    """:func:`report_incident`, answering the ticket's clock and what is missing.

    Args:
        client: Temporal client (with the pydantic data converter).
        report: The report as model, mapping or JSON text.
        policy: Policy snapshot for the incident (default: the shipped one).
        received_at: Receipt instant (default: now).
        task_queue: Worker task queue.
        status_page_id: Status page workflow ID.
        oncall_windows: The company's on-call windows (default: looked up).
        source: The intake system (an API token's name, ``mailbox``); recorded
            on the report, replacing whatever the sender claimed.
        match_content: Refuse a ``request_id`` already used for other content
            (:class:`~service.intake.IntakeConflict`). Off for monitoring alert
            groups: every notification of a group differs and belongs to the
            group's one incident.
        publish_unconfirmed: Whether a monitoring report goes on the status
            page at once (default: ``[intake.monitoring] publish_unconfirmed``).
            The engine's own reports (an overrunning maintenance) know what they
            say and pass ``True``.

    Raises:
        IntakeError: The report is refused; nothing was started.
    """
    policy = policy or SlaPolicy.default()
    parsed = parse_report(report)
    if source is not None:
        parsed = parsed.model_copy(update={"source": source})
    check_channel(parsed, policy)
    received_at = received_at or datetime.now(UTC)
    today = receipt_day(received_at, policy)

    windows = None if oncall_windows is None else tuple(oncall_windows)
    clock: IncidentClock | None = None

    async def start(ticket_id: str) -> None:
        nonlocal windows, clock
        if windows is None:
            windows = await oncall_windows_for(client, parsed.company, policy)
        clock = with_oncall_windows(policy, windows).incident_clock(received_at)
        await _start(
            client,
            ticket_id,
            parsed,
            policy,
            received_at,
            task_queue,
            status_page_id,
            windows,
            clock,
            publish,
        )

    publish = (
        policy.intake.monitoring.publish_unconfirmed
        if publish_unconfirmed is None
        else publish_unconfirmed
    )
    request_id = parsed.request_id
    content = content_digest(parsed)

    async def owns(ticket_id: str) -> bool | None:
        assert request_id is not None  # only asked for requests with an ID
        return await owned_by(
            client, ticket_id, request_id, content=content if match_content else None
        )

    ticket_id, created = await start_idempotently(
        id_for=ticket_id_for,
        today=today,
        seed=None if request_id is None else f"{parsed.channel.value}:{request_id}",
        owns=owns,
        start=start,
        what="ticket",
    )
    missing = tuple(item.value for item in parsed.missing)
    if created and clock is not None:
        severity = parsed.suggested_severity()
        return OpenedIncident(
            ticket_id, True, severity, clock.deadlines[severity].reaction_due, missing
        )
    # A retry: the ticket's clock as it stands now (it may be reclassified),
    # from its search attributes: no worker needs to answer.
    attributes = (await client.get_workflow_handle(ticket_id).describe()).typed_search_attributes
    severity = Severity(attributes.get(names.SEVERITY) or parsed.suggested_severity())
    due = attributes.get(names.REACTION_DUE)
    if due is None:  # a server without search attributes (tests): the report's own clock
        due = policy.reaction_due(severity, received_at)
    return OpenedIncident(ticket_id, False, severity, due, missing)


async def _start(
    client: Client,
    ticket_id: str,
    report: IncidentReport,
    policy: SlaPolicy,
    received_at: datetime,
    task_queue: str,
    status_page_id: str,
    oncall_windows: tuple[OnCallWindow, ...],
    clock: IncidentClock,
    publish_unconfirmed: bool,
) -> WorkflowHandle[IncidentWorkflow, Any]:
    severity = report.suggested_severity()
    # Computed once, by the caller: the deadlines set the search attributes at
    # start and travel in the input, so the workflow needs no calendar activity.
    index = _index_at_open(ticket_id, report, received_at, clock)
    return await client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(
            ticket_id=ticket_id,
            report=report,
            received_at=received_at,
            policy=policy,
            status_page_id=status_page_id,
            oncall_windows=oncall_windows,
            search_index=index,
            clock=clock,
            customer_lane=True,
            publish_unconfirmed=publish_unconfirmed,
            rules=RULES,
            archive_feed=True,
        ),
        id=ticket_id,
        task_queue=task_queue,
        # A ticket ID is never reused, not even after the incident closed.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo=(
            {MEMO_REQUEST_ID: report.request_id, MEMO_CONTENT: content_digest(report)}
            if report.request_id
            else None
        ),
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(key, value) for key, value in incident_search_attributes(index)]
        ),
        static_summary=f"{ticket_id} · {report.company_or_unknown} · {severity.label_de}",
        static_details=(
            f"**{report.company_or_unknown}** – {report.reporter_or_unknown} "
            f"({report.email or '-'}, {report.phone or '-'})\n\n"
            f"Kanal: {report.channel.value} · Vorschlag: {severity.label_de}\n\n"
            f"{report.description}"
        ),
    )


def _index_at_open(
    ticket_id: str, report: IncidentReport, received_at: datetime, clock: IncidentClock
) -> SearchIndex:
    """The search attributes the incident will have once opened, set with the start request.

    ``sla list`` finds the incident with every filter at once, and the
    workflow, which receives these values in its input, upserts only what its
    own (recorded) calendar result makes different: usually nothing.
    """
    opening = OpenIncident(
        ticket_id=ticket_id,
        report=report,
        received_at=received_at,
        deadlines=clock.deadlines,
        next_opening_page=clock.next_opening_page,
    )
    return search_index(fold(None, decide(None, opening, received_at)))
