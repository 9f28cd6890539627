"""Dev tickets reach the archive through the worker, and ``rebuild`` brings them back (issue 17).

A dev ticket has no workflow of its own: the worker's tracker activities hand
every ticket they create, move or link to the worker's archive (the embedded
SQLite file in its data dir, read back with :class:`archive.store.ArchiveStore`).
The events are the ticket's derived history (``domain.dev_ticket_archive``),
each once, in order. ``rebuild_archive`` reads every ticket through the
worker and fills a new database with the same events; run again, it adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

import service.archive_rebuild
from activities.dev_tickets import DevTicket, IncidentLink, SqliteDevTicketTracker
from archive.errors import ArchiveNotMigrated, UnknownStream
from archive.records import ArchivedStream
from archive.store import ArchiveStore
from domain.archive import StreamKind
from domain.change_request import Discuss, PlanRelease
from domain.dev_ticket import DevTicketStatus
from domain.dev_ticket_archive import dev_ticket_events
from service.archive_rebuild import rebuild_archive
from service.dev_tickets import transition_dev_ticket
from tests.archive.test_archive_lifecycle import ok, sla
from tests.conftest import Stack
from tests.workflows.test_archive_feed import archived
from tests.workflows.test_change_request_workflow import Harness, harness_of
from tests.workflows.waiting import eventually
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    async with harness_of(stack) as harness:
        yield harness


async def dev_ticket_archived(stack: Stack, dev_ticket_id: str) -> tuple[ArchivedStream, DevTicket]:
    """Wait until the archive holds exactly the ticket's derived events, each once, in order."""

    async def complete() -> tuple[ArchivedStream, DevTicket]:
        ticket = SqliteDevTicketTracker.in_data_dir(stack.data_dir).get_sync(dev_ticket_id)
        try:
            stream = archived(stack, dev_ticket_id)
        except (UnknownStream, ArchiveNotMigrated) as missing:
            raise AssertionError(str(missing)) from None
        assert [e.payload for e in stream.events] == [
            e.model_dump(mode="json") for e in dev_ticket_events(ticket)
        ]
        assert [e.seq for e in stream.events] == list(range(len(stream.events)))
        assert stream.status == ticket.status.value
        return stream, ticket

    return await eventually(complete)


async def link_bug(stack: Stack, ticket_id: str, **fields: str) -> DevTicket:
    return await stack.client.execute_workflow(
        LinkBugWorkflow.run,
        IncidentLink(ticket_id=ticket_id, **fields),
        id=f"link-{uuid.uuid4()}",
        task_queue=stack.task_queue,
    )


async def test_a_change_requests_dev_ticket_and_a_linked_bug_reach_the_archive(
    h: Harness,
) -> None:
    receipt, handle = await h.submit()
    view = await h.with_dev_ticket(handle)
    assert view.dev_ticket_id is not None
    await handle.execute_update(
        ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen den Aufwand.")
    )
    await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
    await handle.result()

    feature, ticket = await dev_ticket_archived(h.stack, view.dev_ticket_id)
    assert feature.kind is StreamKind.DEV_TICKET
    assert [e.type for e in feature.events] == ["created", "status_changed", "status_changed"]
    assert [e.payload["status"] for e in feature.events[1:]] == ["in_discussion", "planned"]
    assert feature.events[0].payload["reference"] == receipt.change_request_id
    assert feature.status == "planned"
    assert feature.company == "Beispiel Versand GmbH"
    assert feature.opened_at == ticket.created_at
    assert feature.resolved_at == ticket.history[-1].at
    assert feature.view["release"] == "2027.1"

    # A bug found in an incident: created by the link, moved by an operator.
    bug = await link_bug(h.stack, "INC-20261124-AAAAAA", title="Export bricht bei Umlauten ab")
    await link_bug(h.stack, "INC-20261124-BBBBBB", dev_ticket_id=bug.id)
    for status in (DevTicketStatus.IN_PROGRESS, DevTicketStatus.FIXED):
        await transition_dev_ticket(
            h.client, bug.id, status, note=f"jetzt {status.value}", task_queue=h.task_queue
        )
    stream, _ = await dev_ticket_archived(h.stack, bug.id)
    steps = [(e.type, e.payload.get("ticket_id") or e.payload.get("status")) for e in stream.events]
    assert steps == [
        ("created", None),
        ("incident_linked", "INC-20261124-AAAAAA"),
        ("incident_linked", "INC-20261124-BBBBBB"),
        ("status_changed", "in_progress"),
        ("status_changed", "fixed"),
    ]
    assert stream.status == "fixed" and stream.resolved_at is None
    assert stream.view["links"] == ["INC-20261124-AAAAAA", "INC-20261124-BBBBBB"]


