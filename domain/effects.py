"""The side effects of new events, fixed at the moment the events happen.

Mail may go out later than the command that caused it (a slow or failing SMTP
server, a busy worker). Computing the messages when the events are applied
means every e-mail describes the incident as it was right after *its* command,
not as it is when the mail finally leaves.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.incident import (
    Acknowledged,
    ClassifiedAsChangeRequest,
    DuplicateRegistered,
    EstimateExtended,
    Event,
    IncidentState,
    MasterFacts,
    Reclassified,
    Resolved,
    change_request_of,
    master_facts,
)
from domain.notifications import Notification, notifications_for
from domain.report import ChangeRequest
from domain.sla import SlaPolicy
from domain.status import StatusPost, status_post_for


class ChangeRequestStart(BaseModel):
    """A change request to start for a report classified as one.

    ``received_at`` is the classification instant: a retried start passes the
    same one, so intake finds the change request it made the first time.
    """

    model_config = ConfigDict(frozen=True)

    request: ChangeRequest
    received_at: datetime


class DuplicateNotice(BaseModel):
    """The master's news for one of its duplicates (a signal to that incident)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    facts: MasterFacts


class EventEffects(BaseModel):
    """What one event causes outside the incident.

    E-mails, a status-page post, a change request, and news for the duplicates
    that follow this incident.
    """

    model_config = ConfigDict(frozen=True)

    sequence: int
    notifications: tuple[Notification, ...] = ()
    status_post: StatusPost | None = None
    change_request: ChangeRequestStart | None = None
    duplicate_notices: tuple[DuplicateNotice, ...] = ()


def duplicate_notices(state: IncidentState, event: Event) -> tuple[DuplicateNotice, ...]:
    """What the duplicates learn from ``event`` of their master ``state``.

    A newly registered duplicate gets the master's facts at once; every
    duplicate gets them again when the master is acknowledged, gets a new
    estimate or is resolved. The facts are the master's after the command
    (the duplicate compares them with its own state, so a repeat is harmless).
    """
    if isinstance(event, DuplicateRegistered):
        targets: tuple[str, ...] = (event.ticket_id,)
    elif isinstance(event, Acknowledged | EstimateExtended | Resolved) or (
        isinstance(event, Reclassified) and event.estimate is not None
    ):
        targets = state.duplicates
    else:
        return ()
    if not targets:
        return ()
    facts = master_facts(state)
    return tuple(DuplicateNotice(ticket_id=t, facts=facts) for t in targets)


def effects_of(state: IncidentState, first: int, policy: SlaPolicy) -> list[EventEffects]:
    """Effects of ``state.events[first:]``, judged on ``state`` (the state after the command).

    Events without any effect are left out.
    """
    effects = []
    for sequence in range(first, len(state.events)):
        event = state.events[sequence]
        item = EventEffects(
            sequence=sequence,
            notifications=tuple(notifications_for(state, sequence, policy)),
            status_post=status_post_for(state, event),
            change_request=(
                ChangeRequestStart(request=change_request_of(state, event), received_at=event.at)
                if isinstance(event, ClassifiedAsChangeRequest)
                else None
            ),
            duplicate_notices=duplicate_notices(state, event),
        )
        if (
            item.notifications
            or item.status_post is not None
            or item.change_request is not None
            or item.duplicate_notices
        ):
            effects.append(item)
    return effects


def split_by_audience(
    effects: list[EventEffects], policy: SlaPolicy
) -> tuple[list[EventEffects], list[EventEffects]]:
    """``effects`` as two lanes: the team's (and the status page's), and the customers'.

    A message counts as the team's when every recipient is one of the policy's
    contacts (on duty, support lead, experts, management); any other is the
    customers'. Each lane keeps event order; a customer's mail server that
    keeps deferring (greylisting, a full mailbox) then never holds back an
    on-duty page, a status post or an escalation to management.

    Returns:
        ``(team, customers)``; events with nothing for a lane are left out of it.
    """
    contacts = policy.contacts
    team_addresses = {
        a.lower()
        for a in (contacts.support_lead, contacts.on_duty, contacts.experts, contacts.management)
    }

    def internal(notification: Notification) -> bool:
        return all(a.lower() in team_addresses for a in notification.to)

    team: list[EventEffects] = []
    customers: list[EventEffects] = []
    for item in effects:
        ours = tuple(n for n in item.notifications if internal(n))
        theirs = tuple(n for n in item.notifications if not internal(n))
        if (
            ours
            or item.status_post is not None
            or item.change_request is not None
            or item.duplicate_notices
        ):
            team.append(item.model_copy(update={"notifications": ours}))
        if theirs:
            customers.append(
                item.model_copy(
                    update={
                        "notifications": theirs,
                        "status_post": None,
                        "change_request": None,
                        "duplicate_notices": (),
                    }
                )
            )
    return team, customers
