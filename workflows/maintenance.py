"""``MaintenanceWorkflow``: one planned maintenance window (workflow ID = maintenance ID).

Orchestration only; the rules live in :mod:`domain.maintenance`. The workflow

* opens the maintenance from its validated plan and announces it at once
  (one e-mail per directory customer) and on the status page ("geplant"),
* sleeps until the window starts, then until it ends, posting "in progress"
  and "completed" to the status page; a reschedule or an extension
  re-announces and the timer is recomputed on the next turn of the loop,
* at the start asks a local activity when business hours begin next; a window
  still running then has overrun: the workflow opens an incident through
  intake (idempotent: its request ID derives from the maintenance ID) and
  records its ticket ID,
* accepts ``reschedule``, ``extend``, ``end`` (early) and ``cancel`` as
  updates (validated first, so a refusal never reaches history) and answers
  the ``view`` query,
* keeps the ``WindowStart`` and ``LifecycleState`` search attributes and the
  ``window_end`` memo current, for ``sla maintenance list``,
* hands every event to the archive (``workflows/archive_feed.py``) as the
  incident workflow does: recorded events are marked due, the main loop sends
  them where it upserts its search attributes, and the run drains them
  before it completes.

Only UTC instants are handled here: the usual-window check and the maintenance
ID need the calendar zone and are computed on the client
(:func:`service.maintenance.start_maintenance`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.archive_feed import ArchiveFeed
from workflows.delivery import Failed, attempt, deliver_message
from workflows.effect_queue import EffectQueue
from workflows.options import ACTIVITY_TIMEOUT, LOCAL_TIMEOUT, RETRY, checked_input, refusal
from workflows.timers import ProvenClock
from workflows.visibility import SearchAttributeSync

with workflow.unsafe.imports_passed_through():
    from activities.calendar import CalendarActivities, OpeningRequest
    from activities.maintenance import MaintenanceActivities, OverrunIncidentRequest
    from activities.status_page import MaintenancePostRequest, StatusPostActivities
    from domain.archive_feed import maintenance_batch
    from domain.errors import DomainError
    from domain.maintenance import (
        CancelMaintenance,
        EndMaintenance,
        ExtendMaintenance,
        MaintenanceCommand,
        MaintenanceEffects,
        MaintenancePlan,
        MaintenanceState,
        PlanMaintenance,
        RecordDeliveryFailure,
        RecordOverrunIncident,
        RescheduleMaintenance,
        StartMaintenance,
        customer_recipients,
        decide,
        effects_of,
        fold,
        pending_timer,
        unreached_customers,
    )
    from domain.messages import OutgoingMessage
    from domain.sla import SlaPolicy
    from workflows import names

WINDOW_END_MEMO = "window_end"
"""Memo key of the window's end (the dev server allows only 3 Datetime search attributes)."""
SERVICES_MEMO = "services"
MESSAGE_MEMO = "message"

WATCH_OVERRUN = "maintenance-watch-overrun"
"""Patch: the start asks when business hours begin (a local activity) to watch for an overrun.

Runs that reached their start before it replay without the activity and are
not watched; runs started after it (or still waiting for their start) are.
"""


class MaintenanceInput(BaseModel):
    """Start input of :class:`MaintenanceWorkflow`.

    Attributes:
        maintenance_id: The maintenance ID (also the workflow ID).
        plan: The plan, validated by the client against ``planned_at``.
        planned_at: When the operator planned it; the notice period counts from here.
        policy: Policy snapshot: notice period, customer directory, time zone.
        status_page_id: Workflow ID of the status page (tests use their own).
        archive_feed: Hand every event to the archive (``workflows/archive_feed.py``).
            Starters set it; windows planned before it existed did not feed
            the archive and replay that way. Decided by the recorded input,
            not by a patch (a patch costs every run two history events). The
            workflow never continues as new, so no position is carried.
    """

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    plan: MaintenancePlan
    planned_at: datetime
    policy: SlaPolicy
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID
    archive_feed: bool = False


