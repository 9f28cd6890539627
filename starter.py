"""Intake API: validate a report, then start its incident workflow, idempotently.

Used by intake services (chat, phone, e-mail, monitoring) and by ``sla report``::

    ticket_id = await report_incident(client, report_json)

or as a script: ``python starter.py report.json``.

Idempotency: a report with a ``request_id`` always maps to the same ticket.
Its ticket ID is derived from the request ID and the receipt date; a retry
that arrives after midnight finds the ticket of the previous day first.

Booked extended on-call windows of the company (bookings that are booked or
running, from visibility) travel in the incident's input: they count as
business time for its deadlines.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.oncall import company_windows
from domain.errors import describe_validation_error
from domain.oncall import OnCallWindow
from domain.report import Channel, IncidentReport
from domain.sla import Plan, PolicyError, SlaPolicy
from workflows import names
from workflows.client import connect
from workflows.incident import IncidentInput, IncidentWorkflow

_MEMO_REQUEST_ID = "request_id"
log = logging.getLogger("sla.starter")


class IntakeError(ValueError):
    """A report that is refused; the message names every problem. Nothing was started."""


def parse_report(data: IncidentReport | Mapping[str, Any] | str | bytes) -> IncidentReport:
    """Validate a report given as a model, a mapping or JSON text.

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named).
    """
    if isinstance(data, IncidentReport):
        return data
    try:
        if isinstance(data, str | bytes):
            return IncidentReport.model_validate_json(data)
        return IncidentReport.model_validate(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise IntakeError(f"report is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise IntakeError(f"report refused: {describe_validation_error(exc)}") from exc


def check_channel(report: IncidentReport, policy: SlaPolicy) -> None:
    """Refuse phone reports of companies without a premium subscription.

    Raises:
        IntakeError: Phone channel on a standard plan.
    """
    if report.channel is Channel.PHONE and policy.plan_of(report.company) is not Plan.PREMIUM:
        raise IntakeError(
            f"phone support is part of the premium subscription; {report.company!r} is on the "
            "standard plan: please report via chat or e-mail"
        )


def _code(seed: str, length: int = 6) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def ticket_id_for(day: date, seed: str) -> str:
    """``INC-YYYYMMDD-XXXXXX``: readable, sortable by day, unique per seed."""
    return f"INC-{day:%Y%m%d}-{_code(seed)}"


def _berlin_day(instant: datetime, policy: SlaPolicy) -> date:
    return instant.astimezone(policy.calendar.zone).date()


async def _existing_ticket(client: Client, ticket_id: str, request_id: str) -> bool | None:
    """Whether ``ticket_id`` belongs to ``request_id`` (``None``: no such workflow)."""
    try:
        description = await client.get_workflow_handle(ticket_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    memo = await description.memo()
    return bool(memo.get(_MEMO_REQUEST_ID) == request_id)


async def oncall_windows_for(
    client: Client, company: str, policy: SlaPolicy
) -> tuple[OnCallWindow, ...]:
    """Windows of the company's booked or running extended on-call (visibility).

    Bookings carry the directory's spelling of the company, so both spellings
    are looked up. Without a visibility API (the time-skipping test server) or
    with unregistered search attributes there are none: intake must not fail
    for it, and without windows the deadlines only get more lenient.
    """
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
    policy = policy or SlaPolicy.default()
    parsed = parse_report(report)
    check_channel(parsed, policy)
    received_at = received_at or datetime.now(UTC)
    if received_at.tzinfo is None:
        raise IntakeError("received_at must be an aware datetime")
    today = _berlin_day(received_at, policy)

    # Owners already looked up (None: no such workflow), so no ID is described twice.
    known: dict[str, bool | None] = {}
    if parsed.request_id is None:
        candidates = [ticket_id_for(today, secrets.token_hex(16)) for _ in range(5)]
    else:
        seed = f"{parsed.channel.value}:{parsed.request_id}"
        for day in (today, today - timedelta(days=1)):
            ticket_id = ticket_id_for(day, seed)
            known[ticket_id] = await _existing_ticket(client, ticket_id, parsed.request_id)
            if known[ticket_id]:
                return ticket_id
        # A different request that happens to share the code gets a suffix.
        candidates = [ticket_id_for(today, seed + ("" if n == 0 else f"#{n}")) for n in range(5)]

    for ticket_id in candidates:
        if parsed.request_id is not None:
            if ticket_id in known:
                owner = known[ticket_id]
            else:
                owner = await _existing_ticket(client, ticket_id, parsed.request_id)
            if owner is True:
                return ticket_id
            if owner is False:
                continue
        try:
            if oncall_windows is None:
                oncall_windows = await oncall_windows_for(client, parsed.company, policy)
            await _start(
                client,
                ticket_id,
                parsed,
                policy,
                received_at,
                task_queue,
                status_page_id,
                tuple(oncall_windows),
            )
            return ticket_id
        except WorkflowAlreadyStartedError:
            if parsed.request_id is not None and await _existing_ticket(
                client, ticket_id, parsed.request_id
            ):
                return ticket_id  # a concurrent retry of the same request won
    raise IntakeError("could not allocate a ticket ID; please retry")


async def _start(
    client: Client,
    ticket_id: str,
    report: IncidentReport,
    policy: SlaPolicy,
    received_at: datetime,
    task_queue: str,
    status_page_id: str,
    oncall_windows: tuple[OnCallWindow, ...],
) -> WorkflowHandle[IncidentWorkflow, Any]:
    severity = report.suggested_severity()
    return await client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(
            ticket_id=ticket_id,
            report=report,
            received_at=received_at,
            policy=policy,
            status_page_id=status_page_id,
            oncall_windows=oncall_windows,
        ),
        id=ticket_id,
        task_queue=task_queue,
        # A ticket ID is never reused, not even after the incident closed.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo={_MEMO_REQUEST_ID: report.request_id} if report.request_id else None,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(names.TICKET_STATUS, "new"),
                SearchAttributePair(names.SEVERITY, severity.value),
                SearchAttributePair(names.COMPANY, report.company),
                SearchAttributePair(names.CHANNEL, report.channel.value),
            ]
        ),
        static_summary=f"{ticket_id} · {report.company} · {severity.label_de}",
        static_details=(
            f"**{report.company}** – {report.full_name} ({report.email}, {report.phone})\n\n"
            f"Kanal: {report.channel.value} · Vorschlag: {severity.label_de}\n\n"
            f"{report.description}"
        ),
    )


async def main(argv: Sequence[str] | None = None, client: Client | None = None) -> int:
    """Script entry: ``python starter.py REPORT.json`` prints the ticket ID.

    Returns:
        Process exit code (0 on success, 1 when the report is refused).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python starter.py REPORT.json", file=sys.stderr)
        return 2
    try:
        text = Path(args[0]).read_text("utf-8")
    except OSError as exc:
        print(f"error: cannot read {args[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    policy_path = os.environ.get("SLA_POLICY")
    try:
        policy = SlaPolicy.from_file(policy_path) if policy_path else SlaPolicy.default()
        ticket_id = await report_incident(client or await connect(), text, policy=policy)
    except (IntakeError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"ticket_id": ticket_id}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
