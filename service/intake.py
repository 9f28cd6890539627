"""The intake core shared by every door: validate, allocate an ID, start idempotently.

* :func:`parse_intake` validates a model, mapping or JSON text and names every
  bad field in one :class:`~domain.errors.IntakeError`;
* :func:`check_report` applies the policy to a parsed report: its ``[limits]``,
  its ``[mail] smtputf8`` and the phone channel's plan;
* :func:`start_idempotently` allocates a day-stamped ID (``domain.ids``) and
  starts its workflow; a retried request finds the workflow it started;
* :func:`owned_by` is the one answer to "does this workflow already belong to
  this request" (by the request memo the start wrote).

Incidents (:mod:`service.incidents`), change requests
(:mod:`service.change_requests`) and on-call bookings (:mod:`service.oncall`)
build on it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import IntakeError, describe_validation_error, field_errors
from domain.report import Channel, IncidentReport, check_limits
from domain.sla import Plan, SlaPolicy
from domain.values import check_fresh

__all__ = [
    "MEMO_REQUEST_ID",
    "IntakeConflict",
    "IntakeError",
    "check_channel",
    "check_report",
    "content_digest",
    "owned_by",
    "parse_intake",
    "parse_report",
    "receipt_day",
    "start_idempotently",
]

MEMO_REQUEST_ID = "request_id"
"""Memo key holding the intake system's request ID (incidents and change requests)."""

MEMO_CONTENT = "request_content"
"""Memo key holding :func:`content_digest` of what the request asked for."""


class IntakeConflict(IntakeError):
    """A ``request_id`` reused for different content; the HTTP API answers 409.

    Attributes:
        existing_id: The workflow the request ID already belongs to.
    """

    def __init__(self, message: str, existing_id: str) -> None:
        """Refuse with ``message``; ``existing_id`` names the workflow the ID belongs to."""
        super().__init__(message)
        self.existing_id = existing_id


_ADDED_AFTER_DIGESTS = frozenset({"customer_number"})
"""Fields added after digests were first recorded: left out of a digest while unset,
so that a retry of a request sent before they existed still matches its workflow."""


def content_digest(model: BaseModel) -> str:
    """SHA-256 of what a request asks for (its JSON without ``request_id``).

    A retry sends the same content and finds its workflow; another report that
    reuses the request ID by mistake differs and is refused, not answered with
    someone else's ticket.
    """
    unset = {name for name in _ADDED_AFTER_DIGESTS if getattr(model, name, 0) is None}
    text = model.model_dump_json(exclude={"request_id", *unset})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


M = TypeVar("M", bound=BaseModel)


def parse_intake(model: type[M], data: M | Mapping[str, Any] | str | bytes, what: str) -> M:
    """Validate ``data`` (a ``model``, a mapping or JSON text) as ``model``.

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named);
            the message starts with ``what``.
    """
    try:
        if isinstance(data, model):
            # A model built in-process may skip checks (model_construct, or read
            # back from a history): checked again as input coming in now.
            return check_fresh(data)
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise IntakeError(f"{what} is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise IntakeError(
            f"{what} refused: {describe_validation_error(exc)}", field_errors(exc)
        ) from exc


def parse_report(
    data: IncidentReport | Mapping[str, Any] | str | bytes, *, policy: SlaPolicy | None = None
) -> IncidentReport:
    """Validate a report given as a model, a mapping or JSON text.

    Args:
        data: The report.
        policy: When given, the report is also checked against it
            (:func:`check_report`).

    Raises:
        IntakeError: Not JSON, or fields missing or malformed (each one named),
            or (with ``policy``) refused by the policy.
    """
    report = parse_intake(IncidentReport, data, "report")
    if policy is not None:
        check_report(report, policy)
    return report


def check_report(report: IncidentReport, policy: SlaPolicy) -> None:
    """Refuse a parsed report the policy does not take.

    Every field over the policy's ``[limits]``, an e-mail address with a
    non-ASCII local part while ``[mail] smtputf8`` is off
    (:func:`domain.report.check_limits`), and a phone report that does not
    prove a premium subscription (:func:`_check_plan`).

    Raises:
        IntakeError: Naming every field over its limit; or the channel refusal.
    """
    problems = check_limits(report, policy)
    if problems:
        raise IntakeError(
            f"report refused: {'; '.join(problems)}",
            [(field, message) for field, _, message in (p.partition(": ") for p in problems)],
        )
    _check_plan(report, policy)


def check_channel(report: IncidentReport, policy: SlaPolicy) -> None:
    """Refuse what the policy does not take; the name predates the limits.

    The same as :func:`check_report`, so that every caller of this function
    applies the policy's limits as well.

    Raises:
        IntakeError: A field over its limit, an address the relay cannot take,
            or a phone report on a standard plan.
    """
    check_report(report, policy)


