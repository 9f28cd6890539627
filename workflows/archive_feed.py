"""The archive feed of a workflow: its events to the archive, in order, each once.

The archive (DESIGN §5) is the system of record once Temporal has forgotten a
stream. The code that records events marks them due (:meth:`ArchiveFeed.mark_due`);
the workflow's main loop, at the fixed point where it upserts its search
attributes, starts one append for what is due (:meth:`ArchiveFeed.send_due`):
its command is issued right there, and a task of its own waits for the result,
so the main loop never awaits it. The append is a local activity
(one attempt, inside the workflow task: a marker in the history, no activity
task and no workflow task of its own); only when that attempt fails does the
task hand the batch to a regular ``archive_append`` activity that retries with
backoff (the pattern of ``workflows/delivery.py``). Nothing in the workflow
waits for the archive but its completion.

Why there, and why never awaited — replay determinism. A command must be
issued at the same place in every replay, and two things differ between a
live run and a replay of it:

* How jobs are grouped into activations. Live, an update and an activity's
  completion that arrive in the same workflow task come in one activation,
  and the SDK applies the update first; a replay (``SLA_TEST_CACHELESS=1``
  shows it on every task) gets the completion in an activation of its own,
  first, and the update after it. Code that runs when an activity completes
  and then issues a command issues it after the update's commands live,
  before them in replay ("Activity machine does not handle TimerCanceled").
  That broke every design that waited for the previous append before
  starting the next: a feed task of its own, a handle polled from the main
  loop (``done()``), and a turn queued in the effect queue (all tried).
* The order of handlers in one activation: a re-applied update and signal
  after a reset (tests/cli/test_repair_e2e.py) run update first live, signal
  first in replay. An append started by each handler would swap places with
  the update's completion; so handlers only mark events due.

So whether and where an append starts depends only on values every replay
computes alike: the events recorded (``due``) and the appends started
(``sent``), both moved in the workflow's own order, and the main loop's
turns, which follow its wake-ups on state changes and timers. A completed
append only moves the confirmed position (a done-callback: no command, and
the main loop does not wake for it); no decision reads that position while
appends are on their way (the drain reads it once they have all completed).

The one command issued in a continuation — the regular activity after a failed
local attempt — is safe for the reason the e-mails' local-first delivery is: a
local attempt resolves inside the workflow task that started it (it gives up
after :data:`LOCAL_ATTEMPT`, well before the task would have to be heartbeated
at 80 % of its 10 s timeout), so no update or signal can share its activation,
and a replay resolves it from its marker at the same place.

What an append carries is built when it starts: from the position the archive
last confirmed (or the first unsent event, if earlier) up to now. A round
during an outage therefore also carries the backlog of the rounds whose
appends failed; the archive stores each ``(stream_id, seq)`` once, so
overlapping batches cost nothing. Appends may run side by side; a batch never
starts beyond what the archive confirmed, so the archive never sees a gap (if
it lost events, it says so and later batches resend them).

The trade-offs, stated:

* Cost: one local activity per turn of the main loop that finds events due
  — in practice one per workflow task that records events; a workflow task
  completes once its local attempt has (milliseconds; the worker refuses at
  once while the archive is down, see ``activities/archive.py``). Measured in
  docs/PERFORMANCE.md.
* Events the effect queue records (a delivery failure, the change request's
  ID) are not marked due (they are recorded in an activity's continuation):
  they go with the next round's batch, or the drain before completing.
* An archive outage delays no deadline or e-mail; a workflow task waits for
  a local attempt at most :data:`LOCAL_ATTEMPT` (the first one to meet the
  outage; later ones are refused at once). The regular activity then retries
  for :data:`FEED_GIVE_UP`; one that gives up leaves the position where it
  was, and the next round (or the drain) carries its events.
* A completing workflow waits for its appends (each gives up after at most
  :data:`FEED_GIVE_UP`), then sends what the archive still lacks, retrying
  for the policy's ``give_up_after``; if the archive is still down then, it
  logs and completes (``sla archive rebuild`` fetches the rest from
  Temporal while it retains the run).
* Continue-as-new does not wait for appends still on their way: the next run
  starts from the position confirmed so far and resends the rest.
* The archive is idempotent by ``(stream_id, seq)``: a run reset to an earlier
  point records other events under ``seq`` numbers the archive already has,
  and those are not replaced (a rebuild's task).

The activity is called by name: ``workflows/`` imports no archive code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.archive import ArchiveBatch

ARCHIVE_APPEND = "archive_append"
"""The activity (``activities.archive.ArchiveActivities.append``); returns the last ``seq``."""

ARCHIVE_GAP = "ArchiveGap"
"""Its answer when the archive needs earlier events first (detail: the ``seq``)."""

LOCAL_ATTEMPT = timedelta(seconds=3)
"""The local attempt inside the workflow task (the task completes when it has).

