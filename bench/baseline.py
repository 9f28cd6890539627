"""The Temporal floor: a minimal workflow with the lifecycle shape of a plain incident.

``BaselineWorkflow`` takes the same updates as an incident (``acknowledge`` and
``resolve``, with the same command payloads) and runs one no-op activity per
e-mail the real incident sends after each step (the counts are measured on the
real engine first and passed in). Like the incident, an update only queues its
mail and returns; the workflow's main loop runs the activities, then completes.
There is no business logic, no timer, no local activity and no search-attribute
upsert: it is what any Temporal workflow with this message pattern costs on this
machine.

The no-op activity returns ``time.time()``; the workflow returns, per step, the
completion time of the last no-op of that step, which the benchmark compares
with the moment it issued the step's call.

Run a worker for it with ``python -m bench.baseline`` (connection from the
SDK's env config, as the real worker).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from domain.incident import Acknowledge, Resolve

TASK_QUEUE = "bench-baseline"
"""Task queue of the baseline worker (the real worker uses ``sla-engine``)."""

START, ACK, RESOLVE = 0, 1, 2
STEPS = ("start", "acknowledge", "resolve")


class BaselineInput(BaseModel):
    """How many no-op notifications follow each step (start, acknowledge, resolve)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    mails: tuple[int, int, int]


@activity.defn
async def noop_notification(step: int) -> float:
    """Do nothing; return the wall-clock time of completion."""
    return time.time()


@workflow.defn
class BaselineWorkflow:
    """Start, two updates, one no-op activity per notification; then complete."""

    @workflow.init
    def __init__(self, input: BaselineInput) -> None:
        """Queue the notifications of the start."""
        self._mails = input.mails
        self._queue: list[int] = [START] * input.mails[START]
        self._resolved = False

    @workflow.update
    def acknowledge(self, command: Acknowledge) -> None:
        """Queue the acknowledgement's notifications."""
        self._queue.extend([ACK] * self._mails[ACK])

    @workflow.update
    def resolve(self, command: Resolve) -> None:
        """Queue the resolution's notifications; the workflow then completes."""
        self._queue.extend([RESOLVE] * self._mails[RESOLVE])
        self._resolved = True

    @workflow.run
    async def run(self, input: BaselineInput) -> list[float | None]:
        """Send the queued no-ops in order until resolved; per step, the last one's time."""
        done: list[float | None] = [None, None, None]
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._resolved)
            while self._queue:
                step = self._queue.pop(0)
                done[step] = await workflow.execute_activity(
                    noop_notification, step, start_to_close_timeout=timedelta(seconds=60)
                )
            if self._resolved:
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        return done


async def _serve() -> None:
    import signal

    from temporalio.worker import Worker

    from service.connect import connect
    from workflows.sandbox import workflow_runner

    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Same runner (sandbox with our pass-through modules) and defaults as the real worker.
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BaselineWorkflow],
        activities=[noop_notification],
        workflow_runner=workflow_runner(),
    ):
        print(f"baseline worker on task queue {TASK_QUEUE}", flush=True)
        await stop.wait()


def main() -> None:
    """Run the baseline worker until SIGINT/SIGTERM."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
