"""The archive feed of the other streams (issue 17): maintenance windows.

As for incidents (tests/workflows/test_archive_feed.py): the worker's archive
is the embedded SQLite file in its data dir, read back with
:class:`archive.store.ArchiveStore`; every event reaches it once, in order,
with the stream's kind, status and view; each test ends by replaying the
histories without a cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from archive.errors import ArchiveNotMigrated, UnknownStream
from archive.records import ArchivedStream
from domain.archive import StreamKind
from domain.maintenance import (
    CancelMaintenance,
    ExtendMaintenance,
    MaintenanceState,
    MaintenanceStatus,
)
from tests.conftest import Stack
from tests.workflows.test_archive_feed import appends_of, archived, replays
from tests.workflows.test_maintenance_workflow import Handle, Harness, status_is
from tests.workflows.waiting import PATIENCE, eventually
from workflows.maintenance import MaintenanceWorkflow


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    harness = Harness(stack)
    try:
        yield harness
    finally:
        await harness.cleanup()


async def maintenance_archived(stack: Stack, handle: Handle) -> ArchivedStream:
    """Wait until the archive holds exactly the window's events, each once, in order."""

    async def complete() -> ArchivedStream:
        state: MaintenanceState = await handle.query(MaintenanceWorkflow.view)
        try:
            stream = archived(stack, handle.id)
        except (UnknownStream, ArchiveNotMigrated) as missing:
            raise AssertionError(str(missing)) from None
        assert [e.seq for e in stream.events] == list(range(len(state.events)))
        assert [e.payload for e in stream.events] == [
            e.model_dump(mode="json") for e in state.events
        ]
        assert stream.status == state.status.value
        assert stream.view == state.model_dump(mode="json", exclude={"events"})
        return stream

    return await eventually(complete, PATIENCE)


async def test_a_maintenance_window_reaches_the_archive_once_in_order(h: Harness) -> None:
    handle, plan = await h.plan()
    planned = await maintenance_archived(h.stack, handle)
    assert planned.kind is StreamKind.MAINTENANCE
    assert planned.status == "planned"
    assert planned.resolved_at is None

    await h.stack.skip_to(plan.start + timedelta(seconds=1))
    await status_is(handle, MaintenanceStatus.IN_PROGRESS)
    reason = "Die Migration dauert länger als geplant."
    await handle.execute_update(
        MaintenanceWorkflow.extend,
        ExtendMaintenance(end=plan.end + timedelta(hours=1), reason=reason),
    )
    await h.stack.skip_to(plan.end + timedelta(hours=1, seconds=1))
    final = await handle.result()
    assert final.status is MaintenanceStatus.COMPLETED

    stream = await maintenance_archived(h.stack, handle)
    assert [e.type for e in stream.events] == ["planned", "started", "extended", "completed"]
    assert stream.status == "completed"
    assert stream.resolved_at == final.completed_at
    assert stream.opened_at == final.planned_at
    # Every event went with a local attempt inside its workflow task, none retried.
    appends = await appends_of(handle)
    assert appends.local >= 1 and appends.retried == 0
    await replays(handle)


async def test_a_cancelled_window_is_archived_as_cancelled(h: Harness) -> None:
    handle, _ = await h.plan()
    await handle.execute_update(
        MaintenanceWorkflow.cancel, CancelMaintenance(reason="Das Update wird verschoben.")
    )
    final = await handle.result()
    stream = await maintenance_archived(h.stack, handle)
    assert [e.type for e in stream.events] == ["planned", "cancelled"]
    assert stream.status == "cancelled"
    assert stream.resolved_at == final.cancelled_at
    await replays(handle)
