"""``ChangeRequestWorkflow``: one change request ("Änderungswunsch"), workflow ID = its ID.

No SLA clock and no timers: the workflow

* creates the development ticket (activity; the tracker is idempotent per
  change request ID, so a retry returns the same ``DEV-…``) and records it,
  which sends the customer the receipt with the development ticket ID,
* accepts ``discuss``, ``plan`` and ``decline`` as updates (validated first;
  refusals never reach history), each notified to the customer and mirrored
  on the development ticket,
* keeps the ``Company``, ``LifecycleState`` and ``DevTicket`` search attributes
  current, and completes once planned or declined and every effect is delivered,
* hands every event to the archive (``workflows/archive_feed.py``): updates
  mark their events due, and the run's own loop, the one place where nothing
  but a new event wakes it, starts the append (a change request has no timers,
  so that loop is its main loop's fixed point).

``LinkBugWorkflow`` runs the ``link_incident`` activity for ``sla change-request
link-bug``, so that the tracker is only ever touched by the worker's adapter.

Every rule lives in :mod:`domain.change_request`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

from workflows.archive_feed import ArchiveFeed
from workflows.delivery import Failed, attempt, deliver_message
from workflows.dev_ticket import start_reporter_mails
from workflows.effect_queue import EffectQueue
from workflows.options import (
    ACTIVITY_TIMEOUT,
    EFFECT_GIVE_UP,
    OPERATOR_RETRY,
    RETRY,
    checked_input,
    refusal,
)
from workflows.visibility import SearchAttributeSync

with workflow.unsafe.imports_passed_through():
    from activities.dev_tickets import DevTicket, DevTicketActivities, IncidentLink, NewDevTicket
    from domain.archive_feed import change_request_batch
    from domain.change_request import (
        ChangeRequestEffects,
        ChangeRequestState,
        ChangeRequestView,
        Command,
        Decline,
        DevTicketKind,
        Discuss,
        PlanRelease,
        RecordDeliveryFailure,
        RecordDevTicket,
        RecordTrackerFailure,
        SubmitChangeRequest,
        build_view,
        decide,
        effects_of,
        fold,
    )
    from domain.dev_ticket import bug_linked_message
    from domain.errors import DomainError
    from domain.messages import OutgoingMessage
    from domain.report import ChangeRequest
    from workflows import names


class ChangeRequestInput(BaseModel):
    """Start input of :class:`ChangeRequestWorkflow`.

    Attributes:
        change_request_id: The change request ID (also the workflow ID).
        request: The validated request.
        received_at: When it was received (aware).
        recipients: Customer addresses for every message (requester and the
            company's directory contacts, resolved at intake).
        timezone: Zone for times in German texts.
        give_up_after: How long a side effect is retried (the policy's
            ``[effects] give_up_after``; ``None``: the default of older starts).
        archive_feed: Hand every event to the archive (``workflows/archive_feed.py``).
            Starters set it; requests submitted before it existed did not feed
            the archive and replay that way (decided by the recorded input, not
            by a patch, as for an incident). The workflow never continues as
            new, so no position is carried.
    """

    model_config = ConfigDict(frozen=True)

    change_request_id: str
    request: ChangeRequest
    received_at: datetime
    recipients: tuple[str, ...]
    timezone: str = "Europe/Berlin"
    give_up_after: timedelta | None = None
    archive_feed: bool = False


@workflow.defn
class ChangeRequestWorkflow:
    """The lightweight lifecycle of one change request."""

    @workflow.init
    def __init__(self, input: ChangeRequestInput) -> None:
        """Submit the request, so that ``view`` answers from the first task on."""
        self._input = input
        self._give_up = input.give_up_after or EFFECT_GIVE_UP
        self._effects = EffectQueue(self._deliver)
        self._state: ChangeRequestState = fold(
            None,
            decide(
                None,
                SubmitChangeRequest(
                    change_request_id=input.change_request_id,
                    request=input.request,
                    received_at=input.received_at,
                ),
                workflow.now(),
            ),
        )
        self._search_attributes = SearchAttributeSync()
        self._archiving = input.archive_feed
        self._archive = ArchiveFeed(
            lambda first, limit: change_request_batch(self._state, first, limit),
            lambda: len(self._state.events),
            self._give_up,
        )
        if self._archiving:
            self._archive.mark_due()  # the submission: sent once the run's loop starts

    # -- query and updates ---------------------------------------------------

    @workflow.query
    def view(self) -> ChangeRequestView:
        """The full state with every domain event."""
        return build_view(self._state)

    @workflow.update
    async def discuss(self, command: Discuss) -> ChangeRequestView:
        """Start or continue the discussion; the note goes to the customer."""
        return await self._handle_update(command)

    @discuss.validator
    def _validate_discuss(self, command: Discuss) -> None:
        self._validate(command)

    @workflow.update
    async def plan(self, command: PlanRelease) -> ChangeRequestView:
        """Plan the request for a feature release; the customer is told which."""
        return await self._handle_update(command)

    @plan.validator
    def _validate_plan(self, command: PlanRelease) -> None:
        self._validate(command)

    @workflow.update
    async def decline(self, command: Decline) -> ChangeRequestView:
        """Decline the request; the customer gets the reason."""
        return await self._handle_update(command)

    @decline.validator
    def _validate_decline(self, command: Decline) -> None:
        self._validate(command)

    def _validate(self, command: Command) -> None:
        checked_input(command)
        try:
            decide(self._state, command, workflow.now())
        except DomainError as error:
            raise refusal(error) from None

    async def _handle_update(self, command: Command) -> ChangeRequestView:
        # Every customer message names the development ticket, and the first
        # one announces it: operator steps wait until it exists.
        await workflow.wait_condition(lambda: self._state.dev_ticket_id is not None)
        try:
            self._apply(command)
        except DomainError as error:
            raise refusal(error) from None  # a concurrent update got there first
        return build_view(self._state)

    # -- core ----------------------------------------------------------------

    def _apply(self, command: Command, *, archive: bool = True) -> None:
        """Decide ``command`` now and queue what it causes.

        The new events are due for the archive (``archive``); the run's loop
        sends them. The effect queue passes ``archive=False``: it records
        events in an activity's continuation, where a command would not replay
        in place (workflows/archive_feed.py); they go with the next round or
        the drain.
        """
        events = decide(self._state, command, workflow.now())
        if events:
            first = len(self._state.events)
            self._state = fold(self._state, events)
            self._effects.add(
                effects_of(
                    self._state,
                    first,
                    recipients=self._input.recipients,
                    timezone=self._input.timezone,
                )
            )
            self._upsert_search_attributes()
            if archive and self._archiving:
                self._archive.mark_due()

    @workflow.run
    async def run(self, input: ChangeRequestInput) -> ChangeRequestView:
        """Run until planned or declined and every message is out; returns the final view."""
        self._upsert_search_attributes()
        if self._archiving:
            # The submission, before the tracker is asked: an outage of the
            # tracker must not keep it out of the archive. The run's first
            # step, where no handler has issued anything (updates wait for the
            # development ticket).
            self._archive.send_due()
        request = input.request
        new = NewDevTicket(
            key=input.change_request_id,
            kind=DevTicketKind.FEATURE,
            title=request.title,
            description=request.description,
            company=request.company,
            reference=input.change_request_id,
        )
        while True:
            ticket = await attempt(
                workflow.execute_activity_method(
                    DevTicketActivities.create_dev_ticket,
                    new,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=self._give_up,
                    retry_policy=RETRY,
                    summary="create development ticket",
                ),
                self._give_up,
            )
            if not isinstance(ticket, Failed):
                break
            # Nothing else of the change request can happen without its ticket
            # (every message names it): recorded for the operators, then tried
            # again, so an outage of the tracker shows instead of hiding.
            self._apply(RecordTrackerFailure(action="create", error=ticket.error))
        # Effects are delivered in event order, one after the other: a slow
        # mail server delays the messages, never an operator's update.
        self._effects.start()
        try:
            self._apply(RecordDevTicket(dev_ticket_id=ticket.id))
            if self._archiving:
                await self._archive_until_closed()
            else:
                await workflow.wait_condition(lambda: not self._state.is_open)
            await self._effects.until_drained()
            if self._archiving:
                # After the last effects: their failures are events too.
                await self._archive.drain()
        finally:
            self._effects.stop()
        return build_view(self._state)

    async def _archive_until_closed(self) -> None:
        """The main loop: send what is due to the archive, until planned or declined.

        The one place that starts appends (never a handler, never an effect's
        continuation: workflows/archive_feed.py says why). It wakes only when
        an update marked events due or closed the request. The submission
        went at the run's start; tracker failures recorded while the
        development ticket could not be created go with the first round here,
        once it exists.
        """
        while True:
            self._archive.send_due()
            if not self._state.is_open:
                return
            await workflow.wait_condition(lambda: self._archive.has_due or not self._state.is_open)

    async def _deliver(self, effects: ChangeRequestEffects) -> None:
        """Mirror one event on the development ticket and e-mail the customer (the queue's)."""
        transition = effects.dev_ticket
        if transition is not None:
            moved = await attempt(
                workflow.execute_activity_method(
                    DevTicketActivities.transition_dev_ticket,
                    transition,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=self._give_up,
                    retry_policy=RETRY,
                    summary=f"dev ticket → {transition.status.value}",
                ),
                self._give_up,
            )
            if isinstance(moved, Failed):
                # Recorded (`sla change-request show`); the customer's message still goes.
                self._apply(
                    RecordTrackerFailure(
                        action="move", dev_ticket_id=transition.dev_ticket_id, error=moved.error
                    ),
                    archive=False,
                )
        if effects.message is not None:
            await self._send(effects.message)

    async def _send(self, message: OutgoingMessage) -> None:
        undelivered = await deliver_message(message, RETRY, self._give_up)
        if undelivered is not None:
            # Recorded as an event, visible in `sla change-request show`.
            self._apply(
                RecordDeliveryFailure(
                    template=message.template, to=undelivered.to, error=undelivered.error
                ),
                archive=False,
            )

    def _upsert_search_attributes(self) -> None:
        state = self._state
        values: list[tuple[Any, Any]] = [
            (names.COMPANY, state.request.company),
            (names.LIFECYCLE_STATE, state.status.value),
        ]
        if state.dev_ticket_id is not None:
            values.append((names.DEV_TICKET, state.dev_ticket_id))
        self._search_attributes.sync(values)


@workflow.defn
class LinkBugWorkflow:
    """Link an incident to a bug ticket (``sla change-request link-bug``).

    Used for resolved incidents (an open one links through its own workflow).
    With the reporter's contact in the input (sent since the bug lifecycle),
    the reporter is told the bug's DEV ID; the mail has the Message-ID the
    incident's own mail would have had, so a link made twice is told once.
    Runs recorded before carry no contact and send nothing, as recorded.
    """

    @workflow.run
    async def run(self, link: IncidentLink) -> DevTicket:
        """Create or reuse the bug ticket and record the link; returns the dev ticket."""
        ticket = await workflow.execute_activity_method(
            DevTicketActivities.link_incident,
            link,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=OPERATOR_RETRY,
            summary=f"link {link.ticket_id} to a bug ticket",
        )
        workflow.upsert_search_attributes([names.DEV_TICKET.value_set(ticket.id)])
        if link.contact is not None:
            message = bug_linked_message(
                ticket, link.ticket_id, link.contact, workflow.now(), "Europe/Berlin"
            )
            await start_reporter_mails(
                [message] if message else [], EFFECT_GIVE_UP, about=link.ticket_id
            )
        return ticket
