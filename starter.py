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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
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
from domain.incident import OpenIncident, decide, fold
from domain.oncall import OnCallWindow, with_oncall_windows
from domain.report import Channel, IncidentReport
from domain.sla import Plan, PolicyError, SlaPolicy
from domain.view import SearchIndex, search_index
from workflows import names
from workflows.client import connect
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.visibility import incident_search_attributes

_MEMO_REQUEST_ID = "request_id"
M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("sla.starter")


class IntakeError(ValueError):
    """A report that is refused; the message names every problem. Nothing was started."""


def parse_intake(model: type[M], data: M | Mapping[str, Any] | str | bytes, what: str) -> M:
    """Validate ``data`` (a ``model``, a mapping or JSON text) as ``model``.

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named);
            the message starts with ``what``.
    """
    if isinstance(data, model):
        return data
    try:
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise IntakeError(f"{what} is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise IntakeError(f"{what} refused: {describe_validation_error(exc)}") from exc


def parse_report(data: IncidentReport | Mapping[str, Any] | str | bytes) -> IncidentReport:
    """Validate a report given as a model, a mapping or JSON text.

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named).
    """
    return parse_intake(IncidentReport, data, "report")


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


def id_code(seed: str, length: int = 6) -> str:
    """The readable part of an intake ID derived from ``seed`` (base32 of its SHA-256)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def ticket_id_for(day: date, seed: str) -> str:
    """``INC-YYYYMMDD-XXXXXX``: readable, sortable by day, unique per seed."""
    return f"INC-{day:%Y%m%d}-{id_code(seed)}"


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

    windows = None if oncall_windows is None else tuple(oncall_windows)

    async def start(ticket_id: str) -> None:
        nonlocal windows
        if windows is None:
            windows = await oncall_windows_for(client, parsed.company, policy)
        await _start(
            client, ticket_id, parsed, policy, received_at, task_queue, status_page_id, windows
        )

    request_id = parsed.request_id

    async def owns(ticket_id: str) -> bool | None:
        assert request_id is not None  # only asked for requests with an ID
        return await _existing_ticket(client, ticket_id, request_id)

    ticket_id, _ = await start_idempotently(
        id_for=ticket_id_for,
        today=today,
        seed=None if request_id is None else f"{parsed.channel.value}:{request_id}",
        owns=owns,
        start=start,
        what="ticket",
    )
    return ticket_id


async def start_idempotently(
    *,
    id_for: Callable[[date, str], str],
    today: date,
    seed: str | None,
    owns: Callable[[str], Awaitable[bool | None]],
    start: Callable[[str], Awaitable[None]],
    what: str,
) -> tuple[str, bool]:
    """Allocate a day-stamped ID and ``start`` its workflow; a retried request finds its own.

    With a ``seed`` (derived from the caller's ``request_id``) the ID is
    deterministic; the previous day's ID is looked at first, so a retry after
    midnight finds the original. A different request that happens to share the
    code gets a suffix. Without a seed the ID is random.

    Args:
        id_for: Builds the ID from the receipt day and a seed.
        today: The receipt day (in the policy's time zone).
        seed: The request's seed, or ``None`` for no idempotency.
        owns: Whether an existing workflow with that ID belongs to this request
            (``None``: there is no such workflow).
        start: Starts the workflow with that ID (raises
            ``WorkflowAlreadyStartedError`` when the ID is taken).
        what: Names the ID in the refusal.

    Returns:
        The ID and whether this call started its workflow.

    Raises:
        IntakeError: No free ID after five tries.
    """
    # Owners already looked up (None: no such workflow), so no ID is described twice.
    known: dict[str, bool | None] = {}
    if seed is None:
        candidates = [id_for(today, secrets.token_hex(16)) for _ in range(5)]
    else:
        for day in (today, today - timedelta(days=1)):
            existing = id_for(day, seed)
            known[existing] = await owns(existing)
            if known[existing]:
                return existing, False
        candidates = [id_for(today, seed + ("" if n == 0 else f"#{n}")) for n in range(5)]

    for candidate in candidates:
        if seed is not None:
            owner = known[candidate] if candidate in known else await owns(candidate)
            if owner is True:
                return candidate, False
            if owner is False:
                continue
        try:
            await start(candidate)
            return candidate, True
        except WorkflowAlreadyStartedError:
            if seed is not None and await owns(candidate):
                return candidate, False  # a concurrent retry of the same request won
    raise IntakeError(f"could not allocate a {what} ID; please retry")


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
    index = _index_at_open(ticket_id, report, policy, received_at, oncall_windows)
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
        ),
        id=ticket_id,
        task_queue=task_queue,
        # A ticket ID is never reused, not even after the incident closed.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        memo={_MEMO_REQUEST_ID: report.request_id} if report.request_id else None,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(key, value) for key, value in incident_search_attributes(index)]
        ),
        static_summary=f"{ticket_id} · {report.company} · {severity.label_de}",
        static_details=(
            f"**{report.company}** – {report.full_name} ({report.email}, {report.phone})\n\n"
            f"Kanal: {report.channel.value} · Vorschlag: {severity.label_de}\n\n"
            f"{report.description}"
        ),
    )


def _index_at_open(
    ticket_id: str,
    report: IncidentReport,
    policy: SlaPolicy,
    received_at: datetime,
    oncall_windows: tuple[OnCallWindow, ...],
) -> SearchIndex:
    """The search attributes the incident will have once opened, set with the start request.

    ``sla list`` finds the incident with every filter at once, and the
    workflow, which receives these values in its input, upserts only what its
    own (recorded) calendar result makes different: usually nothing.
    """
    deadlines = with_oncall_windows(policy, oncall_windows).all_deadlines(received_at)
    opening = OpenIncident(
        ticket_id=ticket_id, report=report, received_at=received_at, deadlines=deadlines
    )
    return search_index(fold(None, decide(None, opening, received_at)))


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