def _check_plan(report: IncidentReport, policy: SlaPolicy) -> None:
    """Refuse a phone report that does not prove a premium subscription.

    The proof is the customer number or the reporter's e-mail domain as the
    customer directory lists them (:meth:`SlaPolicy.plan_for`); a typed
    company name proves nothing, so it is never enough on its own.
    """
    if report.channel is not Channel.PHONE or policy.plan_for(report) is Plan.PREMIUM:
        return
    checked = []
    if report.customer_number is not None:
        entry = policy.customer_by_number(report.customer_number)
        checked.append(
            f"customer number {report.customer_number!r} "
            + ("is not in the customer directory" if entry is None else "is on the standard plan")
        )
    if report.email is not None:
        entry = policy.customer_by_email(report.email)
        domain = report.email.rpartition("@")[2]
        checked.append(
            f"e-mail domain {domain!r} "
            + (
                "is no customer's in the directory"
                if entry is None
                else f"is {entry.company!r}'s, on the standard plan"
            )
        )
    if not checked:
        checked.append("no customer number or e-mail address given")
    who = f" and {report.company!r} was not proven premium" if report.company else ""
    found = "; ".join(checked)
    need = (
        "give the customer number (customer_number) or the reporter's e-mail address at the "
        "company's own domain (a company name alone is not checked), or report via chat or e-mail"
    )
    german = (
        "Telefon-Support gehört zum Premium-Vertrag: bitte Kundennummer oder E-Mail-Adresse "
        "Ihrer Firma angeben, oder melden Sie die Störung per Chat oder E-Mail"
    )
    raise IntakeError(
        f"report refused: phone support is part of the premium subscription{who}: {found}; "
        f"{need} ({german})",
        [
            ("customer_number", "a premium customer's number, for phone reports"),
            ("email", "an address at a premium customer's domain, for phone reports"),
        ],
    )


def receipt_day(received_at: datetime, policy: SlaPolicy) -> date:
    """The receipt's calendar day in the policy's zone (the day in the ID).

    Raises:
        IntakeError: ``received_at`` is naive.
    """
    if received_at.tzinfo is None:
        raise IntakeError("received_at must be an aware datetime")
    return received_at.astimezone(policy.calendar.zone).date()


async def owned_by(
    client: Client,
    workflow_id: str,
    request: str,
    *,
    memo_key: str = MEMO_REQUEST_ID,
    workflow_type: str | None = None,
    running_only: bool = False,
    content: str | None = None,
) -> bool | None:
    """Whether the workflow ``workflow_id`` was started for ``request``.

    Args:
        client: Temporal client.
        workflow_id: The workflow to look at.
        request: The request's identity as the start wrote it into the memo.
        memo_key: The memo key holding it.
        workflow_type: The workflow must also be of this type.
        running_only: A finished workflow does not count as the request's own
            (an on-call window may be booked again once its booking ended).
        content: The request's :func:`content_digest`; a workflow of the same
            request with other recorded content is a conflict. (Workflows
            started before digests were recorded have none: they count.)

    Returns:
        ``None`` when there is no such workflow, else whether it is the request's.

    Raises:
        IntakeConflict: The request ID belongs to this workflow, with other content.
    """
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if workflow_type is not None and description.workflow_type != workflow_type:
        return False
    if running_only and description.status is not WorkflowExecutionStatus.RUNNING:
        return False
    memo = await description.memo()
    if memo.get(memo_key) != request:
        return False
    recorded = memo.get(MEMO_CONTENT)
    if content is not None and isinstance(recorded, str) and recorded != content:
        raise IntakeConflict(
            f"request_id {request!r} was already used for a different request ({workflow_id}); "
            "send a new request_id for a new report",
            workflow_id,
        )
    return True


async def start_idempotently(
    *,
    id_for: Callable[[date, str], str],
    today: date,
    seed: str | None,
    owns: Callable[[str], Awaitable[bool | None]],
    start: Callable[[str], Awaitable[None]],
    what: str,
    look_back_days: int = 1,
) -> tuple[str, bool]:
    """Allocate a day-stamped ID and ``start`` its workflow; a retried request finds its own.

    With a ``seed`` (derived from the caller's ``request_id``) the ID is
    deterministic; the IDs of the previous ``look_back_days`` days are looked
    at first, so a retry after midnight finds the original. A different
    request that happens to share the code gets a suffix. Without a seed the
    ID is random.

    Args:
        id_for: Builds the ID from the day and a seed.
        today: The day in the ID (in the policy's time zone).
        seed: The request's seed, or ``None`` for no idempotency.
        owns: Whether an existing workflow with that ID belongs to this request
            (``None``: there is no such workflow); see :func:`owned_by`.
        start: Starts the workflow with that ID (raises
            ``WorkflowAlreadyStartedError`` when the ID is taken).
        what: Names the ID in the refusal.
        look_back_days: Earlier days whose IDs may hold the request's workflow.

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
        for back in range(look_back_days + 1):
            existing = id_for(today - timedelta(days=back), seed)
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
