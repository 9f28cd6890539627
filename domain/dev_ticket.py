"""Development tickets ("Entwicklungs-Tickets"): kinds, states, allowed moves, customer mails.

The SLA gives bugs ("Programmfehler") and change requests their own
development ticket with an ID the customer is told. A feature ticket mirrors
its change request (:mod:`domain.change_request`) and moves only with it. A
bug ticket has a lifecycle of its own, moved by an operator
(``sla dev-ticket transition``)::

    open ──▶ in_progress ──▶ fixed ──▶ released (final)
      │            ▲           │  ▲
      └────────────┼───────────┘  │      forward steps may skip states;
                   └──── reopen ──┘      fixed → in_progress reopens a fix

:func:`check_transition` is the one rule every tracker applies; the bug mails
(:func:`bug_linked_message`, :func:`bug_released_messages`) are fixed here
too. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from domain.errors import AlreadyDone, DomainError, MissingText, WrongStatus
from domain.messages import OutgoingMessage, make_message_id
from domain.report import IncidentReport
from domain.sla import Severity

# -- vocabulary ----------------------------------------------------------------


class DevTicketKind(StrEnum):
    """What a development ticket is about ("Programmfehler und Änderungswünsche")."""

    FEATURE = "feature"
    BUG = "bug"


class DevTicketStatus(StrEnum):
    """Status of a development ticket, as the tracker records it.

    Feature tickets (change requests): ``open``, ``in_discussion``, ``planned``,
    ``declined``. Bug tickets: ``open``, ``in_progress``, ``fixed``, ``released``.
    """

    OPEN = "open"
    IN_DISCUSSION = "in_discussion"
    PLANNED = "planned"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    RELEASED = "released"

    @property
    def label_de(self) -> str:
        """German name, as the customer reads it."""
        return _STATUS_DE[self]


_STATUS_DE = {
    DevTicketStatus.OPEN: "offen",
    DevTicketStatus.IN_DISCUSSION: "in Diskussion",
    DevTicketStatus.PLANNED: "eingeplant",
    DevTicketStatus.DECLINED: "abgelehnt",
    DevTicketStatus.IN_PROGRESS: "in Bearbeitung",
    DevTicketStatus.FIXED: "behoben",
    DevTicketStatus.RELEASED: "ausgeliefert",
}


class TransitionSource(StrEnum):
    """Who moves a development ticket: its change-request workflow or an operator."""

    CHANGE_REQUEST = "change_request"
    OPERATOR = "operator"


BUG_FLOW: tuple[DevTicketStatus, ...] = (
    DevTicketStatus.OPEN,
    DevTicketStatus.IN_PROGRESS,
    DevTicketStatus.FIXED,
    DevTicketStatus.RELEASED,
)
"""The states of a bug ticket, in lifecycle order."""

OPEN_BUG_STATES = frozenset(
    {DevTicketStatus.OPEN, DevTicketStatus.IN_PROGRESS, DevTicketStatus.FIXED}
)
"""A bug is open until its fix is released (the weekly audit lists these)."""

UNFIXED_BUG_STATES = frozenset({DevTicketStatus.OPEN, DevTicketStatus.IN_PROGRESS})
"""A bug is unfixed until an operator marks it fixed (the daily audit watches these)."""

_FEATURE_TARGETS = frozenset(
    {DevTicketStatus.IN_DISCUSSION, DevTicketStatus.PLANNED, DevTicketStatus.DECLINED}
)
_FEATURE_MOVABLE = frozenset({DevTicketStatus.OPEN, DevTicketStatus.IN_DISCUSSION})
_REOPEN = (DevTicketStatus.FIXED, DevTicketStatus.IN_PROGRESS)

OPERATOR_TARGETS: tuple[DevTicketStatus, ...] = BUG_FLOW[1:]
"""What ``sla dev-ticket transition --to`` accepts."""

DevTicketId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.#/-]*$"
    ),
]
"""A tracker's ticket ID: ``DEV-0007`` from the local ledger, ``PROJ-123`` from Jira …"""


# -- the rule ------------------------------------------------------------------


def allowed_transitions(
    kind: DevTicketKind, current: DevTicketStatus, source: TransitionSource
) -> frozenset[DevTicketStatus]:
    """The states a ticket of ``kind`` in ``current`` may move to when ``source`` moves it.

    * A feature ticket moves only with its change request: to ``in_discussion``
      (again and again while discussed), ``planned`` or ``declined``, until it
      is planned or declined. An operator cannot move it.
    * A bug ticket moves only by an operator, forward along :data:`BUG_FLOW`
      (steps may be skipped: a bug fixed at once goes ``open → fixed``), or
      back from ``fixed`` to ``in_progress`` when the fix did not hold.
      ``released`` is final.
    """
    if kind is DevTicketKind.FEATURE:
        if source is not TransitionSource.CHANGE_REQUEST or current not in _FEATURE_MOVABLE:
            return frozenset()
        return _FEATURE_TARGETS
    if source is not TransitionSource.OPERATOR or current not in BUG_FLOW:
        return frozenset()
    forward = BUG_FLOW[BUG_FLOW.index(current) + 1 :]
    back = {_REOPEN[1]} if current is _REOPEN[0] else set()
    return frozenset({*forward, *back})


