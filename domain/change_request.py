"""Change requests ("Änderungswünsche"): a lightweight lifecycle without an SLA clock.

The SLA ("Störungsmeldung oder Änderungswunsch?"): whatever does not keep the
customer from working with myconvento is a change request (feature request);
it is discussed and then possibly planned for a future feature release. Such
requests get their own development ticket with its own ID ("Unser
Ticketsystem"), which the customer is told.

Lifecycle::

    submitted ──discuss──▶ under_discussion ──plan─────▶ planned (for release X)
                           (discuss again)  ──decline──▶ declined

Same decider shape as :mod:`domain.incident`: :func:`decide` turns a command
into events or raises a :class:`~domain.errors.DomainError`; :func:`evolve`
applies one event. :func:`effects_of` says which customer e-mail and which
development-ticket transition each new event causes. Nothing here reads a
clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from domain.decider import fold_with

# Moved to domain.dev_ticket; re-exported here, where they used to live.
from domain.dev_ticket import DevTicketId as DevTicketId
from domain.dev_ticket import DevTicketKind as DevTicketKind
from domain.dev_ticket import DevTicketStatus as DevTicketStatus
from domain.dev_ticket import DevTicketTransition as DevTicketTransition
from domain.errors import AlreadyDone, MissingText, WrongStatus
from domain.messages import OutgoingMessage, make_message_id
from domain.report import ChangeRequest
from domain.values import FreeText, ReleaseName

# -- vocabulary ----------------------------------------------------------------


class ChangeRequestStatus(StrEnum):
    """Where a change request stands (also the ``LifecycleState`` search attribute)."""

    SUBMITTED = "submitted"
    UNDER_DISCUSSION = "under_discussion"
    PLANNED = "planned"
    DECLINED = "declined"

    @property
    def is_final(self) -> bool:
        """Planned and declined end the lifecycle (and the workflow)."""
        return self in (ChangeRequestStatus.PLANNED, ChangeRequestStatus.DECLINED)

    @property
    def label_de(self) -> str:
        """German name, as the customer reads it."""
        return _STATUS_DE[self]


_STATUS_DE = {
    ChangeRequestStatus.SUBMITTED: "eingegangen",
    ChangeRequestStatus.UNDER_DISCUSSION: "in Diskussion",
    ChangeRequestStatus.PLANNED: "eingeplant",
    ChangeRequestStatus.DECLINED: "abgelehnt",
}


# Free text of commands: the model bounds the size, the rules refuse "empty"
# (so that an empty reason is a domain refusal the operator reads, not a
# payload that cannot be decoded).
_Note = Annotated[str, StringConstraints(max_length=10_000)]
_Release = Annotated[str, StringConstraints(max_length=64)]


# -- commands ------------------------------------------------------------------


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubmitChangeRequest(_Command):
    """Open the change request (intake, once)."""

    kind: Literal["submit"] = "submit"
    change_request_id: str
    request: ChangeRequest
    received_at: datetime


class RecordDevTicket(_Command):
    """The development ticket was created in the tracker."""

    kind: Literal["record_dev_ticket"] = "record_dev_ticket"
    dev_ticket_id: DevTicketId


class Discuss(_Command):
    """Start (or continue) the discussion; ``note`` is sent to the customer."""

    kind: Literal["discuss"] = "discuss"
    note: FreeText


class PlanRelease(_Command):
    """Plan the request for a feature release, e.g. ``2027.1``."""

    kind: Literal["plan"] = "plan"
    release: ReleaseName


class Decline(_Command):
    """Decline the request; ``reason`` is sent to the customer."""

    kind: Literal["decline"] = "decline"
    reason: FreeText


class RecordDeliveryFailure(_Command):
    """A customer e-mail that did not reach some or all of its recipients."""

    kind: Literal["delivery_failure"] = "delivery_failure"
    template: str
    to: tuple[str, ...]
    error: str


class RecordTrackerFailure(_Command):
    """The development-ticket tracker could not be updated in time (created or moved)."""

    kind: Literal["tracker_failure"] = "tracker_failure"
    action: Literal["create", "move"]
    dev_ticket_id: str | None = None
    error: str


Command = (
    SubmitChangeRequest
    | RecordDevTicket
    | Discuss
    | PlanRelease
    | Decline
    | RecordDeliveryFailure
    | RecordTrackerFailure
)


# -- events --------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime


class ChangeRequestSubmitted(_Event):
    """The change request was accepted."""

    type: Literal["submitted"] = "submitted"
    change_request_id: str
    request: ChangeRequest
    received_at: datetime


class DevTicketCreated(_Event):
    """The development ticket exists; the customer is told its ID."""

    type: Literal["dev_ticket_created"] = "dev_ticket_created"
    dev_ticket_id: str


class Discussed(_Event):
    """A discussion step, with the note sent to the customer."""

    type: Literal["discussed"] = "discussed"
    note: str


class ReleasePlanned(_Event):
    """Planned for a feature release."""

    type: Literal["planned"] = "planned"
    release: str


class ChangeRequestDeclined(_Event):
    """Declined, with a reason."""

    type: Literal["declined"] = "declined"
    reason: str


class CustomerNotReached(_Event):
    """A customer e-mail could not be delivered (to some or all recipients)."""

    type: Literal["customer_not_reached"] = "customer_not_reached"
    template: str
    to: tuple[str, ...]
    error: str


class TrackerNotUpdated(_Event):
    """The tracker did not take a change (``action``: ``create`` or ``move``) in time."""

    type: Literal["tracker_not_updated"] = "tracker_not_updated"
    action: Literal["create", "move"]
    dev_ticket_id: str | None = None
    error: str


Event = Annotated[
    ChangeRequestSubmitted
    | DevTicketCreated
    | Discussed
    | ReleasePlanned
    | ChangeRequestDeclined
    | CustomerNotReached
    | TrackerNotUpdated,
    Field(discriminator="type"),
]


# -- state ---------------------------------------------------------------------


class ChangeRequestState(BaseModel):
    """The folded state of one change request, including every event so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change_request_id: str
    request: ChangeRequest
    received_at: datetime
    status: ChangeRequestStatus = ChangeRequestStatus.SUBMITTED
    dev_ticket_id: str | None = None
    release: str | None = None
    decline_reason: str | None = None
    notes: tuple[str, ...] = ()
    closed_at: datetime | None = None
    events: tuple[Event, ...] = ()

    @property
    def is_open(self) -> bool:
        """Whether the request is neither planned nor declined."""
        return not self.status.is_final


