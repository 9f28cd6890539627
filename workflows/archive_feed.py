"""The archive feed of a workflow: its events to the archive, in order, each once.

The archive (DESIGN §5) is the system of record once Temporal has forgotten a
stream. A workflow records its events first and hands them to the archive
afterwards, as an item of its own effect queue (:class:`ArchiveTurn`, queued
behind the effects of the events it follows).

Why in the effect queue, not in a task of its own: the queue delivers one item
after the other, so every archive activity is scheduled at a place in the
queue's own sequence, the way a mail's retrying activity is. Whether a turn
schedules an activity depends only on values that replay identically: the
event count when the turn was queued (``upto``: the event order is the
history's) and the position the archive confirmed (the recorded results of the
earlier turns). Neither depends on when a local activity resolves or how the
server's jobs are split into activations; a separate feed task racing the
effect queue's local mail attempt for the shared activity sequence, or a
handle polled from the main loop, did (both failed cacheless replay).

A turn sends everything recorded up to the moment it is delivered: while one
batch is on its way, the events recorded meanwhile go with the next turn, and
turns the previous batch already covered schedule nothing. Normally that is
one activity per round of events.

The trade-offs, stated:

* An archive outage delays no deadline (the main loop never waits for the
  queue) and no operator's update. The queue's later items (e-mails, status
  posts) wait behind a failing turn for at most :data:`TURN_GIVE_UP` (a few
  short attempts); then the turn gives up, the position stays, and the next
  turn carries the backlog. So during an outage each round of events delays
  the e-mails behind it by at most that long, and the backlog drains once
  the database is back, with the next event or at the end.
* A mail outage delays the archive: a turn waits behind the e-mails queued
  before it (at most the policy's ``[effects] give_up_after`` each).
* A completing workflow drains the feed with one final turn that retries for
  the policy's ``give_up_after``; if the archive is still down then, it logs
  and completes (``sla archive rebuild``, future work, fetches the rest from
  Temporal while it retains the run).
* The archive is idempotent by ``(stream_id, seq)``: a run reset to an earlier
  point records other events under ``seq`` numbers the archive already has,
  and those are not replaced (a rebuild's task).

The position travels with continue-as-new. The activity is called by name:
``workflows/`` imports no archive code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.archive import ArchiveBatch

ARCHIVE_APPEND = "archive_append"
"""The activity (``activities.archive.ArchiveActivities.append``); returns the last ``seq``."""

ARCHIVE_GAP = "ArchiveGap"
"""Its answer when the archive needs earlier events first (detail: the ``seq``)."""

ATTEMPT_TIMEOUT = timedelta(seconds=15)
"""Start-to-close of one append (SQLite waits up to 10 s for another writer's lock)."""

TURN_GIVE_UP = timedelta(seconds=30)
"""Schedule-to-close of a turn's append: how long it may hold up the effects behind it."""

TURN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
"""A few quick attempts within :data:`TURN_GIVE_UP`; the next turn tries again."""

MAX_GAP_RESENDS = 3
"""How often one turn resends from the position the archive asks for (then: next turn)."""


@dataclass(frozen=True)
class ArchiveTurn:
    """An effect-queue item: hand the events recorded so far to the archive.

    Attributes:
        upto: How many events the stream had when the turn was queued; the
            turn schedules nothing when the archive has them all already.
        final: The drain before the workflow completes: it retries for
            the policy's give-up time instead of :data:`TURN_GIVE_UP`.
    """

    upto: int
    final: bool = False


class ArchiveFeed:
    """Where the archive stands, and the delivery of :class:`ArchiveTurn` items.

    Args:
        build: The batch of the stream's events from a position on (``None``:
            none), built when the turn is delivered.
        give_up: How long the final turn retries (the policy's ``give_up_after``).
        archived: The first event the archive does not have yet (carried over
            continue-as-new; 0 on first start).
    """

    def __init__(
        self,
        build: Callable[[int], ArchiveBatch | None],
        give_up: timedelta,
        archived: int = 0,
    ) -> None:
        self._build = build
        self._give_up = give_up
        self._archived = archived

    @property
    def archived(self) -> int:
        """The position of the first event the archive has not confirmed."""
        return self._archived

    async def deliver(self, turn: ArchiveTurn) -> None:
        """Send the events from the confirmed position on, until the archive has ``turn.upto``.

        Never raises for the archive's failures: a turn that gives up leaves
        the position where it was, and the next turn carries the backlog.
        """
        resends = 0
        while self._archived < turn.upto:
            try:
                batch = self._build(self._archived)
            except ValueError as error:
                # The state does not fit the archive's bounds (a bug, not an
                # outage): the incident goes on, the archive misses it.
                workflow.logger.error("archive batch from %d not built: %s", self._archived, error)
                return
            if batch is None:
                return
            try:
                last_seq = await workflow.execute_activity(
                    ARCHIVE_APPEND,
                    batch,
                    result_type=int,
                    start_to_close_timeout=ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=self._give_up if turn.final else TURN_GIVE_UP,
                    retry_policy=TURN_RETRY,
                    summary=f"archive events {batch.first_seq}..{batch.last_seq}",
                )
            except ActivityError as error:
                expected = _gap(error)
                if expected is not None and resends < MAX_GAP_RESENDS:
                    # The archive lacks earlier events: resend from there.
                    resends += 1
                    self._archived = expected
                    continue
                workflow.logger.warning(
                    "archive did not take events %d..%d of %s%s: %s",
                    batch.first_seq,
                    batch.last_seq,
                    batch.stream_id,
                    " (given up before completion)" if turn.final else " (next turn retries)",
                    error.cause or error,
                )
                return
            # The recorded answer, not the batch built here, moves the position:
            # a replay builds its batch from its own state and still agrees.
            if last_seq + 1 <= self._archived:
                return  # no progress (cannot happen with a sound archive): no loop
            self._archived = last_seq + 1


def _gap(error: ActivityError) -> int | None:
    """The position the archive asks for, when that is why the append failed."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == ARCHIVE_GAP and cause.details:
        try:
            return int(cause.details[0])
        except (TypeError, ValueError):
            return None
    return None