def check_transition(
    dev_ticket_id: str,
    kind: DevTicketKind,
    current: DevTicketStatus,
    target: DevTicketStatus,
    source: TransitionSource,
    *,
    release: str | None = None,
) -> None:
    """Refuse a move :func:`allowed_transitions` does not allow, saying why and what to do.

    Args:
        dev_ticket_id: The ticket (named in the message).
        kind: Feature or bug.
        current: Its status now.
        target: The status asked for.
        source: Who moves it.
        release: The release that ships the fix (required for ``released``).

    Raises:
        WrongStatus: The move is not allowed (e.g. a feature ticket moved by an
            operator, a bug moved backwards, anything after ``released``).
        AlreadyDone: The ticket is in ``target`` already (bugs).
        MissingText: ``released`` without a release.
    """
    if target in allowed_transitions(kind, current, source):
        if target is DevTicketStatus.RELEASED and not (release or "").strip():
            raise MissingText(
                f"a release is required to mark {dev_ticket_id} released (e.g. --release 2027.1)"
            )
        return
    raise _refusal(dev_ticket_id, kind, current, target, source)


def _refusal(
    dev_ticket_id: str,
    kind: DevTicketKind,
    current: DevTicketStatus,
    target: DevTicketStatus,
    source: TransitionSource,
) -> DomainError:
    if kind is DevTicketKind.FEATURE:
        if source is TransitionSource.OPERATOR:
            return WrongStatus(
                f"{dev_ticket_id} is a feature ticket: it moves with its change request; "
                "use `sla change-request discuss|plan|decline CR-…` instead"
            )
        return WrongStatus(
            f"feature ticket {dev_ticket_id} cannot move from {current.value} to {target.value}"
        )
    if source is not TransitionSource.OPERATOR:
        return WrongStatus(
            f"{dev_ticket_id} is a bug ticket: it moves with `sla dev-ticket transition`"
        )
    if current is DevTicketStatus.RELEASED:
        return WrongStatus(f"{dev_ticket_id} is released; a released bug ticket is final")
    if current is target:
        return AlreadyDone(f"{dev_ticket_id} is {current.value} already")
    if target not in BUG_FLOW:
        return WrongStatus(
            f"a bug ticket is never {target.value}; bug states: "
            + " → ".join(s.value for s in BUG_FLOW)
        )
    allowed = sorted(allowed_transitions(kind, current, source), key=BUG_FLOW.index)
    return WrongStatus(
        f"{dev_ticket_id} is {current.value} and cannot go back to {target.value} "
        f"(allowed: {', '.join(s.value for s in allowed)})"
    )


# -- models --------------------------------------------------------------------


class DevTicketTransition(BaseModel):
    """Move a development ticket to ``status``; ``key`` makes a retried move a no-op.

    Attributes:
        dev_ticket_id: The tracker's ticket ID.
        status: The new status.
        key: Idempotency key (the change request ID and event position, or the
            operator's transition workflow).
        note: Why (discussion note, decline reason, operator's note).
        release: The feature release (planned) or the release shipping a fix (released).
        by: Who moves it (moves recorded before this existed came from change requests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dev_ticket_id: DevTicketId
    status: DevTicketStatus
    key: str = Field(min_length=1, max_length=200)
    note: str | None = None
    release: str | None = None
    by: TransitionSource = TransitionSource.CHANGE_REQUEST


class IncidentContact(BaseModel):
    """Whom to tell about a bug linked to an incident, stored with the link.

    Attributes:
        email: The reporter's address (``None``: reported by phone without one).
        name: The reporter's name.
        company: The reporter's company.
        severity: The incident's severity when it was linked (the daily audit
            watches bugs linked to critical incidents).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = None
    name: str | None = None
    company: str | None = None
    severity: Severity | None = None


def contact_for(report: IncidentReport, severity: Severity) -> IncidentContact:
    """What a link stores of an incident's report (reporter, company) and severity."""
    return IncidentContact(
        email=report.email, name=report.full_name, company=report.company, severity=severity
    )


class LinkedIncident(BaseModel):
    """One incident linked to a development ticket, with what is needed to tell its reporter."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    at: datetime
    contact: IncidentContact = IncidentContact()


class StatusChange(BaseModel):
    """One recorded transition of a development ticket."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    previous: DevTicketStatus
    status: DevTicketStatus
    note: str | None = None
    release: str | None = None