# -- decide --------------------------------------------------------------------


def decide(state: ChangeRequestState | None, command: Command, now: datetime) -> list[Event]:
    """Events caused by ``command`` at instant ``now``.

    Args:
        state: Current state; ``None`` before submission.
        command: What intake, the workflow or an operator asks for.
        now: The current instant (aware).

    Returns:
        The events to append (empty: nothing to do, e.g. the same dev ticket again).

    Raises:
        DomainError: The rules refuse the command; the message says why.
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if isinstance(command, SubmitChangeRequest):
        if state is not None:
            raise AlreadyDone(f"change request {state.change_request_id} is already submitted")
        return [
            ChangeRequestSubmitted(
                at=now,
                change_request_id=command.change_request_id,
                request=command.request,
                received_at=command.received_at,
            )
        ]
    if state is None:
        raise WrongStatus("no such change request: it was never submitted")
    match command:
        case RecordDeliveryFailure():
            # Also after the end: the last e-mail itself may bounce.
            return [
                CustomerNotReached(
                    at=now, template=command.template, to=command.to, error=command.error
                )
            ]
        case RecordTrackerFailure():
            return [
                TrackerNotUpdated(
                    at=now,
                    action=command.action,
                    dev_ticket_id=command.dev_ticket_id,
                    error=command.error,
                )
            ]
        case RecordDevTicket():
            return _record_dev_ticket(state, command, now)
        case Discuss():
            return _discuss(state, command, now)
        case PlanRelease():
            return _plan(state, command, now)
        case Decline():
            return _decline(state, command, now)
    raise TypeError(f"unknown command {command!r}")  # pragma: no cover - exhaustive above


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise MissingText(f"{what} is required")
    return text


def _closed(state: ChangeRequestState) -> str:
    if state.status is ChangeRequestStatus.PLANNED:
        return f"change request {state.change_request_id} is planned for release {state.release}"
    return f"change request {state.change_request_id} is declined"


def _record_dev_ticket(
    state: ChangeRequestState, command: RecordDevTicket, now: datetime
) -> list[Event]:
    if state.dev_ticket_id == command.dev_ticket_id:
        return []  # a replayed result of the idempotent create
    if state.dev_ticket_id is not None:
        raise AlreadyDone(
            f"change request {state.change_request_id} already has development ticket "
            f"{state.dev_ticket_id}"
        )
    return [DevTicketCreated(at=now, dev_ticket_id=command.dev_ticket_id)]


def _discuss(state: ChangeRequestState, command: Discuss, now: datetime) -> list[Event]:
    if not state.is_open:
        raise WrongStatus(f"{_closed(state)}; the discussion is over")
    return [Discussed(at=now, note=_text(command.note, "a note for the customer"))]


def _plan(state: ChangeRequestState, command: PlanRelease, now: datetime) -> list[Event]:
    if state.status is ChangeRequestStatus.PLANNED:
        raise AlreadyDone(_closed(state))
    if state.status is ChangeRequestStatus.DECLINED:
        raise WrongStatus(f"{_closed(state)}; a declined request cannot be planned")
    if state.status is ChangeRequestStatus.SUBMITTED:
        # The SLA: change requests "werden von uns diskutiert und dann
        # gegebenenfalls ... eingeplant" - discussion comes first.
        raise WrongStatus(
            f"change request {state.change_request_id} has not been discussed yet: "
            "discuss it before planning it"
        )
    release = " ".join(_text(command.release, "the release (e.g. 2027.1)").split())
    return [ReleasePlanned(at=now, release=release)]


def _decline(state: ChangeRequestState, command: Decline, now: datetime) -> list[Event]:
    if state.status is ChangeRequestStatus.DECLINED:
        raise AlreadyDone(_closed(state))
    if state.status is ChangeRequestStatus.PLANNED:
        raise WrongStatus(f"{_closed(state)}; a planned request cannot be declined")
    if state.status is ChangeRequestStatus.SUBMITTED:
        raise WrongStatus(
            f"change request {state.change_request_id} has not been discussed yet: "
            "discuss it before declining it"
        )
    return [ChangeRequestDeclined(at=now, reason=_text(command.reason, "a reason"))]


# -- evolve --------------------------------------------------------------------


def evolve(state: ChangeRequestState | None, event: Event) -> ChangeRequestState:
    """Apply one event; returns the new state (the old one is unchanged).

    Raises:
        ValueError: A first event that is not ``submitted``.
    """
    if state is None:
        if not isinstance(event, ChangeRequestSubmitted):
            raise ValueError(f"a change request starts with 'submitted', not {event.type!r}")
        return ChangeRequestState(
            change_request_id=event.change_request_id,
            request=event.request,
            received_at=event.received_at,
            events=(event,),
        )
    changes: dict[str, object] = {"events": (*state.events, event)}
    match event:
        case DevTicketCreated():
            changes["dev_ticket_id"] = event.dev_ticket_id
        case Discussed():
            changes |= {
                "status": ChangeRequestStatus.UNDER_DISCUSSION,
                "notes": (*state.notes, event.note),
            }
        case ReleasePlanned():
            changes |= {
                "status": ChangeRequestStatus.PLANNED,
                "release": event.release,
                "closed_at": event.at,
            }
        case ChangeRequestDeclined():
            changes |= {
                "status": ChangeRequestStatus.DECLINED,
                "decline_reason": event.reason,
                "closed_at": event.at,
            }
        case _:
            pass  # recorded in the event list only
    return state.model_copy(update=changes)


def fold(state: ChangeRequestState | None, events: Iterable[Event]) -> ChangeRequestState:
    """Apply ``events`` in order.

    Raises:
        ValueError: The sequence is empty and ``state`` is ``None``.
    """
    return fold_with(evolve, state, events)


# -- views ---------------------------------------------------------------------


class ChangeRequestSummary(BaseModel):
    """One row of ``sla change-request list``."""

    model_config = ConfigDict(frozen=True)

    change_request_id: str
    status: ChangeRequestStatus
    company: str
    full_name: str
    email: str
    title: str
    received_at: datetime
    dev_ticket_id: str | None
    release: str | None
    decline_reason: str | None
    closed_at: datetime | None


class ChangeRequestView(ChangeRequestSummary):
    """Everything about one change request: the request, the notes and every event."""

    request: ChangeRequest
    notes: tuple[str, ...]
    events: tuple[Event, ...]


def summarize(state: ChangeRequestState) -> ChangeRequestSummary:
    """The list row of ``state``."""
    return ChangeRequestSummary(**_summary_fields(state))


def build_view(state: ChangeRequestState) -> ChangeRequestView:
    """The full view of ``state``."""
    return ChangeRequestView(
        **_summary_fields(state), request=state.request, notes=state.notes, events=state.events
    )


def _summary_fields(state: ChangeRequestState) -> dict[str, object]:
    return {
        "change_request_id": state.change_request_id,
        "status": state.status,
        "company": state.request.company,
        "full_name": state.request.full_name,
        "email": state.request.email,
        "title": state.request.title,
        "received_at": state.received_at,
        "dev_ticket_id": state.dev_ticket_id,
        "release": state.release,
        "decline_reason": state.decline_reason,
        "closed_at": state.closed_at,
    }


# -- effects -------------------------------------------------------------------


class ChangeRequestEffects(BaseModel):
    """The side effects of one event, delivered in event order."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    dev_ticket: DevTicketTransition | None = None
    message: OutgoingMessage | None = None


