"""``StatusPageWorkflow``: the single writer of the public status site.

Incidents and maintenance windows post changes through activities that signal
this workflow (starting it if needed). The workflow folds them into a
:class:`StatusBoard` and re-renders the site after each change, and again when
a resolved entry or a closed maintenance window ages off the page. One writer
means no two renders race for the same files.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.options import ACTIVITY_TIMEOUT
from workflows.timers import ProvenClock

with workflow.unsafe.imports_passed_through():
    from activities.status_page import StatusSiteActivities, StatusSnapshot
    from domain.maintenance import MaintenancePost
    from domain.status import StatusBoard, StatusPost


class StatusPageInput(BaseModel):
    """Start (or continue-as-new) input: the board so far."""

    model_config = ConfigDict(frozen=True)

    board: StatusBoard = StatusBoard()
    timezone: str = "Europe/Berlin"
    max_history_events: int | None = None  # tests force continue-as-new with it


@workflow.defn
class StatusPageWorkflow:
    """Holds the status board and renders the site whenever it changes."""

    @workflow.init
    def __init__(self, input: StatusPageInput) -> None:
        """Restore the board (fresh start or continue-as-new)."""
        self._board = input.board
        self._dirty = True  # render once at start: the site may be missing
        self._clock = ProvenClock()

    @workflow.signal
    def post(self, post: StatusPost) -> None:
        """Apply a change from an incident."""
        board = self._board.apply(post)
        if board != self._board:
            self._board = board
            self._dirty = True

    @workflow.signal
    def post_maintenance(self, post: MaintenancePost) -> None:
        """Apply a change from a maintenance window (planned, in progress, completed, cancelled)."""
        board = self._board.apply_maintenance(post)
        if board != self._board:
            self._board = board
            self._dirty = True

    @workflow.query
    def board(self) -> StatusBoard:
        """The current board."""
        return self._board

    @workflow.run
    async def run(self, input: StatusPageInput) -> None:
        """Render on every change, forever (continuing as new when history grows)."""
        while True:
            if self._dirty:
                self._dirty = False
                await workflow.execute_activity_method(
                    StatusSiteActivities.render_status_site,
                    StatusSnapshot(
                        board=self._board, generated_at=workflow.now(), timezone=input.timezone
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    # The public page is rendered again at once after an outage.
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                    summary="render status site",
                )
                continue
            if self._should_continue_as_new(input):
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._dirty:
                    workflow.continue_as_new(
                        StatusPageInput(
                            board=self._board,
                            timezone=input.timezone,
                            max_history_events=input.max_history_events,
                        )
                    )
                continue
            expiry = self._next_expiry()
            # Pruned at the expiry instant itself once its timer fired (history),
            # not at workflow.now(): replay must take the same branch.
            if await self._clock.sleep_until(expiry, lambda: self._dirty, summary="age off"):
                assert expiry is not None
                pruned = self._board.pruned(expiry)
                if pruned != self._board:
                    self._board = pruned
                    self._dirty = True

    def _next_expiry(self) -> datetime | None:
        expiries = self._board.expiries
        if not expiries:
            return None
        return expiries[0] + timedelta(seconds=1)

    @staticmethod
    def _should_continue_as_new(input: StatusPageInput) -> bool:
        info = workflow.info()
        if input.max_history_events is not None:
            return info.get_current_history_length() >= input.max_history_events
        return info.is_continue_as_new_suggested()