class DevTicket(BaseModel):
    """A development ticket as the tracker holds it.

    ``links`` names the linked incidents (oldest first); ``linked`` carries
    the same links with their contact data (empty from trackers without it).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    key: str
    kind: DevTicketKind
    title: str
    description: str
    company: str | None
    reference: str | None
    status: DevTicketStatus
    release: str | None
    created_at: datetime
    links: tuple[str, ...] = ()
    history: tuple[StatusChange, ...] = ()
    linked: tuple[LinkedIncident, ...] = ()

    @property
    def last_change_at(self) -> datetime:
        """The last status change, else the creation."""
        return max((c.at for c in self.history), default=self.created_at)


# -- filters -------------------------------------------------------------------


def select(
    tickets: Iterable[DevTicket],
    *,
    status: Iterable[DevTicketStatus] = (),
    kind: DevTicketKind | None = None,
) -> list[DevTicket]:
    """The tickets in one of ``status`` (all when empty) and of ``kind`` (any when ``None``)."""
    wanted = frozenset(status)
    return [
        t
        for t in tickets
        if (not wanted or t.status in wanted) and (kind is None or t.kind is kind)
    ]


# -- customer mails ------------------------------------------------------------

BUG_MAIL_RULES = 4
"""The first incident rule set (``IncidentReported.rules``) whose ``DevTicketLinked``
event mails the reporter; incidents opened before replay without that mail."""

BUG_LINKED = "bug_linked"
"""Template (and X-SLA-Kind) of the mail telling a reporter the bug's DEV ID."""

BUG_RELEASED = "bug_fix_released"
"""Template (and X-SLA-Kind) of the mail telling a reporter the fix is released."""


def bug_message_id(
    ticket_id: str, dev_ticket_id: str, kind: str, *, domain: str = "sla.myconvento.com"
) -> str:
    """Message-ID of a bug mail: one per (incident, dev ticket, kind), on every path.

    The incident's own workflow and ``LinkBugWorkflow`` use the same ID for the
    same link, and a retried release notification resends the same message.
    """
    return make_message_id(ticket_id, dev_ticket_id, kind, domain=domain)


def _facts(ticket_id: str, contact: IncidentContact) -> dict[str, JsonValue]:
    # The frame of customer mails (_customer.txt.j2) reads these; the premium
    # hotline is left out: the tracker cannot prove the customer's plan.
    return {"ticket_id": ticket_id, "reporter_name": contact.name, "support_hotline": None}


def bug_linked_message(
    ticket: DevTicket, ticket_id: str, contact: IncidentContact, at: datetime, timezone: str
) -> OutgoingMessage | None:
    """The mail telling the reporter of a resolved incident the bug's DEV ID.

    (An open incident's reporter hears it from the incident's ``DevTicketLinked``
    event, with the same Message-ID.) ``None`` when the reporter left no address.
    """
    if not contact.email:
        return None
    return OutgoingMessage(
        template=BUG_LINKED,
        message_id=bug_message_id(ticket_id, ticket.id, BUG_LINKED),
        to=(contact.email,),
        date=at,
        timezone=timezone,
        context={
            "facts": _facts(ticket_id, contact),
            "event": {"dev_ticket_id": ticket.id, "title": ticket.title, "at": at.isoformat()},
            "resolved": True,
        },
    )


def bug_released_messages(ticket: DevTicket, at: datetime, timezone: str) -> list[OutgoingMessage]:
    """One mail per linked incident whose reporter left an address: the fix is released.

    Args:
        ticket: The ticket after its move to ``released`` (with its links).
        at: The release instant (the mails' date).
        timezone: Zone for times in the German text.
    """
    if ticket.status is not DevTicketStatus.RELEASED:
        return []
    messages = []
    for link in ticket.linked:
        if not link.contact.email:
            continue
        messages.append(
            OutgoingMessage(
                template=BUG_RELEASED,
                message_id=bug_message_id(link.ticket_id, ticket.id, BUG_RELEASED),
                to=(link.contact.email,),
                date=at,
                timezone=timezone,
                context={
                    "facts": _facts(link.ticket_id, link.contact),
                    "dev_ticket_id": ticket.id,
                    "title": ticket.title,
                    "release": ticket.release or "",
                    "at": at.isoformat(),
                },
            )
        )
    return messages


def unreachable_links(ticket: DevTicket) -> tuple[str, ...]:
    """Linked incidents nobody can be told about (no address stored with the link)."""
    known = {link.ticket_id for link in ticket.linked if link.contact.email}
    return tuple(t for t in ticket.links if t not in known)