def effects_of(
    state: ChangeRequestState,
    first: int,
    *,
    recipients: tuple[str, ...],
    timezone: str,
) -> list[ChangeRequestEffects]:
    """Side effects of the events ``state.events[first:]``, each fixed at event time.

    Every customer message carries the development ticket ID, so nothing is
    sent before the ticket exists: its creation is what sends the receipt.

    Args:
        state: The state after the new events.
        first: Position of the first new event.
        recipients: Customer addresses (requester and directory contacts).
        timezone: Zone for times shown in German texts.
    """
    effects = []
    replayed = fold(None, state.events[:first]) if first else None
    for sequence in range(first, len(state.events)):
        event = state.events[sequence]
        replayed = evolve(replayed, event)
        effect = _effect(replayed, event, sequence, recipients, timezone)
        if effect is not None:
            effects.append(effect)
    return effects


def _thread_root(state: ChangeRequestState) -> str | None:
    """The receipt's Message-ID: it was sent for the dev ticket's creation, the first mail."""
    for sequence, event in enumerate(state.events):
        if isinstance(event, DevTicketCreated):
            return make_message_id(
                state.change_request_id, str(sequence), "change_request_received"
            )
    return None


def _effect(
    state: ChangeRequestState,
    event: Event,
    sequence: int,
    recipients: tuple[str, ...],
    timezone: str,
) -> ChangeRequestEffects | None:
    if state.dev_ticket_id is None:
        return None
    status: DevTicketStatus | None = None
    note: str | None = None
    match event:
        case DevTicketCreated():
            template = "change_request_received"
        case Discussed():
            template, status, note = (
                "change_request_discussion",
                DevTicketStatus.IN_DISCUSSION,
                event.note,
            )
        case ReleasePlanned():
            template, status = "change_request_planned", DevTicketStatus.PLANNED
        case ChangeRequestDeclined():
            template, status, note = (
                "change_request_declined",
                DevTicketStatus.DECLINED,
                event.reason,
            )
        case _:
            return None  # submission waits for the dev ticket; failures are internal
    transition = None
    if status is not None:
        transition = DevTicketTransition(
            dev_ticket_id=state.dev_ticket_id,
            status=status,
            key=f"{state.change_request_id}.{sequence}",
            note=note,
            release=state.release if status is DevTicketStatus.PLANNED else None,
        )
    context: dict[str, JsonValue] = {
        "change_request_id": state.change_request_id,
        "dev_ticket_id": state.dev_ticket_id,
        "requester": state.request.full_name,
        "company": state.request.company,
        "title": state.request.title,
        "received_at": state.received_at.isoformat(),
        "at": event.at.isoformat(),
        "first_note": len(state.notes) == 1,
        "note": note,
        "release": state.release,
        "reason": state.decline_reason,
    }
    message = OutgoingMessage(
        template=template,
        message_id=make_message_id(state.change_request_id, str(sequence), template),
        thread_root=_thread_root(state),
        to=recipients,
        date=event.at,
        timezone=timezone,
        context=context,
    )
    return ChangeRequestEffects(sequence=sequence, dev_ticket=transition, message=message)