Must stay well below 8 s (80 % of the workflow task timeout): a longer local
activity makes the SDK heartbeat the task, and its result could then share an
activation with an update (see the module's docstring)."""

ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
"""A regular append during an outage: the backlog arrives within half a minute of recovery.

An append is one small transaction (an e-mail's backoff goes to five minutes:
a mail server must not be hammered; the archive is our own database).
"""

ATTEMPT_TIMEOUT = timedelta(seconds=15)
"""Start-to-close of one append (SQLite waits up to 10 s for another writer's lock)."""

FEED_GIVE_UP = timedelta(hours=1)
"""Schedule-to-close of a round's append; after that, later rounds carry its events."""

BATCH_LIMIT = 100
"""Events per append: a backlog goes in several, so no activity input grows large."""

Build = Callable[[int, int], ArchiveBatch | None]
"""``build(first, limit)``: the batch of at most ``limit`` events from ``first`` on, or ``None``."""


class ArchiveFeed:
    """Where the archive stands, what is due for it, and the appends on their way.

    Args:
        build: Builds a batch from the stream's current state.
        count: How many events the stream has recorded.
        give_up: How long the drain before completion retries (the policy's
            ``give_up_after``).
        archived: The first event the archive has not confirmed (carried over
            continue-as-new; 0 on first start).
    """

    def __init__(
        self,
        build: Build,
        count: Callable[[], int],
        give_up: timedelta,
        archived: int = 0,
    ) -> None:
        self._build = build
        self._count = count
        self._give_up = give_up
        # Confirmed by the archive (moved by completed appends: timing, not history).
        self._archived = archived
        # Sent and due: moved only by recorded events and the main loop's turns,
        # so they are the same in every replay; only they decide on commands.
        self._sent = archived
        self._due = archived
        self._in_flight = 0

    @property
    def archived(self) -> int:
        """The position of the first event the archive has not confirmed."""
        return self._archived

    @property
    def has_due(self) -> bool:
        """Whether events are due that no append carried yet (what :meth:`send_due` would send)."""
        return self._due > self._sent

    def mark_due(self) -> None:
        """The events recorded so far are due for the archive (from the code that recorded them)."""
        self._due = max(self._due, self._count())

    def send_due(self) -> None:
        """Start one append if events are due that no append carried yet; never waits.

        Called only from the workflow's main loop, where it upserts its search
        attributes (see the module's docstring). The batch runs from the
        position the archive confirmed (or the first unsent event, if earlier)
        up to now, at most :data:`BATCH_LIMIT` events.
        """
        if self._due <= self._sent:
            return
        batch = self._batch(min(self._archived, self._sent))
        self._sent = self._due
        if batch is None:
            return
        self._in_flight += 1
        # The command is issued here, in the main loop's own step: a task that
        # issued it when it first ran would let another coroutine's activity
        # (an effect's) take the next activity ID first in a replay, and the
        # IDs would not match the history (a cache-less replay found it). A
        # task of the workflow's own event loop then waits for the result, so
        # the main loop goes on at once.
        try:
            local = workflow.start_local_activity(
                ARCHIVE_APPEND,
                batch,
                result_type=int,
                start_to_close_timeout=LOCAL_ATTEMPT,
                retry_policy=ONE_ATTEMPT,
                summary=f"archive events {batch.first_seq}..{batch.last_seq}",
            )
        except ValueError as error:
            # A worker without the archive activity (raised before any command):
            # the incident goes on; the drain or a rebuild carries these events.
            self._in_flight -= 1
            workflow.logger.error("archive append not started: %s", error)
            return
        asyncio.get_running_loop().create_task(self._append(batch, local))

    async def _append(self, batch: ArchiveBatch, local: workflow.ActivityHandle[int]) -> None:
        """One local attempt inside this workflow task; during an outage, a regular activity.

        The local attempt costs no activity task and no workflow task of its
        own (a marker in this task's history). A failed one (the archive down,
        or slower than :data:`LOCAL_ATTEMPT`) hands the batch to a regular
        activity that retries with backoff for :data:`FEED_GIVE_UP`, like an
        e-mail's delivery (``workflows/delivery.py``); its completion only moves
        the position.
        """
        try:
            try:
                last_seq = await local
            except FailureError as error:
                # A local attempt fails with the activity's own error (a
                # regular activity wraps it in an ActivityError).
                if _not_retryable(error):
                    self._refused(batch, error, final=False)
                    return
                last_seq = await workflow.execute_activity(
                    ARCHIVE_APPEND,
                    batch,
                    result_type=int,
                    start_to_close_timeout=ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=FEED_GIVE_UP,
                    retry_policy=RETRY,
                    summary=f"archive events {batch.first_seq}..{batch.last_seq} (retried)",
                )
            self._archived = max(self._archived, last_seq + 1)
        except ActivityError as error:
            self._refused(batch, error, final=False)
        finally:
            self._in_flight -= 1

    async def drain(self) -> None:
        """Before completing: wait for the appends on their way, then send what is missing.

        One batch after the other, each retried for ``give_up``; a batch that
        fails for good is logged and ends the drain (the workflow completes).
        """
        await workflow.wait_condition(lambda: self._in_flight == 0)
        while self._archived < self._count():
            batch = self._batch(self._archived)
            if batch is None:
                return
            try:
                last_seq = await workflow.execute_activity(
                    ARCHIVE_APPEND,
                    batch,
                    result_type=int,
                    start_to_close_timeout=ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=self._give_up,
                    retry_policy=RETRY,
                    summary=f"archive events {batch.first_seq}..{batch.last_seq} (last)",
                )
            except ActivityError as error:
                if not self._refused(batch, error, final=True):
                    return
                continue
            if last_seq + 1 <= self._archived:
                return  # no progress (not with a sound archive): no loop
            self._archived = last_seq + 1

    def _batch(self, first: int) -> ArchiveBatch | None:
        try:
            return self._build(first, BATCH_LIMIT)
        except ValueError as error:
            # The state does not fit the archive's bounds (a bug, not an
            # outage): the incident goes on, the archive misses these events.
            workflow.logger.error("archive batch from %d not built: %s", first, error)
            return None

    def _refused(self, batch: ArchiveBatch, error: FailureError, *, final: bool) -> bool:
        """Note why the archive did not take ``batch``; True when resending can help."""
        cause = _application_error(error)
        if cause is not None and cause.type == ARCHIVE_GAP and cause.details:
            try:
                expected = int(cause.details[0])
            except (TypeError, ValueError):
                expected = None
            if expected is not None and expected < self._archived:
                # The archive lacks earlier events (restored from a backup?): resend them.
                self._archived = expected
                return True
        workflow.logger.warning(
            "archive did not take events %d..%d of %s (%s): %s",
            batch.first_seq,
            batch.last_seq,
            batch.stream_id,
            "given up before completing" if final else "the next round carries them",
            cause or error,
        )
        return False


def _application_error(error: FailureError) -> ApplicationError | None:
    """The activity's own error: the failure itself (local) or its cause (regular)."""
    if isinstance(error, ApplicationError):
        return error
    cause = error.cause
    return cause if isinstance(cause, ApplicationError) else None


def _not_retryable(error: FailureError) -> bool:
    """The archive refused for good (a gap, a schema behind): retrying cannot help."""
    cause = _application_error(error)
    return cause is not None and cause.non_retryable
