"""``OnCallBookingWorkflow``: one booking of extended on-call (workflow ID = booking ID).

Orchestration only; the rules live in :mod:`domain.oncall`. The workflow

* computes the reminder instant (opening of the last business day before the
  window) in a local activity, since calendar arithmetic never runs here,
* tells the company's open incidents about the new window (activity), and
  sends the customer's confirmation,
* sleeps until the reminder, the start and the end (``wait_condition`` with a
  timeout, woken early by a cancellation), reminding on-duty on the way,
* bills the started hours into the ledger at the end (or at a cancellation
  while running), exactly once,
* accepts ``cancel`` and ``assign`` (name or replace the operator; the
  customer and on-duty are told) as updates with validators (refusals never
  reach history),
* keeps the ``LifecycleState`` search attribute current; ``Company`` and
  ``WindowStart`` are set at start, the window end travels in the memo, and
  so does the operator (upserted when it changes),
* hands what changes to the archive as events (``domain.oncall_events``,
  ``workflows/archive_feed.py``): every change of the booking goes through
  :meth:`OnCallBookingWorkflow._change`, which records the events that take
  the old snapshot to the new one; the main loop sends them where it upserts
  the search attribute.

Replay: what a booking is billed is decided by its ``terms``, recorded in the
start input; bookings started before terms existed have none and are billed
as they were then (``domain.oncall.terms_of``), so their histories issue the
same commands. ``assign`` is a new handler: histories without it are unchanged.

E-mails go out from a separate task, in order, so that a mail outage never
delays the window's state changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

from workflows.archive_feed import ArchiveFeed
from workflows.delivery import Failed, attempt, deliver_message
from workflows.effect_queue import EffectQueue
from workflows.options import (
    ACTIVITY_TIMEOUT,
    LOCAL_TIMEOUT,
    RETRY,
    checked_input,
    refusal,
)
from workflows.timers import ProvenClock
from workflows.visibility import SearchAttributeSync

with workflow.unsafe.imports_passed_through():
    from activities.oncall import (
        OnCallActivities,
        OnCallReminderRequest,
        SyncWindowsRequest,
    )
    from domain.archive_feed import oncall_batch
    from domain.errors import DomainError
    from domain.messages import OutgoingMessage
    from domain.oncall import (
        AssignOperator,
        BookingStatus,
        CancelBooking,
        OnCallBooking,
        StepKind,
        activate,
        assign_operator,
        bill,
        cancel,
        cancellation_message,
        complete,
        confirmation_message,
        next_step,
        operator_message,
        remind,
        reminder_message,
        schedule_reminder,
        with_billing,
        with_note,
    )
    from domain.oncall_events import BookingEvent, booking_changes
    from domain.sla import SlaPolicy
    from workflows import names


OPERATOR_MEMO = "operator"
"""Memo key of the booking's operator (set at start, upserted by ``assign``)."""


class OnCallBookingInput(BaseModel):
    """Start input of :class:`OnCallBookingWorkflow`.

    Attributes:
        booking: The new booking (state ``booked``), validated by the client.
        policy: The policy snapshot (contacts, customer directory, rate, calendar).
        archive_feed: Hand the booking's events to the archive
            (``workflows/archive_feed.py``). Starters set it; bookings made
            before it existed did not feed the archive and replay that way
            (decided by the recorded input, not by a patch, as for an
            incident). The workflow never continues as new.
    """

    model_config = ConfigDict(frozen=True)

    booking: OnCallBooking
    policy: SlaPolicy
    archive_feed: bool = False


