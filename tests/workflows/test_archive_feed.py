"""The archive feed on the time-skipping server (issue 17): every event, once, in order.

The worker's archive is the embedded SQLite file in its data dir (migrated on
first use, as ``sla dev`` has it). The outage is real: another connection holds
SQLite's write lock, so the feed's appends fail until it lets go — the
incident's deadlines fire all the same, and the backlog drains once afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import ArchiveNotMigrated, UnknownStream
from archive.records import ArchivedStream
from archive.store import ArchiveStore
from domain.incident import Acknowledge, IncidentStatus, Resolve
from domain.read_model import IncidentView
from domain.sla import Severity
from tests.conftest import Stack
from tests.workflows.test_incident_workflow import Harness, Incident, harness_for
from tests.workflows.waiting import PATIENCE, eventually, result_of
from workflows.incident import IncidentWorkflow


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    async with harness_for(stack) as harness:
        yield harness


def archive_of(stack: Stack) -> Path:
    return stack.data_dir / "archive.sqlite3"


def archived(stack: Stack, ticket: str) -> ArchivedStream:
    store = ArchiveStore.from_url(f"sqlite:///{archive_of(stack)}")
    try:
        return store.get(ticket)
    finally:
        store.close()


async def archived_as_recorded(stack: Stack, incident: Incident) -> ArchivedStream:
    """Wait until the archive holds exactly the incident's events, each once, in order."""

    async def complete() -> ArchivedStream:
        view: IncidentView = await incident.view()
        try:
            stream = archived(stack, incident.ticket)
        except (UnknownStream, ArchiveNotMigrated) as missing:
            raise AssertionError(str(missing)) from None
        assert [e.seq for e in stream.events] == list(range(len(view.events)))
        assert [e.payload for e in stream.events] == [
            e.model_dump(mode="json") for e in view.events
        ]
        assert stream.status == view.status.value
        return stream

    return await eventually(complete)


@contextmanager
def archive_locked(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock: every append fails with "database is locked" meanwhile."""
    blocker = sqlite3.connect(path, timeout=1, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        yield
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()


async def test_every_event_reaches_the_archive_once_in_order(h: Harness) -> None:
    incident = await h.report(login_impossible=False)
    now = await h.stack.now()
    await incident.handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=3)),
    )
    stream = await archived_as_recorded(h.stack, incident)
    assert stream.company == "Beispiel Versand GmbH"
    assert stream.severity == "major"

    await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    outcome = await result_of(incident.handle)
    assert outcome.status is IncidentStatus.RESOLVED
    # The workflow completes only once its last events are archived.
    stream = archived(h.stack, incident.ticket)
    assert stream.status == "resolved"
    assert stream.resolved_at is not None
    assert stream.events[-1].type in ("resolved", "status_resolved")
    assert stream.view["resolution_summary"] == "behoben"

    store = ArchiveStore.from_url(f"sqlite:///{archive_of(h.stack)}")
    try:
        (found,) = store.search("Fehlermeldung")
        assert found.stream_id == incident.ticket
    finally:
        store.close()


@pytest.mark.timeout(180)
async def test_an_archive_outage_delays_no_deadline_and_the_backlog_drains_once(
    dev_stack: Stack,
) -> None:
    """On the dev server (real clock): a few seconds of outage, a deadline inside it."""
    async with harness_for(dev_stack) as h:
        incident = await h.report(received=datetime.now(UTC), login_impossible=False)
        await archived_as_recorded(h.stack, incident)
        estimate = datetime.now(UTC) + timedelta(seconds=4)

        with archive_locked(archive_of(h.stack)):
            await incident.handle.execute_update(
                IncidentWorkflow.acknowledge,
                Acknowledge(severity=Severity.MAJOR, estimate=estimate),
            )

            # The estimate passes while the archive is down: the miss is recorded on time.
            async def missed() -> IncidentView:
                view = await incident.view()
                assert "estimate_missed" in [e.type for e in view.events]
                return view

            view = await eventually(missed)
            (miss,) = [e for e in view.events if e.type == "estimate_missed"]
            assert miss.at == estimate
            stale = archived(h.stack, incident.ticket)  # readers go on while the writer waits
            assert len(stale.events) < len(view.events)

            # The feed's append failed (after SQLite's busy timeout) and is retried.
            async def retried() -> None:
                described = await incident.handle.describe()
                pending = [
                    p
                    for p in described.raw_description.pending_activities
                    if p.activity_type.name == "archive_append"
                ]
                assert pending and pending[0].attempt >= 2, pending
                assert "locked" in pending[0].last_failure.message

            await eventually(retried, 60)

        # Back: everything recorded meanwhile arrives, each event once, in order.
        await archived_as_recorded(h.stack, incident)
        await incident.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
        await result_of(incident.handle, PATIENCE)
        stream = await archived_as_recorded(h.stack, incident)
        assert stream.status == "resolved"
