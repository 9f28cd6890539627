"""One effect queue for every workflow that sends mail: ordered, carried, drained.

A workflow records an event first and delivers what it causes outside (e-mails,
status posts, tracker updates, a started change request) afterwards, in event
order, from a separate task: a mail outage never delays a deadline or an
operator's update. What is not delivered yet travels with continue-as-new,
and a workflow completes only once the queue is drained. Each workflow gives
the queue its own ``deliver`` for one item; an undelivered e-mail is recorded
there as the workflow's own domain event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from temporalio import workflow

E = TypeVar("E")


class EffectQueue(Generic[E]):
    """Effects waiting for delivery, oldest first, delivered one at a time.

    Args:
        deliver: Delivers one item (awaits its activities). An item is removed
            only after ``deliver`` returned, so a continue-as-new or a crash in
            between carries or repeats it, never drops it.
        carried: Items a previous run did not deliver (continue-as-new input).
    """

    def __init__(self, deliver: Callable[[E], Awaitable[None]], carried: Iterable[E] = ()) -> None:
        self._deliver = deliver
        self._pending: list[E] = list(carried)
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def add(self, effects: Iterable[E]) -> None:
        """Queue effects behind those already waiting.

        Raises:
            RuntimeError: Delivery stopped on an unexpected error (see :meth:`_run`).
        """
        self._raise_if_stopped()
        self._pending.extend(effects)

    @property
    def drained(self) -> bool:
        """Whether nothing waits for delivery."""
        return not self._pending

    def carried(self) -> tuple[E, ...]:
        """What is not delivered yet (for the continue-as-new input)."""
        return tuple(self._pending)

    def start(self) -> None:
        """Start delivering (from the workflow's ``run``, once)."""
        assert self._task is None, "the effect queue runs already"
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Stop delivering (the workflow is ending)."""
        if self._task is not None:
            self._task.cancel()

    async def until_drained(self) -> None:
        """Wait until every effect is delivered and no handler is still running.

        Raises:
            RuntimeError: Delivery stopped on an unexpected error (see :meth:`_run`).
        """
        await workflow.wait_condition(
            lambda: self._failure is not None or (self.drained and workflow.all_handlers_finished())
        )
        self._raise_if_stopped()

    def _raise_if_stopped(self) -> None:
        # Raised in the workflow's own code: the workflow task fails and is
        # retried (visible, flagged by the server), instead of the delivery
        # task dying unseen and the workflow waiting forever for a drain.
        if self._failure is not None:
            raise RuntimeError(f"effect delivery stopped: {self._failure!r}") from self._failure

    async def _run(self) -> None:
        """Deliver forever; every expected failure is ``deliver``'s to record, not to raise."""
        try:
            while True:
                await workflow.wait_condition(lambda: bool(self._pending))
                await self._deliver(self._pending[0])
                self._pending.pop(0)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug: surfaced by add()/until_drained()
            workflow.logger.error("effect delivery stopped: %r", error)
            self._failure = error


async def until_all_drained(*queues: EffectQueue[Any]) -> None:
    """Wait until all ``queues`` are drained at the same time.

    Delivering in one queue may add to another (a customer's mail that could
    not be delivered is reported to the support lead in the team's lane), so
    draining them one after the other is not enough.

    Raises:
        RuntimeError: Delivery stopped on an unexpected error in one of them.
    """
    while True:
        for queue in queues:
            await queue.until_drained()
        if all(queue.drained for queue in queues):
            return