async def test_rebuild_brings_every_dev_ticket_into_a_new_archive_once(
    dev_stack: Stack, tmp_path: Path
) -> None:
    bug = await link_bug(dev_stack, "INC-20261124-CCCCCC", title="Etiketten drucken leer")
    await transition_dev_ticket(
        dev_stack.client,
        bug.id,
        DevTicketStatus.FIXED,
        note="Treiber getauscht",
        task_queue=dev_stack.task_queue,
    )
    fed, ticket = await dev_ticket_archived(dev_stack, bug.id)
    fresh = ArchiveStore.from_url(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    fresh.migrate()
    try:
        rebuilt = await rebuild_archive(dev_stack.client, fresh, task_queue=dev_stack.task_queue)
        assert (rebuilt.streams, rebuilt.by_kind["dev_ticket"], rebuilt.unreadable) == (1, 1, ())
        assert (rebuilt.events_appended, rebuilt.events_present) == (3, 0)
        stream = fresh.get(bug.id)
        assert [e.payload for e in stream.events] == [e.payload for e in fed.events]
        assert stream.view == fed.view and stream.status == "fixed"
        assert [r.stream_id for r in fresh.search("Treiber")] == [bug.id]

        again = await rebuild_archive(dev_stack.client, fresh, task_queue=dev_stack.task_queue)
        assert (again.by_kind["dev_ticket"], again.events_appended, again.events_present) == (
            1,
            0,
            3,
        )
    finally:
        fresh.close()
    assert len(dev_ticket_events(ticket)) == 3


async def test_rebuild_without_a_worker_reports_the_dev_tickets_unreadable(
    dev_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.archive_rebuild, "DEV_TICKETS_WAIT", timedelta(seconds=2))
    fresh = ArchiveStore.from_url(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    fresh.migrate()
    try:
        rebuilt = await rebuild_archive(
            dev_stack.client, fresh, task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
        )
    finally:
        fresh.close()
    assert rebuilt.by_kind["dev_ticket"] == 0
    ((what, why),) = rebuilt.unreadable
    assert what == "dev-tickets" and "no worker" in why


async def test_sla_archive_rebuild_reports_the_dev_tickets(
    dev_stack: Stack, tmp_path: Path
) -> None:
    bug = await link_bug(dev_stack, "INC-20261124-DDDDDD", title="Suche findet keine Umlaute")
    await dev_ticket_archived(dev_stack, bug.id)
    fresh = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    ok(await sla(dev_stack, "archive", "migrate", archive_url=fresh))
    queue = ("--task-queue", dev_stack.task_queue)
    rebuilt = ok(await sla(dev_stack, "archive", "rebuild", *queue, "--json", archive_url=fresh))
    assert rebuilt == {
        "streams": 1,
        "by_kind": {
            "incident": 0,
            "maintenance": 0,
            "change_request": 0,
            "oncall": 0,
            "dev_ticket": 1,
        },
        "events_appended": 2,
        "events_present": 0,
        "unreadable": [],
    }
    said = ok(await sla(dev_stack, "archive", "rebuild", *queue, archive_url=fresh))
    assert "rebuilt 1 streams (1 dev_ticket)" in said
    assert "0 events appended, 2 already archived" in said
