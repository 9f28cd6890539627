"""The archive feed of the other streams (issue 17): maintenance, change requests, on-call.

As for incidents (tests/workflows/test_archive_feed.py): the worker's archive
is the embedded SQLite file in its data dir, read back with
:class:`archive.store.ArchiveStore`; every event reaches it once, in order,
with the stream's kind, status and view; each test ends by replaying the
histories without a cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from archive.records import ArchivedStream
from archive.store import ArchiveStore
from domain.archive import StreamKind
from domain.change_request import (
    ChangeRequestView,
    CustomerNotReached,
    Decline,
    Discuss,
    PlanRelease,
)
from domain.maintenance import (
    CancelMaintenance,
    ExtendMaintenance,
    MaintenanceState,
    MaintenanceStatus,
)
from domain.oncall import AssignOperator, CancelBooking
from tests.conftest import Stack
from tests.workflows import test_change_request_workflow as cr
from tests.workflows import test_oncall_workflow as oncall
from tests.workflows.test_archive_feed import (
    Recorded,
    appends_of,
    archive_of,
    archived,
    replays,
    stream_archived,
)
from tests.workflows.test_maintenance_workflow import Handle, Harness, status_is
from tests.workflows.waiting import eventually
from workflows.change_request import ChangeRequestWorkflow
from workflows.maintenance import MaintenanceWorkflow
from workflows.oncall import OnCallBookingWorkflow


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    harness = Harness(stack)
    try:
        yield harness
    finally:
        await harness.cleanup()


async def maintenance_archived(stack: Stack, handle: Handle) -> ArchivedStream:
    """Wait until the archive holds exactly the window's events and its view."""

    async def current() -> Recorded:
        state: MaintenanceState = await handle.query(MaintenanceWorkflow.view)
        view = state.model_dump(mode="json", exclude={"events"})
        return Recorded(state.events, state.status.value, view)

    return await stream_archived(stack, handle.id, current)


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


# -- change requests ---------------------------------------------------------------


@pytest.fixture
async def crh(stack: Stack) -> AsyncIterator[cr.Harness]:
    async with cr.harness_of(stack) as harness:
        yield harness


async def change_request_archived(stack: Stack, handle: cr.Handle) -> ArchivedStream:
    """Wait until the archive holds exactly the change request's events and its view."""

    async def current() -> Recorded:
        return _recorded(await handle.query(ChangeRequestWorkflow.view))

    return await stream_archived(stack, handle.id, current)


def _recorded(view: ChangeRequestView) -> Recorded:
    return Recorded(
        view.events, view.status.value, view.model_dump(mode="json", exclude={"events"})
    )


def found(stack: Stack, text: str) -> list[str]:
    """The stream IDs the archive's full-text search finds for ``text``."""
    store = ArchiveStore.from_url(f"sqlite:///{archive_of(stack)}")
    try:
        return [record.stream_id for record in store.search(text, kind=StreamKind.CHANGE_REQUEST)]
    finally:
        store.close()


async def test_a_change_request_reaches_the_archive_once_in_order(crh: cr.Harness) -> None:
    # The discussion comes before the development ticket exists: the update
    # waits for it, and the archive gets the events in the order recorded.
    _, handle = await crh.submit()
    await handle.execute_update(
        ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen den Aufwand.")
    )
    discussed = await change_request_archived(crh.stack, handle)
    assert discussed.kind is StreamKind.CHANGE_REQUEST
    assert discussed.status == "under_discussion"
    assert discussed.company == "Beispiel Versand GmbH"
    assert discussed.resolved_at is None
    assert found(crh.stack, "Aufwand Sendungsliste") == [handle.id]

    await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
    final = await handle.result()
    stream = await change_request_archived(crh.stack, handle)
    assert [e.type for e in stream.events] == [
        "submitted",
        "dev_ticket_created",
        "discussed",
        "planned",
    ]
    assert stream.status == "planned"
    assert stream.opened_at == final.received_at
    assert stream.resolved_at == final.closed_at
    # Each round went with a local attempt inside its workflow task, none retried.
    appends = await appends_of(handle)
    assert appends.local >= 2 and appends.retried == 0
    await replays(handle)


async def test_a_declined_change_request_is_archived_as_declined(crh: cr.Harness) -> None:
    _, handle = await crh.submit()
    await crh.with_dev_ticket(handle)
    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen das."))
    await handle.execute_update(
        ChangeRequestWorkflow.decline, Decline(reason="Passt nicht zur Produktstrategie.")
    )
    final = await handle.result()
    stream = await change_request_archived(crh.stack, handle)
    assert [e.type for e in stream.events] == [
        "submitted",
        "dev_ticket_created",
        "discussed",
        "declined",
    ]
    assert stream.status == "declined"
    assert stream.resolved_at == final.closed_at
    assert found(crh.stack, "Produktstrategie") == [handle.id]
    await replays(handle)


async def test_delivery_failures_of_a_change_request_reach_the_archive_before_it_completes(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # Recorded by the effect queue, not marked due: the drain before completion carries them.
    stack, handle, final = await cr.planned_while_mail_bounces(time_env, tmp_path)
    failures = [e for e in final.events if isinstance(e, CustomerNotReached)]
    assert len(failures) == 3
    # The workflow completed: the archive has every event already, no waiting.
    stream = await stream_archived(
        stack,
        handle.id,
        lambda: asyncio.sleep(0, _recorded(final)),
        timeout=0.1,
    )
    assert [e.type for e in stream.events][-1] == "customer_not_reached"
    await replays(handle)


# -- on-call bookings ----------------------------------------------------------------


async def test_an_oncall_booking_reaches_the_archive_as_events(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with oncall.running(time_env, tmp_path) as (run, _):
        start, end = await run.saturday()
        handle = await run.book(start, end, operator=None)

        async def reminder_scheduled() -> None:
            booking = await handle.query(OnCallBookingWorkflow.view)
            assert booking.reminder_at is not None

        await eventually(reminder_scheduled)
        await handle.execute_update(
            OnCallBookingWorkflow.assign, AssignOperator(operator="Erika Beispiel")
        )
        await run.stack.skip_to(start + timedelta(minutes=30))
        await handle.execute_update(
            OnCallBookingWorkflow.cancel, CancelBooking(reason="Migration früher fertig")
        )
        final = await handle.result()

    # Completed: the drain put every event in the archive before the result.
    stream = archived(run.stack, handle.id)
    assert stream.kind is StreamKind.ONCALL
    assert [e.type for e in stream.events] == [
        "booked",
        "reminder_scheduled",
        "operator_assigned",
        "reminded",
        "activated",
        "cancelled",
        "billed",
    ]
    assert [e.seq for e in stream.events] == list(range(7))
    assert stream.status == "cancelled"
    assert stream.company == final.company
    assert stream.opened_at == final.booked_at
    assert stream.resolved_at == final.cancelled_at
    assert stream.view == final.model_dump(mode="json")
    assigned = stream.events[2].payload
    assert (assigned["operator"], assigned["previous"]) == ("Erika Beispiel", None)
    assert stream.events[5].payload["reason"] == "Migration früher fertig"
    assert final.billing is not None
    assert stream.events[6].payload["billing"] == final.billing.model_dump(mode="json")
    # Each step went with a local attempt inside its workflow task; the billing,
    # recorded in an activity's continuation, with the drain's regular append.
    appends = await appends_of(handle)
    assert (appends.retried, appends.given_up) == (1, 0)
    assert appends.local >= 3
    await replays(handle)
