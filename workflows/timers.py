"""Deadlines in workflow code that depend on history alone, never on ``workflow.now()``.

Why this exists: under ``make chaos`` (workers killed with ``kill -9`` while
queries arrive) a new worker ran its first activation with ``workflow.now()``
equal to an *earlier* task's start time, although a timer in that very
activation had already fired. Replaying the same history later gives the
correct, later time. A workflow that asks "is the deadline due?" with
``at <= workflow.now()`` therefore took one branch live (re-arm the timer) and
another in replay (record the breach, upsert search attributes): a
nondeterminism error (docs/RELIABILITY.md, "Nondeterminism after a worker
kill").

:class:`ProvenClock` answers that question from recorded facts only: an
instant counts as passed once a timer for it has fired in this run, or when it
is not after the run's start. ``workflow.now()`` is used only for a timer's
*duration*, which the server never compares on replay, and for stamping
operator commands (:meth:`ProvenClock.now`). Operator commands cannot be
judged from history alone, so when an activation's ``workflow.now()`` is
provably stale (before a fired timer's instant) the clock raises
:class:`ClockBehindHistory`, failing the workflow task for a retry instead of
recording decisions that replay would not repeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

# Temporal needs a positive timer; an overdue deadline gets the shortest one, so
# its firing, not the clock, is what records that it passed.
_SHORTEST_TIMER = timedelta(milliseconds=1)
# The words every ClockBehindHistory message contains (readers retry on them).
STALE_CLOCK_MARK = "which a fired timer proved past"
# Timer durations travel in milliseconds; a timer may fire this much "early".
_TIMER_PRECISION = timedelta(milliseconds=50)


class ClockBehindHistory(RuntimeError):
    """``workflow.now()`` lies before an instant this run's history proves has passed.

    Raised (not an ``ApplicationError``) so that the SDK fails the *workflow
    task*, not the workflow: Temporal retries the task, the worker replays the
    history and the retry sees the task's true time. Committing commands decided
    with the stale time would make the history unreplayable.
    """


class ProvenClock:
    """The latest instant this workflow run has proven, from its history, to lie in the past."""

    def __init__(self) -> None:
        """Start at the run's start time (recorded in its first history event)."""
        self._reached = workflow.info().start_time
        # The timer left running by a `keep_timer` sleep: its instant and task.
        self._alarm: tuple[datetime, asyncio.Task[None]] | None = None

    @property
    def reached(self) -> datetime:
        """Every instant up to this one has passed, in live execution and in replay alike."""
        return self._reached

    def has_passed(self, at: datetime) -> bool:
        """Whether ``at`` is proven past: a timer for it fired, or it precedes the run."""
        return at <= self._reached

    def now(self) -> datetime:
        """The instant for an operator command: ``workflow.now()``, checked against history.

        Raises:
            ClockBehindHistory: ``workflow.now()`` is provably stale in this activation.
        """
        self._check()
        return max(workflow.now(), self._reached)

    def now_for_validator(self) -> datetime:
        """Like :meth:`now`, without the check: a validator's exception would refuse the update.

        Validators do not run on replay and write nothing to history; the
        handler that follows decides with :meth:`now`, which does check.
        """
        return max(workflow.now(), self._reached)

    def _check(self) -> None:
        now = workflow.now()
        if now < self._reached - _TIMER_PRECISION:
            raise ClockBehindHistory(
                f"workflow.now() {now.isoformat()} is before {self._reached.isoformat()}, "
                f"{STALE_CLOCK_MARK}; failing the task so it is retried"
            )

    async def sleep_until(
        self,
        at: datetime | None,
        wake: Callable[[], bool],
        *,
        summary: str | None = None,
        keep_timer: bool = False,
    ) -> bool:
        """Sleep until ``at`` has passed or ``wake()`` holds.

        Args:
            at: The instant to wait for; ``None`` waits for ``wake`` only.
            wake: Condition that ends the sleep early (a state change).
            summary: Shown for the timer in the Temporal UI.
            keep_timer: Leave the timer running when ``wake`` ends the sleep,
                and reuse it when the next sleep is for the same instant.
                A state change that does not move the next deadline then
                costs no ``TimerCanceled``/``TimerStarted`` pair, and a
                workflow that completes leaves its timer without cancelling
                it. A timer for another instant is cancelled as before.

        Returns:
            True when ``at`` has passed (the timer fired or it had already passed),
            False when ``wake`` ended the sleep first.
        """
        if keep_timer:
            return await self._sleep_keeping_timer(at, wake, summary)
        if at is not None and self.has_passed(at):
            return True
        timeout = None if at is None else max(at - workflow.now(), _SHORTEST_TIMER)
        try:
            await workflow.wait_condition(wake, timeout=timeout, timeout_summary=summary)
        except TimeoutError:
            assert at is not None  # only a timeout can raise
            self._passed(at)
            return True
        return False

    async def _sleep_keeping_timer(
        self, at: datetime | None, wake: Callable[[], bool], summary: str | None
    ) -> bool:
        self._absorb_fired_alarm()
        if at is not None and self.has_passed(at):
            return True
        alarm = self._arm(at, summary)
        if alarm is None:
            await workflow.wait_condition(wake)
            return False
        await workflow.wait_condition(lambda: _fired(alarm) or wake())
        if _fired(alarm):
            self._absorb_fired_alarm()
            return True
        return False

    def _arm(self, at: datetime | None, summary: str | None) -> asyncio.Task[None] | None:
        """The running timer for ``at``: the kept one if it is for ``at``, else a new one."""
        if self._alarm is not None:
            armed_at, task = self._alarm
            if armed_at == at:
                return task
            task.cancel()  # a timer for another instant: TimerCanceled
            self._alarm = None
        if at is None:
            return None
        duration = max(at - workflow.now(), _SHORTEST_TIMER)
        task = asyncio.ensure_future(workflow.sleep(duration, summary=summary))
        self._alarm = (at, task)
        return task

    def _absorb_fired_alarm(self) -> None:
        """A kept timer that fired proves its instant past, even if nobody was waiting."""
        if self._alarm is not None and _fired(self._alarm[1]):
            self._passed(self._alarm[0])
            self._alarm = None

    def _passed(self, at: datetime) -> None:
        self._reached = max(self._reached, at)
        self._check()


def _fired(timer: asyncio.Task[None]) -> bool:
    return timer.done() and not timer.cancelled()
