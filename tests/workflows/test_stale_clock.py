"""Replay takes the live run's branches even when ``workflow.now()`` lagged behind live.

``make chaos`` found a worker whose first activation after a ``kill -9`` saw
``workflow.now()`` equal to an earlier task's time, though a timer in that
activation had fired; replay later saw the true time. Deciding "is it due?"
with ``workflow.now()`` then gave different commands live and in replay
(nondeterminism). Here the live worker's clock is made to lag on purpose; the
recorded history must replay cleanly with the true clock, and the incident
must still record its warning and breach.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.worker import Replayer
from temporalio.worker._workflow_instance import _WorkflowInstanceImpl

from tests.conftest import Stack, skip_time
from tests.workflows.test_incident_workflow import harness_for
from worker import WORKFLOWS
from workflows.converter import sla_data_converter
from workflows.sandbox import workflow_runner

LAG = timedelta(minutes=40)


REAL_TIME_NS = _WorkflowInstanceImpl.workflow_time_ns


def _restore_real_clock() -> None:
    _WorkflowInstanceImpl.workflow_time_ns = REAL_TIME_NS  # type: ignore[method-assign]


@pytest.fixture
def lagging_clock() -> Iterator[list[int]]:
    """One live activation (the first an hour or more after the start) sees ``now`` LAG behind.

    That is the shape chaos found: a single activation with an old time, the
    timer of that activation already fired; replay sees the true time. Yields
    the list of lagged task times (one entry once it happened).
    """
    lag_ns = int(LAG.total_seconds() * 1e9)
    first_task_ns: dict[int, int] = {}  # per workflow instance
    lagged: list[int] = []

    def lagging(self: _WorkflowInstanceImpl) -> int:
        real = REAL_TIME_NS(self)
        first = first_task_ns.setdefault(id(self), real)
        if self._is_replaying or real - first < 3600 * 10**9:
            return real
        if not lagged or lagged == [real]:
            if not lagged:
                lagged.append(real)
            return real - lag_ns
        return real

    _WorkflowInstanceImpl.workflow_time_ns = lagging  # type: ignore[method-assign]
    try:
        yield lagged
    finally:
        _restore_real_clock()


async def test_a_lagging_clock_live_still_replays_and_records_every_deadline(
    stack: Stack, lagging_clock: list[int]
) -> None:
    assert stack.env is not None
    async with harness_for(stack) as h:
        # Minor: 24 h to react, warned at 75 %; both pass while the clock lags.
        incident = await h.report(login_impossible=False, workaround_available=True)
        view = await incident.view()
        await skip_time(stack.env, view.reaction_due - incident.received + timedelta(hours=2))
        after = await incident.view()
        kinds = [type(e).__name__ for e in after.events]
        assert "DeadlineWarned" in kinds and "ReactionBreached" in kinds, kinds
        assert after.reaction_breached
        history = await incident.handle.fetch_history()
    assert lagging_clock, "the clock never lagged: the test did not test anything"
    # The stale activation was refused (failed task, retried), not recorded.
    failures = [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.HasField("workflow_task_failed_event_attributes")
    ]
    assert any("which a fired timer proved past" in f for f in failures), failures

    _restore_real_clock()  # replay sees each task's true time
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    # Events are stamped with their deadlines, not with the lagging clock.
    breach = next(e for e in after.events if type(e).__name__ == "ReactionBreached")
    assert breach.at == view.reaction_due
