"""``IncidentWorkflow``: one support report, from receipt to resolution (workflow ID = ticket ID).

Orchestration only. Every rule lives in :mod:`domain.incident` (``decide`` /
``evolve`` / ``pending_timers``) and :mod:`domain.notifications`; business-time
instants come from local activities. The workflow

* opens the incident with the deadlines of every severity (one local activity),
* sleeps until the earliest pending timer or a state change, and feeds expired
  timers back to ``decide``,
* accepts operator commands as updates (validated first; refusals never reach
  history) and escalation steps as signals,
* closes a report classified as a change request and starts that change request
  (an effect, so the incident never waits for it), and links the incident to
  development tickets (bugs found while resolving it) while it is open,
* delivers the side effects of every new event (e-mails, status page, change
  request) in order, in a separate task so that a mail outage never delays a deadline,
* recomputes its deadlines when the company's booked extended on-call windows
  change (``update_oncall_windows`` signal): those windows are business time,
* hands every event to the archive (``workflows/archive_feed.py``): the main
  loop starts one append for the events recorded since its last turn, never
  awaited; a completing run waits for its appends and sends what is missing,
* keeps search attributes current and continues as new when history grows,
* reopens a resolved ticket in a new run of the same workflow ID, started with
  the closed state (``IncidentInput.reopen``), or keeps a customer's reply on
  it in a short run that ends closed again (``IncidentInput.note``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from workflows.archive_feed import ArchiveFeed
from workflows.delivery import Failed, attempt, deliver_notification
from workflows.effect_queue import EffectQueue, until_all_drained
from workflows.metrics import record_incident_metrics
from workflows.options import (
    ACTIVITY_TIMEOUT,
    LOCAL_TIMEOUT,
    OPERATOR_RETRY,
    RETRY,
    checked_input,
    refusal,
)
from workflows.timers import ProvenClock
from workflows.visibility import SearchAttributeSync, incident_search_attributes

with workflow.unsafe.imports_passed_through():
    from activities.calendar import (
        BusinessSpan,
        BusinessTimeRequest,
        CalendarActivities,
        ClockRequest,
        OutcomeRequest,
        ReminderRequest,
    )
    from activities.change_requests import ChangeRequestActivities, ChangeRequestStartRequest
    from activities.dev_tickets import DevTicket, DevTicketActivities, IncidentLink
    from activities.status_page import StatusPostActivities, StatusPostRequest
    from domain.archive_feed import incident_batch
    from domain.dev_ticket import contact_for
    from domain.effects import (
        ChangeRequestStart,
        DuplicateNotice,
        EventEffects,
        effects_of,
        split_by_audience,
    )
    from domain.errors import DomainError
    from domain.follow_up import FOLLOW_UP_RULES, ScheduledFollowUp, follow_ups_to_schedule
    from domain.incident import (
        Acknowledge,
        AmendReport,
        ClassifyAsChangeRequest,
        Command,
        DecideResources,
        Escalate,
        ExtendEstimate,
        FollowMaster,
        FollowUp,
        IncidentState,
        IncidentStatus,
        LinkAsDuplicate,
        LinkDevTicket,
        MissEstimate,
        OpenIncident,
        PageOnDuty,
        PostStatusUpdate,
        Reclassify,
        RecomputeDeadlines,
        RecordAlert,
        RecordChangeRequest,
        RecordCustomerMessage,
        RecordDeliveryFailure,
        RecordDevTicketLink,
        RecordDiscussion,
        RegisterDuplicate,
        Reopen,
        Resolve,
        TimerDue,
        check_link,
        check_room,
        decide,
        fold,
        pending_timers,
    )
    from domain.notifications import Notification
    from domain.oncall import OnCallWindow, OnCallWindowsUpdate, merge_windows
    from domain.read_model import (
        IncidentResult,
        IncidentSummary,
        IncidentView,
        build_view,
        current_details,
        search_index,
        summarize,
    )
    from domain.sla import IncidentClock

    # Re-exported: starters and tests import the input from here.
    from workflows.incident_input import IncidentInput as IncidentInput
    from workflows.incident_input import Reopening as Reopening

# Incidents started since this patch send e-mail local first and keep their
# timer across state changes that do not move it (docs/PERFORMANCE.md); older
# runs replay, and continue, the way they were recorded.
LEAN_LIFECYCLE = "lean-lifecycle-2026-11"

# Since this patch, a missed estimate that an operator command overtakes (the
# command arrives after the estimate, before its timer fired) gets its new-estimate
# deadline like one its timer records; runs recorded before replay without it.
CAUGHT_UP_MISS = "caught-up-miss-reestimate-2026-12"


@workflow.defn
class IncidentWorkflow:
    """The durable SLA clock of one incident."""

    @workflow.init
    def __init__(self, input: IncidentInput) -> None:
        """Restore carried state (continue-as-new) or start empty."""
        self._input = input
        self._policy = input.policy
        self._state: IncidentState | None = input.state
        self._effects = EffectQueue(self._deliver, input.pending_effects)
        self._customer_effects = EffectQueue(self._deliver, input.pending_customer_effects)
        self._search_attributes = SearchAttributeSync()
        self._clock = ProvenClock()
        self._oncall_windows: tuple[OnCallWindow, ...] = input.oncall_windows
        # The windows the current deadlines were computed with; a lock keeps
        # two quick window changes from applying their deadlines out of order.
        self._clock_windows: tuple[OnCallWindow, ...] = input.oncall_windows
        self._windows_lock = asyncio.Lock()
        # When each open follow-up is due (rules 3; domain.follow_up): computed
        # by a local activity, so recorded in history, and recomputed after
        # continue-as-new.
        self._follow_ups: dict[FollowUp, ScheduledFollowUp] = {}
        # Both decided by the LEAN_LIFECYCLE patch when the run starts.
        self._keep_timer = False
        self._mail_local_first = False
        self._archive = ArchiveFeed(
            lambda first, limit: incident_batch(self._current, first, limit),
            lambda: len(self._state.events) if self._state is not None else 0,
            input.policy.effects.give_up_after,
            input.archived_events,
        )
        self._archiving = input.archive_feed

    # -- queries, updates, signals -------------------------------------------

    @workflow.query
    def view(self) -> IncidentView:
        """The full state with every domain event."""
        if self._state is None:
            raise ApplicationError("the incident is still being opened", type="NotOpenYet")
        return build_view(self._state)

    @workflow.update
    async def acknowledge(self, command: Acknowledge) -> IncidentSummary:
        """Confirm receipt with classification and estimate (customer is told both)."""
        return await self._handle_update(command)

    @acknowledge.validator
    def _validate_acknowledge(self, command: Acknowledge) -> None:
        self._validate(command)

    @workflow.update
    async def reclassify(self, command: Reclassify) -> IncidentSummary:
        """Change the severity; deadlines are recomputed from receipt."""
        return await self._handle_update(command)

    @reclassify.validator
    def _validate_reclassify(self, command: Reclassify) -> None:
        self._validate(command)

    @workflow.update
    async def extend(self, command: ExtendEstimate) -> IncidentSummary:
        """Communicate a new estimate with a reason (stage 1/2 as the SLA says)."""
        return await self._handle_update(command)

    @extend.validator
    def _validate_extend(self, command: ExtendEstimate) -> None:
        self._validate(command)

    @workflow.update
    async def resolve(self, command: Resolve) -> IncidentSummary:
        """Close the incident; the customer gets the resolution confirmation."""
        return await self._handle_update(command)

    @resolve.validator
    def _validate_resolve(self, command: Resolve) -> None:
        self._validate(command)

    @workflow.update
    async def post_status_update(self, command: PostStatusUpdate) -> IncidentSummary:
        """Post a message on the status page."""
        return await self._handle_update(command)

    @post_status_update.validator
    def _validate_post_status_update(self, command: PostStatusUpdate) -> None:
        self._validate(command)

    @workflow.update
    async def classify_as_change_request(self, command: ClassifyAsChangeRequest) -> IncidentSummary:
        """The report is a change request, not a disturbance (new or acknowledged).

        Closes the incident at once; the change request is then started from the
        report and its ID recorded, and the reporter is told it by e-mail.
        """
        return await self._handle_update(command)

    @classify_as_change_request.validator
    def _validate_classify_as_change_request(self, command: ClassifyAsChangeRequest) -> None:
        self._validate(command)

    @workflow.update
    async def amend_report(self, command: AmendReport) -> IncidentSummary:
        """Fill in report items that were missing at intake (or correct them)."""
        return await self._handle_update(command)

    @amend_report.validator
    def _validate_amend_report(self, command: AmendReport) -> None:
        self._validate(command)

    @workflow.update
    async def add_customer_message(self, command: RecordCustomerMessage) -> IncidentSummary:
        """Record a message from the customer (a reply to one of our mails); the team is told.

        Idempotent by the mail's Message-ID.
        """
        return await self._handle_update(command)

    @add_customer_message.validator
    def _validate_add_customer_message(self, command: RecordCustomerMessage) -> None:
        self._validate(command)

    @workflow.update
    async def record_discussion(self, command: RecordDiscussion) -> IncidentSummary:
        """Stage 2: the further procedure was discussed with the customer (ends its reminders)."""
        return await self._handle_update(command)

    @record_discussion.validator
    def _validate_record_discussion(self, command: RecordDiscussion) -> None:
        self._validate(command)

    @workflow.update
    async def link_as_duplicate(self, command: LinkAsDuplicate) -> IncidentSummary:
        """This report is a duplicate of another: follow its estimate, status and resolution."""
        return await self._handle_update(command)

    @link_as_duplicate.validator
    def _validate_link_as_duplicate(self, command: LinkAsDuplicate) -> None:
        self._validate(command)

    @workflow.update
    async def register_duplicate(self, command: RegisterDuplicate) -> IncidentSummary:
        """Another report follows this one: send it this incident's news from now on."""
        return await self._handle_update(command)

    @register_duplicate.validator
    def _validate_register_duplicate(self, command: RegisterDuplicate) -> None:
        self._validate(command)

    @workflow.signal
    async def follow_master(self, command: FollowMaster) -> None:
        """The master of this duplicate was acknowledged, re-estimated or resolved."""
        await self._handle_signal(command)

    @workflow.update
    async def record_alert(self, command: RecordAlert) -> IncidentSummary:
        """Another notification of the monitoring alert group (firing, or resolved)."""
        return await self._handle_update(command)

    @record_alert.validator
    def _validate_record_alert(self, command: RecordAlert) -> None:
        self._validate(command)

    @workflow.update
    async def link_dev_ticket(self, command: LinkDevTicket) -> DevTicket:
        """Link the incident to a bug ticket (created unless one is named); returns it.

        Allowed while the incident is open: a resolved incident's workflow
        completes and takes no updates (``LinkBugWorkflow`` still links it in
        the tracker). Linking the same ticket again records nothing new.
        """
        await workflow.wait_condition(lambda: self._state is not None)
        self._check_link(command)
        try:
            ticket = await workflow.execute_activity_method(
                DevTicketActivities.link_incident,
                IncidentLink(
                    ticket_id=self._current.ticket_id,
                    dev_ticket_id=command.dev_ticket_id,
                    title=command.title,
                    description=command.description,
                    contact=contact_for(self._current.report, self._current.severity),
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=OPERATOR_RETRY,
                summary=f"link {self._current.ticket_id} to a bug ticket",
            )
        except ActivityError as error:
            # The operator reads the tracker's words (e.g. an unknown ticket ID).
            cause = error.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(
                    cause.message, type=cause.type or "LinkFailed", non_retryable=True
                ) from None
            raise ApplicationError(str(error), type="LinkFailed", non_retryable=True) from None
        self._apply(RecordDevTicketLink(dev_ticket_id=ticket.id, title=ticket.title))
        return ticket

    @link_dev_ticket.validator
    def _validate_link_dev_ticket(self, command: LinkDevTicket) -> None:
        checked_input(command)
        if self._state is not None:
            self._check_link(command)

    def _check_link(self, command: LinkDevTicket) -> None:
        try:
            check_link(self._current, command)
        except DomainError as error:
            raise refusal(error) from None

    @workflow.signal
    async def escalate(self, command: Escalate) -> None:
        """Stage 3 (management) or the extended escalation, with a reason."""
        await self._handle_signal(command)

    @workflow.signal
    async def decide_resources(self, command: DecideResources) -> None:
        """Management's answer to a stage-3 escalation."""
        await self._handle_signal(command)

    @workflow.signal
    async def update_oncall_windows(self, update: OnCallWindowsUpdate) -> None:
        """The company's booked on-call windows changed: recompute the deadlines.

        Elapsed business time is never re-judged (see ``merge_windows``);
        breaches already recorded stay recorded.
        """
        await workflow.wait_condition(lambda: self._state is not None)
        self._oncall_windows = merge_windows(
            self._oncall_windows, update.windows, self._clock.now()
        )
        async with self._windows_lock:
            windows = self._oncall_windows  # the latest, if several changes queued up
            if windows == self._clock_windows or not self._current.is_open:
                return
            clock = await self._incident_clock(
                self._current.clock_start, windows, "deadlines with on-call windows"
            )
            self._clock_windows = windows
            try:
                self._apply(RecomputeDeadlines(deadlines=clock.deadlines, windows=windows))
            except DomainError as error:
                # Resolved while the deadlines were computed: nothing left to move.
                workflow.logger.info("deadlines not recomputed: %s", error.message)

    def _validate(self, command: Command) -> None:
        checked_input(command)
        if self._state is None:
            return  # still opening: the handler waits and decides then
        try:
            check_room(self._state, command)
            decide(self._state, command, self._clock.now_for_validator())
        except DomainError as error:
            raise refusal(error) from None

    async def _handle_update(self, command: Command) -> IncidentSummary:
        await workflow.wait_condition(lambda: self._state is not None)
        await self._catch_up_miss(command)
        try:
            self._apply(command)
        except DomainError as error:
            raise refusal(error) from None
        # The summary, not the full view: an update's result is stored in
        # history, and the event list would grow it with every update.
        return summarize(self._current)

    async def _handle_signal(self, command: Command) -> None:
        await workflow.wait_condition(lambda: self._state is not None)
        await self._catch_up_miss(command)
        try:
            self._apply(command)
        except DomainError as error:
            # A signal cannot answer its sender; the CLI checks the command
            # against the `view` query before signalling, so this is a race.
            workflow.logger.warning("refused %s: %s", type(command).__name__, error.message)

    async def _catch_up_miss(self, command: Command) -> None:
        """Let the estimate's own timer record a passed estimate before ``command``.

        The domain catches an overdue miss up itself, but cannot compute the
        business-time deadline of the new estimate (rules 3): a command that
        overtook the timer (after a worker outage, say) left the miss without
        one, and nobody was told when the new estimate was late. So the command
        waits until the main loop has fired the timer (which computes that
        deadline): at once when the timer fired in this task, a moment later
        when it is about to. Only the main loop runs the local activity, so the
        order of commands is the same in every replay. Commands that answer the
        miss themselves (a new estimate, the end) need not wait.
        """
        state = self._current
        if (
            isinstance(command, ExtendEstimate | Reclassify | Resolve | ClassifyAsChangeRequest)
            or state.rules < FOLLOW_UP_RULES
            or state.master is not None
            or state.status is not IncidentStatus.ACKNOWLEDGED
            or state.estimate is None
            or state.estimate_failed
        ):
            return
        estimate = state.estimate
        if estimate > self._clock.now() or not workflow.patched(CAUGHT_UP_MISS):
            return
        await workflow.wait_condition(
            lambda: (
                self._current.estimate != estimate
                or self._current.estimate_failed
                or not self._current.is_open
            )
        )

    # -- core ---------------------------------------------------------------

    def _apply(self, command: Command, at: datetime | None = None, *, archive: bool = True) -> None:
        """Decide ``command`` at ``at`` (a timer's instant) or now (operator commands).

        The new events are due for the archive (``archive``): the main loop's
        next turn sends them. The effect queue passes ``archive=False``: it
        records events in an activity's continuation, where the main loop's
        wake-up would not replay in place (workflows/archive_feed.py); its
        events go with the next round.
        """
        events = decide(self._state, command, at or self._clock.now())
        if events:
            first = len(self._state.events) if self._state is not None else 0
            record_incident_metrics(
                events, severity=self._state.severity if self._state is not None else None
            )
            self._state = fold(self._state, events)
            effects = effects_of(self._state, first, self._policy)
            if self._input.customer_lane:
                team, customers = split_by_audience(effects, self._policy)
                self._effects.add(team)
                self._customer_effects.add(customers)
            else:
                self._effects.add(effects)
            if archive and self._archiving:
                self._archive.mark_due()

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentResult:
        """Run the incident until it is resolved; returns the SLA outcome and the final view."""
        lean = workflow.patched(LEAN_LIFECYCLE)
        self._keep_timer = self._mail_local_first = lean
        if lean and input.search_index is not None and input.state is None:
            # Set with the start request, and part of this run's input: known from history.
            self._search_attributes.seed(incident_search_attributes(input.search_index))
        if self._state is None:
            clock = input.clock
            if clock is None:
                clock = await self._incident_clock(
                    input.received_at, self._oncall_windows, "deadlines in business time"
                )
            self._apply(
                OpenIncident(
                    ticket_id=input.ticket_id,
                    report=input.report,
                    received_at=input.received_at,
                    deadlines=clock.deadlines,
                    next_opening_page=clock.next_opening_page,
                    publish_unconfirmed=input.publish_unconfirmed,
                    rules=input.rules,
                )
            )
        else:
            if self._archiving:
                # Continued as new, or a new run of a closed ticket: what the
                # archive has not confirmed yet is due.
                self._archive.mark_due()
            # Only runs started for a reopen or a reply take these paths:
            # histories recorded before they existed have neither in their input.
            if input.reopen is not None:
                await self._reopen(input.reopen)
            if input.note is not None:
                # A reply that reopened the ticket joins it as any customer message.
                reply = input.note
                self._apply_or_refuse(reply.as_message() if self._current.is_open else reply)
        self._effects.start()
        self._customer_effects.start()
        try:
            while self._current.is_open:
                self._upsert_search_attributes()
                if self._should_continue_as_new():
                    await self._continue_as_new()
                await self._schedule_follow_ups()
                await self._next_timer()
            self._upsert_search_attributes()
            await until_all_drained(self._effects, self._customer_effects)
            if self._archiving:
                # After the last effects: their failures are events too.
                await self._archive.drain()
        finally:
            self._effects.stop()
            self._customer_effects.stop()
        outcome = await workflow.execute_local_activity_method(
            CalendarActivities.compute_outcome,
            OutcomeRequest(policy=self._policy, state=self._current, windows=self._oncall_windows),
            start_to_close_timeout=LOCAL_TIMEOUT,
            summary="SLA outcome",
        )
        return IncidentResult(**dict(outcome), view=build_view(self._current))

    async def _reopen(self, reopening: Reopening) -> None:
        """Reopen the closed incident: the new period's clock runs from now."""
        now = self._clock.now()
        clock = await self._incident_clock(
            now, self._oncall_windows, "deadlines of the reopened period"
        )
        self._apply_or_refuse(
            Reopen(
                reason=reopening.reason,
                by=reopening.by,
                source=reopening.source,
                deadlines=clock.deadlines,
                next_opening_page=clock.next_opening_page,
                window_end=reopening.window_end,
                erased=reopening.erased,
            ),
            now,
        )

    async def _incident_clock(
        self, start: datetime, windows: tuple[OnCallWindow, ...], summary: str
    ) -> IncidentClock:
        """Deadlines (and the late page) of a clock started at ``start``, in a local activity."""
        return await workflow.execute_local_activity_method(
            CalendarActivities.compute_incident_clock,
            ClockRequest(policy=self._policy, received_at=start, windows=windows),
            start_to_close_timeout=LOCAL_TIMEOUT,
            summary=summary,
        )

    def _apply_or_refuse(self, command: Command, at: datetime | None = None) -> None:
        """Apply the command a run was started for; a refusal fails the run, visibly.

        The service checked it before starting; a refusal here is a race (the
        window closed meanwhile) and the run must not pretend it reopened.
        """
        try:
            self._apply(command, at)
        except DomainError as error:
            raise ApplicationError(
                error.message, type=f"{type(command).__name__}Refused", non_retryable=True
            ) from None

    @property
    def _current(self) -> IncidentState:
        assert self._state is not None, "incident not opened"
        return self._state

    async def _next_timer(self) -> None:
        """Fire the earliest timer once its instant has passed, else sleep until then.

        Whether a timer is due comes from :class:`ProvenClock` (history), never
        from ``workflow.now()``, and it is decided at its own instant: replaying
        the history takes exactly the branches the live run took.
        """
        state = self._current
        timers = pending_timers(state, self._follow_ups)
        if timers and self._clock.has_passed(timers[0].at):
            await self._fire(timers[0])
            return
        await self._clock.sleep_until(
            timers[0].at if timers else None,
            # Closed already (an update resolved it while the main loop awaited a
            # local activity, e.g. the follow-ups'): no state change would come.
            lambda: (
                self._state is not state
                or not self._current.is_open
                or self._should_continue_as_new()
            ),
            summary=type(timers[0].command).__name__ if timers else None,
            keep_timer=self._keep_timer,
        )

    async def _schedule_follow_ups(self) -> None:
        """Compute when the open follow-ups are due (business time, so a local activity).

        The instants live beside the state, not in it: each is tied to the
        event it counts from, so one computed for an older anchor is never
        used, and a new run after continue-as-new computes them again (the
        same way: from the carried events). Only incidents opened under rule
        set 3 have follow-ups; for older ones this issues no command, so
        their histories replay unchanged.
        """
        needs = follow_ups_to_schedule(self._current, self._policy.follow_up, self._follow_ups)
        if not needs:
            return
        dues = await self._add_business_time(
            [BusinessSpan(after=need.after, every=need.every) for need in needs],
            summary="follow-ups in business time",
        )
        for need, due in zip(needs, dues, strict=True):
            self._follow_ups[need.kind] = ScheduledFollowUp(after=need.after, due=due)

    async def _add_business_time(
        self, spans: list[BusinessSpan], summary: str
    ) -> tuple[datetime, ...]:
        return await workflow.execute_local_activity_method(
            CalendarActivities.add_business_time,
            BusinessTimeRequest(
                policy=self._policy, spans=tuple(spans), windows=self._oncall_windows
            ),
            start_to_close_timeout=LOCAL_TIMEOUT,
            summary=summary,
        )

    async def _fire(self, timer: TimerDue) -> None:
        state = self._current
        command = timer.command
        # Decided at the timer's own instant (history-proven), but never before
        # the last recorded event: the timeline stays in order, e.g. the first
        # page of a report received before the workflow started.
        at = max(timer.at, state.events[-1].at)
        if isinstance(command, PageOnDuty) and state.status is IncidentStatus.NEW:
            next_reminder = await workflow.execute_local_activity_method(
                CalendarActivities.compute_next_reminder,
                ReminderRequest(policy=self._policy, after=at, windows=self._oncall_windows),
                start_to_close_timeout=LOCAL_TIMEOUT,
                summary="next on-duty reminder",
            )
            if self._state is not state:
                return  # an update came in meanwhile (e.g. resolved): re-evaluate
            command = command.model_copy(update={"next_reminder_at": next_reminder})
        elif isinstance(command, MissEstimate) and state.rules >= FOLLOW_UP_RULES:
            (due,) = await self._add_business_time(
                [
                    BusinessSpan(
                        after=at, every=self._policy.follow_up.reestimate_within[state.severity]
                    )
                ],
                summary="new estimate due",
            )
            if self._state is not state:
                return  # an update came in meanwhile (e.g. an extension): re-evaluate
            command = command.model_copy(update={"reestimate_due": due})
        self._apply(command, at)

    # -- side effects ---------------------------------------------------------

    async def _deliver(self, effects: EventEffects) -> None:
        """Deliver one event's e-mails, status post and change request (the effect queue's)."""
        for notification in effects.notifications:
            await self._send(notification)
        post = effects.status_post
        if post is not None:
            posted = await attempt(
                workflow.execute_activity_method(
                    StatusPostActivities.post_status,
                    StatusPostRequest(
                        post=post,
                        workflow_id=self._input.status_page_id,
                        task_queue=workflow.info().task_queue,
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=self._policy.effects.give_up_after,
                    retry_policy=RETRY,
                    summary=f"status page: {post.kind.value}",
                ),
                self._policy.effects.give_up_after,
            )
            if isinstance(posted, Failed):
                # Recorded as an event, which alerts the support lead.
                self._apply(
                    RecordDeliveryFailure(
                        message_kind="status_post",
                        to=(self._input.status_page_id,),
                        error=posted.error,
                    ),
                    archive=False,
                )
        if effects.change_request is not None:
            await self._start_change_request(effects.change_request)
        for notice in effects.duplicate_notices:
            await self._tell_duplicate(notice)

    async def _tell_duplicate(self, notice: DuplicateNotice) -> None:
        """Signal a duplicate its master's news (a workflow command: no activity, no retry)."""
        duplicate = workflow.get_external_workflow_handle_for(
            IncidentWorkflow.run, notice.ticket_id
        )
        try:
            await duplicate.signal(IncidentWorkflow.follow_master, FollowMaster(facts=notice.facts))
        except FailureError as error:
            # Closed (resolved by hand) or gone: it follows nothing any more.
            workflow.logger.warning(
                "duplicate %s not told of %s: %s",
                notice.ticket_id,
                self._current.ticket_id,
                error,
            )

    async def _send(self, notification: Notification) -> None:
        undelivered = await deliver_notification(
            notification,
            RETRY,
            local_first=self._mail_local_first,
            give_up=self._policy.effects.give_up_after,
        )
        if undelivered is not None:
            # Recorded as an event, which alerts the support lead.
            self._apply(
                RecordDeliveryFailure(
                    message_kind=notification.kind.value,
                    to=undelivered.to,
                    error=undelivered.error,
                ),
                archive=False,
            )

    async def _start_change_request(self, start: ChangeRequestStart) -> None:
        started = await attempt(
            workflow.execute_activity_method(
                ChangeRequestActivities.start_change_request,
                ChangeRequestStartRequest(
                    request=start.request,
                    received_at=start.received_at,
                    policy=self._policy,
                    task_queue=workflow.info().task_queue,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=self._policy.effects.give_up_after,
                retry_policy=RETRY,
                summary="start change request",
            ),
            self._policy.effects.give_up_after,
        )
        if isinstance(started, Failed):
            # Intake refused it (or it could not be started for a day): recorded as
            # an event, which alerts the support lead.
            self._apply(
                RecordDeliveryFailure(
                    message_kind="change_request", to=(start.request.email,), error=started.error
                ),
                archive=False,
            )
            return
        # Its e-mail to the reporter (with the ID) queues behind the current effects.
        self._apply(RecordChangeRequest(change_request_id=started.change_request_id), archive=False)

    # -- search attributes and continue-as-new ---------------------------------

    def _upsert_search_attributes(self) -> None:
        state = self._current
        self._search_attributes.sync(incident_search_attributes(search_index(state)))
        if self._archiving:
            # The same fixed point for the archive's one command (never awaited).
            self._archive.send_due()
        # Not a command (served by the UI's metadata query): no history cost.
        workflow.set_current_details(current_details(state))

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if self._input.max_history_events is not None:
            return info.get_current_history_length() >= self._input.max_history_events
        return info.is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        await until_all_drained(self._effects, self._customer_effects)
        workflow.continue_as_new(
            self._input.model_copy(
                update={
                    "state": self._current,
                    "pending_effects": self._effects.carried(),
                    "pending_customer_effects": self._customer_effects.carried(),
                    "oncall_windows": self._oncall_windows,
                    "search_index": None,  # the next run starts with this run's values
                    "clock": None,  # the carried state holds the deadlines
                    # Where the archive stands (appends still on their way are
                    # not waited for: the next run resends from here).
                    "archived_events": self._archive.archived if self._archiving else 0,
                    "archive_feed": True,  # a run that did not feed begins with this one
                    "reopen": None,  # done in this run: the carried state is reopened
                    "note": None,
                }
            )
        )
