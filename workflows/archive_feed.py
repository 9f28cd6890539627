"""The archive feed of a workflow: its new events to the archive, one batch at a time.

The archive (DESIGN §5) is the system of record once Temporal has forgotten a
stream. A workflow records its events first; this feed hands them over
afterwards, from a task of its own, so the archive never delays a deadline or
an operator's command. Every event recorded while a batch is on its way goes
with the next one: at most one activity per round, however many commands
came in meanwhile (the cost the benchmark measures).

During an archive outage the activity retries with backoff for the policy's
give-up time; the events wait in the workflow's state (nothing is lost) and
the next batch carries them all, once the database is back. The position
travels with continue-as-new; a completing workflow drains the feed first.

The activity is called by name: ``workflows/`` imports no archive code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.delivery import Failed, attempt
from workflows.options import ACTIVITY_TIMEOUT, RETRY

with workflow.unsafe.imports_passed_through():
    from domain.archive import ArchiveBatch

ARCHIVE_APPEND = "archive_append"
"""The activity (``activities.archive.ArchiveActivities.append``)."""

ARCHIVE_GAP = "ArchiveGap"
"""Its answer when the archive needs earlier events first (detail: the ``seq``)."""


class ArchiveFeed:
    """Sends the events from position ``archived`` on, in order, each exactly once.

    Args:
        count: How many events the stream has recorded.
        build: The batch of the events from a position on (``None``: none).
        give_up: How long one batch may retry during an outage.
        archived: The first event not archived yet (carried over continue-as-new).
    """

    def __init__(
        self,
        count: Callable[[], int],
        build: Callable[[int], ArchiveBatch | None],
        give_up: timedelta,
        archived: int = 0,
    ) -> None:
        self._count = count
        self._build = build
        self._give_up = give_up
        self._archived = archived
        # The count at which the last batch gave up: no new round before more events.
        self._gave_up_at: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def archived(self) -> int:
        """The position of the first event not archived yet."""
        return self._archived

    @property
    def drained(self) -> bool:
        """Nothing to send: everything archived, or the last try gave up with nothing new."""
        count = self._count()
        return self._archived >= count or self._gave_up_at == count

    def start(self) -> None:
        """Start feeding (from the workflow's ``run``, once)."""
        assert self._task is None, "the archive feed runs already"
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Stop feeding (the run ends or continues as new; the position is carried)."""
        if self._task is not None:
            self._task.cancel()

    async def until_drained(self) -> None:
        """Wait until everything recorded so far was handed over (or given up)."""
        await workflow.wait_condition(lambda: self.drained)

    async def _run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: not self.drained)
            batch = self._build(self._archived)
            if batch is None:
                self._archived = self._count()
                continue
            stored = await attempt(self._append(batch), self._give_up)
            if isinstance(stored, Failed):
                # Retried for the give-up time; the events stay in the state and
                # go with the next batch (or `sla archive rebuild` fetches them).
                workflow.logger.warning(
                    "archive did not take events %d..%d of %s: %s",
                    batch.first_seq,
                    batch.last_seq,
                    batch.stream_id,
                    stored.error,
                )
                self._gave_up_at = self._count()
                continue
            self._archived = stored + 1

    async def _append(self, batch: ArchiveBatch) -> int:
        try:
            stored: int = await workflow.execute_activity(
                ARCHIVE_APPEND,
                batch,
                result_type=int,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=self._give_up,
                retry_policy=RETRY,
                summary=f"archive {batch.first_seq}..{batch.last_seq}",
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == ARCHIVE_GAP:
                # The archive lost or never got earlier events: resend from there.
                (expected,) = cause.details
                return int(expected) - 1
            raise
        return stored
