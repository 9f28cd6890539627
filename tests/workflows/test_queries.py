"""Transient query refusals are retried; real failures reach the caller at once."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowQueryFailedError

from service.queries import query_settled
from workflows.timers import STALE_CLOCK_MARK


class Flaky:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise WorkflowQueryFailedError(self.failures.pop(0))
        return "view"


async def test_transient_refusals_are_retried_until_the_query_answers() -> None:
    call = Flaky(["the incident is still being opened", f"now is before x, {STALE_CLOCK_MARK}"])
    assert await query_settled(call, first_delay=0) == "view"
    assert call.calls == 3


async def test_a_real_failure_is_raised_without_retrying() -> None:
    call = Flaky(["Query handler for 'view' expected but not found"])
    with pytest.raises(WorkflowQueryFailedError, match="not found"):
        await query_settled(call, first_delay=0)
    assert call.calls == 1


async def test_a_refusal_that_does_not_pass_is_raised_after_the_last_attempt() -> None:
    call = Flaky(["the incident is still being opened"] * 10)
    with pytest.raises(WorkflowQueryFailedError, match="still being opened"):
        await query_settled(call, attempts=3, first_delay=0)
    assert call.calls == 3


async def test_one_unreadable_workflow_is_skipped_by_name_not_fatal() -> None:
    from temporalio.service import RPCError, RPCStatusCode

    from service.queries import Unreadable, gather_readable

    async def fetch(item: str) -> str:
        if item == "INC-STUCK":
            raise RPCError("query timed out", RPCStatusCode.DEADLINE_EXCEEDED, b"")
        return item.lower()

    found, skipped = await gather_readable(["INC-A", "INC-STUCK", "INC-B"], fetch)
    assert sorted(found) == ["inc-a", "inc-b"]
    assert skipped == [Unreadable("INC-STUCK", "query timed out")]