@workflow.defn
class OnCallBookingWorkflow:
    """The lifecycle of one extended on-call booking."""

    @workflow.init
    def __init__(self, input: OnCallBookingInput) -> None:
        """Start from the booking the client validated."""
        self._policy = input.policy
        self._booking = input.booking
        self._mail = EffectQueue(self._send)
        self._search_attributes = SearchAttributeSync()
        self._clock = ProvenClock()
        # The booking's events for the archive (the snapshot is what the rules read).
        self._events: tuple[BookingEvent, ...] = booking_changes(
            None, input.booking, input.booking.booked_at
        )
        self._archiving = input.archive_feed
        self._archive = ArchiveFeed(
            lambda first, limit: oncall_batch(self._booking, self._events, first, limit),
            lambda: len(self._events),
            input.policy.effects.give_up_after,
        )
        if self._archiving:
            self._archive.mark_due()  # the booking: sent at the main loop's first turn

    # -- query and update ------------------------------------------------------

    @workflow.query
    def view(self) -> OnCallBooking:
        """The booking as it stands."""
        return self._booking

    @workflow.query
    def events(self) -> tuple[BookingEvent, ...]:
        """The booking's events as the archive keeps them (``sla archive rebuild`` reads them)."""
        return self._events

    @workflow.update
    async def cancel(self, command: CancelBooking) -> OnCallBooking:
        """Cancel the booking: free before the start, started hours billed after it."""
        now = self._clock.now()
        try:
            self._change(cancel(self._booking, command, now), now)
        except DomainError as error:
            raise refusal(error) from None
        return self._booking

    @cancel.validator
    def _validate_cancel(self, command: CancelBooking) -> None:
        checked_input(command)
        try:
            cancel(self._booking, command, self._clock.now_for_validator())
        except DomainError as error:
            raise refusal(error) from None

    @workflow.update
    async def assign(self, command: AssignOperator) -> OnCallBooking:
        """Name the operator, or replace the one named; the customer and on-duty are told."""
        now = self._clock.now()
        try:
            self._change(assign_operator(self._booking, command, now), now)
        except DomainError as error:
            raise refusal(error) from None
        # ``sla oncall list`` reads the operator from visibility, not from the workflow.
        workflow.upsert_memo({OPERATOR_MEMO: self._booking.operator})
        self._mail.add([operator_message(self._booking, self._policy)])
        return self._booking

    @assign.validator
    def _validate_assign(self, command: AssignOperator) -> None:
        checked_input(command)
        try:
            assign_operator(self._booking, command, self._clock.now_for_validator())
        except DomainError as error:
            raise refusal(error) from None

    # -- run ---------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OnCallBookingInput) -> OnCallBooking:
        """Run the booking until it is completed or cancelled; returns the final booking."""
        self._mail.start()
        try:
            reminder_at = await workflow.execute_local_activity_method(
                OnCallActivities.compute_oncall_reminder,
                OnCallReminderRequest(policy=self._policy, start=self._booking.start),
                start_to_close_timeout=LOCAL_TIMEOUT,
                summary="reminder: opening of the previous business day",
            )
            self._change(schedule_reminder(self._booking, reminder_at), workflow.now())
            self._mail.add([confirmation_message(self._booking, self._policy)])
            if not self._booking.is_finished:
                await self._sync_incidents()
            while not self._booking.is_finished:
                self._upsert_lifecycle()
                await self._next_step()
            self._upsert_lifecycle()
            await self._finish()
            await self._mail.until_drained()
            if self._archiving:
                # After the billing and the last e-mails: their notes are events too.
                await self._archive.drain()
        finally:
            self._mail.stop()
        return self._booking

    async def _next_step(self) -> None:
        """Take the due step once its instant has passed, else sleep until then or a cancellation.

        "Passed" is judged from history (:class:`ProvenClock`) and the step is
        taken at its own instant, so replay takes the branches the live run took.
        """
        booking = self._booking
        step = next_step(booking)
        if step is None:
            return
        if not self._clock.has_passed(step.at):
            await self._clock.sleep_until(
                step.at, lambda: self._booking is not booking, summary=step.kind.value
            )
            return
        if step.kind is StepKind.REMIND:
            self._change(remind(booking, step.at), step.at)
            self._mail.add([reminder_message(self._booking, self._policy, step.at)])
        elif step.kind is StepKind.ACTIVATE:
            self._change(activate(booking, step.at), step.at)
        else:
            self._change(complete(booking, step.at), step.at)

    def _change(self, booking: OnCallBooking, at: datetime, *, archive: bool = True) -> None:
        """Take the booking to ``booking`` (a step at ``at``) and record what changed as events.

        The events are due for the archive (``archive``): the main loop's next
        turn sends them. Code running in an activity's continuation (the
        billing, notes of failed effects) passes ``archive=False``: a command
        there would not replay in place (workflows/archive_feed.py); those
        events go with the drain before completion.
        """
        events = booking_changes(self._booking, booking, at)
        self._booking = booking
        if events:
            self._events = (*self._events, *events)
            if archive and self._archiving:
                self._archive.mark_due()

    async def _finish(self) -> None:
        """Bill what was used, tell the customer and the incidents about a cancellation."""
        record = bill(self._booking, self._policy.oncall)
        if self._booking.status is BookingStatus.CANCELLED:
            self._mail.add([cancellation_message(self._booking, self._policy, record)])
            await self._sync_incidents()
        if record is not None:
            billed = await attempt(
                workflow.execute_activity_method(
                    OnCallActivities.record_oncall_billing,
                    record,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=self._policy.effects.give_up_after,
                    retry_policy=RETRY,
                    summary=f"bill {record.hours} h" if not record.fee else "bill cancellation fee",
                ),
                self._policy.effects.give_up_after,
            )
            if isinstance(billed, Failed):
                # The record stays in the workflow's history; operators see the note.
                self._change(
                    with_note(
                        self._booking,
                        f"billing of {record.hours} h not written to the ledger: {billed.error}",
                    ),
                    workflow.now(),
                    archive=False,
                )
            else:
                self._change(with_billing(self._booking, record), workflow.now(), archive=False)

    async def _sync_incidents(self) -> None:
        """Send the company's windows, with this booking's as it now counts, to its incidents."""
        synced = await attempt(
            workflow.execute_activity_method(
                OnCallActivities.sync_incident_windows,
                SyncWindowsRequest(
                    company=self._booking.company,
                    booking_id=self._booking.booking_id,
                    window=self._booking.window(),
                ),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=self._policy.effects.give_up_after,
                retry_policy=RETRY,
                summary="on-call windows to open incidents",
            ),
            self._policy.effects.give_up_after,
        )
        if isinstance(synced, Failed):
            # Permanent (no visibility): the booking stands; operators see the note.
            self._change(
                with_note(
                    self._booking,
                    f"open incidents were not told about the window: {synced.error}",
                ),
                workflow.now(),
                archive=False,
            )

    # -- e-mail --------------------------------------------------------------------

    async def _send(self, message: OutgoingMessage) -> None:
        """Send one queued e-mail (the queue's); a permanent failure becomes a note."""
        undelivered = await deliver_message(message, RETRY, self._policy.effects.give_up_after)
        if undelivered is not None:
            what = "refused for" if undelivered.partial else "not delivered:"
            self._change(
                with_note(self._booking, f"{message.template} {what} {undelivered.error}"),
                workflow.now(),
                archive=False,
            )

    # -- search attributes ----------------------------------------------------------

    def _upsert_lifecycle(self) -> None:
        self._search_attributes.sync([(names.LIFECYCLE_STATE, self._booking.status.value)])
        if self._archiving:
            # The same fixed point for the archive's one command (never awaited).
            self._archive.send_due()