@workflow.defn
class MaintenanceWorkflow:
    """The announcements and the status page entry of one maintenance window."""

    @workflow.init
    def __init__(self, input: MaintenanceInput) -> None:
        """Open the maintenance from the plan (no I/O yet: effects are queued)."""
        self._input = input
        self._policy = input.policy
        self._state: MaintenanceState | None = None
        self._effects = EffectQueue(self._deliver)
        self._invalid: DomainError | None = None
        self._clock = ProvenClock()
        self._archive = ArchiveFeed(
            lambda first, limit: maintenance_batch(self._current, first, limit),
            lambda: len(self._state.events) if self._state is not None else 0,
            input.policy.effects.give_up_after,
        )
        self._archiving = input.archive_feed
        try:
            # The notice period counts from when the operator planned, which
            # the client checked; a slow start must not turn it into a refusal.
            # Who is told is recorded on the planned event (the operator was
            # warned about customers without contact when planning). Computed
            # from the input alone, so it is the same on replay.
            self._apply(
                PlanMaintenance(
                    maintenance_id=input.maintenance_id,
                    plan=input.plan,
                    recipients=len(customer_recipients(input.policy)),
                    unreached=unreached_customers(input.policy),
                ),
                input.planned_at,
            )
        except DomainError as error:
            self._invalid = error  # run() fails the workflow with it
        # The memo, like the search attributes, is tracked from this run's own
        # upserts only: memo_value() at init may already show later values.
        self._search_attributes = SearchAttributeSync()
        self._memo: dict[str, Any] = {}

    # -- query and updates ----------------------------------------------------

    @workflow.query
    def view(self) -> MaintenanceState:
        """The maintenance with every event."""
        if self._state is None:
            raise ApplicationError("the maintenance was refused at start", type="NotPlanned")
        return self._state

    @workflow.update
    def reschedule(self, command: RescheduleMaintenance) -> MaintenanceState:
        """Move the window (only while planned; the notice period applies again); re-announces."""
        return self._handle_update(command)

    @reschedule.validator
    def _validate_reschedule(self, command: RescheduleMaintenance) -> None:
        self._validate(command)

    @workflow.update
    def extend(self, command: ExtendMaintenance) -> MaintenanceState:
        """Move the end later (planned or running); customers are told the new end and why."""
        return self._handle_update(command)

    @extend.validator
    def _validate_extend(self, command: ExtendMaintenance) -> None:
        self._validate(command)

    @workflow.update
    def end(self, command: EndMaintenance) -> MaintenanceState:
        """End a running window now, before its end; customers and the status page are told."""
        return self._handle_update(command)

    @end.validator
    def _validate_end(self, command: EndMaintenance) -> None:
        self._validate(command)

    @workflow.update
    def cancel(self, command: CancelMaintenance) -> MaintenanceState:
        """Call the maintenance off (only while planned); customers are told."""
        return self._handle_update(command)

    @cancel.validator
    def _validate_cancel(self, command: CancelMaintenance) -> None:
        self._validate(command)

    def _validate(self, command: MaintenanceCommand) -> None:
        checked_input(command)
        try:
            decide(self._state, command, self._clock.now_for_validator(), self._policy.maintenance)
        except DomainError as error:
            raise refusal(error) from None

    def _handle_update(self, command: MaintenanceCommand) -> MaintenanceState:
        try:
            self._apply(command, self._clock.now())
        except DomainError as error:
            raise refusal(error) from None
        return self._current

    # -- core -------------------------------------------------------------------

    @property
    def _current(self) -> MaintenanceState:
        assert self._state is not None, "maintenance not planned"
        return self._state

    def _apply(self, command: MaintenanceCommand, now: datetime, *, archive: bool = True) -> None:
        """Decide ``command`` at ``now``, fold its events and queue their effects.

        The new events are due for the archive (``archive``): the main loop's
        next turn sends them. The effect queue passes ``archive=False``: it
        records events in an activity's continuation, where the main loop's
        wake-up would not replay in place (workflows/archive_feed.py); its
        events go with the next round or the drain.
        """
        events = decide(self._state, command, now, self._policy.maintenance)
        if not events:
            return
        first = len(self._state.events) if self._state is not None else 0
        self._state = fold(self._state, events)
        self._effects.add(effects_of(self._state, first, self._policy))
        if archive and self._archiving:
            self._archive.mark_due()

    @workflow.run
    async def run(self, input: MaintenanceInput) -> MaintenanceState:
        """Announce, wait for the window, follow it to its end; returns the final state."""
        if self._invalid is not None:
            raise refusal(self._invalid)
        self._effects.start()
        try:
            while not self._current.status.is_closed:
                self._upsert_visibility()
                await self._next_timer()
            self._upsert_visibility()
            await self._effects.until_drained()
            if self._archiving:
                # After the last effects: their failures are events too.
                await self._archive.drain()
        finally:
            self._effects.stop()
        return self._current

    async def _next_timer(self) -> None:
        """Fire the start or end once its instant has passed, else sleep until then.

        "Passed" is judged from history (:class:`ProvenClock`), and the command is
        decided at its own instant, so replay takes the branches the live run took.
        """
        state = self._current
        timer = pending_timer(state)
        assert timer is not None, "an open maintenance always waits for its start or end"
        if self._clock.has_passed(timer.at):
            command = timer.command
            if isinstance(command, StartMaintenance) and workflow.patched(WATCH_OVERRUN):
                opens = await workflow.execute_local_activity_method(
                    CalendarActivities.compute_business_opening,
                    OpeningRequest(policy=self._policy, at=timer.at),
                    start_to_close_timeout=LOCAL_TIMEOUT,
                    summary="business hours begin",
                )
                if self._state is not state:
                    return  # an update came first (a cancel, a reschedule): decide anew
                command = StartMaintenance(business_opens_at=opens)
            self._apply(command, timer.at)
            return
        await self._clock.sleep_until(
            timer.at,
            lambda: self._state is not state,
            summary=f"{timer.command.kind} maintenance",
        )

    # -- side effects -------------------------------------------------------------

    async def _deliver(self, effects: MaintenanceEffects) -> None:
        """Deliver one event's customer e-mails, status post and incident (the effect queue's)."""
        if effects.open_incident:
            await self._open_overrun_incident()
        for message in effects.messages:
            await self._send(message)
        if effects.post is not None:
            posted = await attempt(
                workflow.execute_activity_method(
                    StatusPostActivities.post_maintenance,
                    MaintenancePostRequest(
                        post=effects.post,
                        workflow_id=self._input.status_page_id,
                        task_queue=workflow.info().task_queue,
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=self._policy.effects.give_up_after,
                    retry_policy=RETRY,
                    summary=f"status page: maintenance {effects.post.state.value}",
                ),
                self._policy.effects.give_up_after,
            )
            if isinstance(posted, Failed):
                self._apply(
                    RecordDeliveryFailure(
                        template="status_post",
                        to=(self._input.status_page_id,),
                        error=posted.error,
                    ),
                    self._clock.now(),
                    archive=False,
                )

    async def _open_overrun_incident(self) -> None:
        opened = await attempt(
            workflow.execute_activity_method(
                MaintenanceActivities.open_overrun_incident,
                OverrunIncidentRequest(
                    maintenance=self._current,
                    policy=self._policy,
                    task_queue=workflow.info().task_queue,
                    status_page_id=self._input.status_page_id,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=self._policy.effects.give_up_after,
                retry_policy=RETRY,
                summary="open overrun incident",
            ),
            self._policy.effects.give_up_after,
        )
        if isinstance(opened, Failed):
            # Recorded where the operator looks (`sla maintenance show`).
            self._apply(
                RecordDeliveryFailure(
                    template="overrun_incident",
                    to=(self._policy.contacts.support_lead,),
                    error=opened.error,
                ),
                self._clock.now(),
                archive=False,
            )
            return
        self._apply(
            RecordOverrunIncident(ticket_id=opened.ticket_id), self._clock.now(), archive=False
        )

    async def _send(self, message: OutgoingMessage) -> None:
        undelivered = await deliver_message(message, RETRY, self._policy.effects.give_up_after)
        if undelivered is not None:
            # Recorded as an event (shown by `sla maintenance show`) so that one
            # bad address does not hold back the other customers.
            self._apply(
                RecordDeliveryFailure(
                    template=message.template, to=undelivered.to, error=undelivered.error
                ),
                self._clock.now(),
                archive=False,
            )

    # -- visibility -------------------------------------------------------------------

    def _upsert_visibility(self) -> None:
        state = self._current
        values: list[tuple[Any, Any]] = [
            (names.WINDOW_START, state.start),
            (names.LIFECYCLE_STATE, state.status.value),
        ]
        self._search_attributes.sync(values)
        if self._archiving:
            # The same fixed point for the archive's one command (never awaited).
            self._archive.send_due()
        memo = visibility_memo(state.end, state.services, state.message)
        if memo != self._memo:
            self._memo = memo
            workflow.upsert_memo(memo)


def visibility_memo(end: datetime, services: tuple[str, ...], message: str) -> dict[str, Any]:
    """The memo ``sla maintenance list`` reads (JSON values only)."""
    return {WINDOW_END_MEMO: end.isoformat(), SERVICES_MEMO: list(services), MESSAGE_MEMO: message}
