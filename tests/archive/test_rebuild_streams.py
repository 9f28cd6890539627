"""``sla archive rebuild`` fills a new database with every kind of stream, as the feed did.

On the real dev server with a worker: a maintenance window, a change request
(with its development ticket) and an on-call booking run to their end, each
feeding the worker's archive from its workflow (the ticket from the tracker's
activities). A rebuild from Temporal into a fresh database (SQLite, and a real
PostgreSQL: ``tests/archive/conftest.py``) must then hold the
same streams — the same events at the same places, the same view and columns —
and a second rebuild adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from archive.records import ArchivedStream
from archive.store import ArchiveStore
from domain.change_request import Decline, Discuss
from domain.maintenance import CancelMaintenance
from domain.oncall import CancelBooking
from tests.archive.test_archive_lifecycle import ok, sla
from tests.workflows import test_change_request_workflow as cr
from tests.workflows import test_maintenance_workflow as maintenance
from tests.workflows import test_oncall_workflow as oncall
from workflows.change_request import ChangeRequestWorkflow
from workflows.maintenance import MaintenanceWorkflow
from workflows.oncall import OnCallBookingWorkflow


def streams(url: str, ids: list[str]) -> dict[str, ArchivedStream]:
    store = ArchiveStore.from_url(url)
    try:
        return {stream_id: store.get(stream_id) for stream_id in ids}
    finally:
        store.close()


async def test_a_rebuild_restores_maintenance_change_requests_and_bookings_as_fed(
    dev_env: WorkflowEnvironment, tmp_path: Path, url: str
) -> None:
    async with oncall.running(dev_env, tmp_path) as (run, _):
        stack = run.stack
        windows = maintenance.Harness(stack)
        window, _plan = await windows.plan()
        await window.execute_update(
            MaintenanceWorkflow.cancel, CancelMaintenance(reason="Das Update wird verschoben.")
        )
        requests = cr.Harness(stack.client, stack.task_queue, stack)
        _, request = await requests.submit()
        await request.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen."))
        await request.execute_update(
            ChangeRequestWorkflow.decline, Decline(reason="Passt nicht zur Produktstrategie.")
        )
        start, end = await run.saturday()
        booking = await run.book(start, end)
        await booking.execute_update(
            OnCallBookingWorkflow.cancel, CancelBooking(reason="Migration verschoben")
        )
        for handle in (window, booking):
            await handle.result()
        requests_view = await request.result()
        assert requests_view.dev_ticket_id is not None
        # The development ticket the change request created is fed by the tracker's activities.
        ids = [window.id, request.id, booking.id, requests_view.dev_ticket_id]
        # Completed: each drained its events into the worker's archive first.
        fed = streams(f"sqlite:///{stack.data_dir / 'archive.sqlite3'}", ids)

        fresh = url  # a new database, SQLite and PostgreSQL
        ok(await sla(stack, "archive", "migrate", archive_url=fresh))
        rebuild = ("archive", "rebuild", "--task-queue", stack.task_queue, "--json")
        rebuilt = ok(await sla(stack, *rebuild, archive_url=fresh))
        assert rebuilt["unreadable"] == []
        assert rebuilt["by_kind"] == {
            "incident": 0,
            "maintenance": 1,
            "change_request": 1,
            "oncall": 1,
            "dev_ticket": 1,  # the change request's
        }
        assert rebuilt["streams"] == 4
        total = sum(len(stream.events) for stream in fed.values())
        assert (rebuilt["events_appended"], rebuilt["events_present"]) == (total, 0)

        again = ok(await sla(stack, *rebuild, archive_url=fresh))
        assert (again["events_appended"], again["events_present"]) == (0, total)
        text = ok(
            await sla(
                stack, "archive", "rebuild", "--task-queue", stack.task_queue, archive_url=fresh
            )
        )
        assert "rebuilt 4 streams (1 maintenance, 1 change_request, 1 oncall, 1 dev_ticket)" in text

    restored = streams(fresh, ids)
    for stream_id in ids:
        assert restored[stream_id] == fed[stream_id], stream_id
    # The cancellation may come before the reminder's computation: both are recorded.
    assert sorted(e.type for e in restored[booking.id].events) == [
        "booked",
        "cancelled",
        "reminder_scheduled",
    ]
