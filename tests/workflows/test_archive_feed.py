"""The archive feed (issue 17): every event of an incident archived once, in order.

The worker's archive is the embedded SQLite file in its data dir (migrated on
first use, as ``sla dev`` has it); the tests read it back with
:class:`archive.store.ArchiveStore`. The outage is real: another connection
holds SQLite's write lock, so every append fails (after SQLite's busy timeout)
until it lets go — the incident's deadlines fire on time all the same, and the
backlog drains once afterwards. Each test ends by replaying the incident's
histories without a cache: the feed's commands must sit where the live run put
them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle
from temporalio.worker import Replayer

from archive.errors import ArchiveNotMigrated, UnknownStream
from archive.records import ArchivedStream
from archive.store import ArchiveStore
from domain.events import RULES
from domain.incident import Acknowledge, IncidentStatus, PostStatusUpdate, Resolve
from domain.read_model import IncidentResult, IncidentView
from domain.report import IncidentReport
from domain.sla import Severity
from tests.conftest import Stack, report
from tests.workflows.test_incident_workflow import POLICY, Harness, Incident, harness_for
from tests.workflows.waiting import PATIENCE, eventually, result_of
from worker import WORKFLOWS
from workflows.archive_feed import ARCHIVE_APPEND
from workflows.converter import sla_data_converter
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.sandbox import workflow_runner

Handle = WorkflowHandle[IncidentWorkflow, IncidentResult]


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


class Recorded(NamedTuple):
    """What a stream's workflow holds (its ``view`` query), to compare with the archive."""

    events: Sequence[BaseModel]
    status: str
    view: dict[str, Any] | None = None
    """The archived view, when the test checks it (JSON, without the events)."""


async def stream_archived(
    stack: Stack,
    stream_id: str,
    current: Callable[[], Awaitable[Recorded]],
    timeout: float = PATIENCE,
) -> ArchivedStream:
    """Wait until the archive holds exactly a stream's events, each once, in order.

    ``current`` reads what the stream's workflow holds; the archive must agree
    on the events, the status and (when given) the view.
    """

    async def complete() -> ArchivedStream:
        recorded = await current()
        try:
            stream = archived(stack, stream_id)
        except (UnknownStream, ArchiveNotMigrated) as missing:
            raise AssertionError(str(missing)) from None
        assert [e.seq for e in stream.events] == list(range(len(recorded.events)))
        assert [e.payload for e in stream.events] == [
            e.model_dump(mode="json") for e in recorded.events
        ]
        assert stream.status == recorded.status
        if recorded.view is not None:
            assert stream.view == recorded.view
        return stream

    return await eventually(complete, timeout)


async def archived_as_recorded(
    stack: Stack, handle: Handle, timeout: float = PATIENCE
) -> ArchivedStream:
    """Wait until the archive holds exactly the incident's events, each once, in order."""

    async def current() -> Recorded:
        view: IncidentView = await handle.query(IncidentWorkflow.view)
        return Recorded(view.events, view.status.value)

    return await stream_archived(stack, handle.id, current, timeout)


class Appends(NamedTuple):
    """A run's archive appends, from its history."""

    local: int
    """Local attempts (one marker each, inside a workflow task)."""
    retried: int
    """Batches handed to the regular activity (a local attempt failed)."""
    given_up: int
    """Regular appends that timed out or failed for good."""


def _local_activity_type(event: HistoryEvent) -> str | None:
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != "core_local_activity" or "data" not in attributes.details:
        return None
    (payload,) = attributes.details["data"].payloads
    data = json.loads(payload.data)
    return str(data.get("activity_type")) if isinstance(data, dict) else None


async def appends_of(handle: WorkflowHandle[Any, Any]) -> Appends:
    """How a run's archive appends went."""
    local = 0
    scheduled: set[int] = set()
    given_up = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            local += _local_activity_type(event) == ARCHIVE_APPEND
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == ARCHIVE_APPEND:
                scheduled.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            given_up += (
                event.activity_task_timed_out_event_attributes.scheduled_event_id in scheduled
            )
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            given_up += event.activity_task_failed_event_attributes.scheduled_event_id in scheduled
    return Appends(local, len(scheduled), given_up)


async def replays(*handles: WorkflowHandle[Any, Any]) -> None:
    """Each run's history replays from scratch against the current code."""
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    )
    for handle in handles:
        await replayer.replay_workflow(await handle.fetch_history())


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


async def test_the_lifecycle_reaches_the_archive_once_in_order(h: Harness) -> None:
    incident: Incident = await h.report(login_impossible=False)
    handle: Handle = incident.handle
    await archived_as_recorded(h.stack, handle)  # within seconds of being recorded

    now = await h.stack.now()
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MAJOR, estimate=now + timedelta(hours=3)),
    )
    stream = await archived_as_recorded(h.stack, handle)
    assert stream.company == "Beispiel Versand GmbH"
    assert stream.severity == "major"
    assert stream.status == "acknowledged"

    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    outcome = await result_of(handle)
    assert outcome.status is IncidentStatus.RESOLVED
    assert outcome.view is not None
    # The workflow completes only once its last events are archived.
    stream = archived(h.stack, incident.ticket)
    assert [e.payload for e in stream.events] == [
        e.model_dump(mode="json") for e in outcome.view.events
    ]
    assert [e.seq for e in stream.events] == list(range(len(outcome.view.events)))
    assert stream.status == "resolved"
    assert stream.resolved_at is not None
    assert stream.view["resolution_summary"] == "behoben"

    # Batched: never more appends than rounds of events, each a local attempt
    # inside its workflow task (no activity task, no workflow task of its own).
    appends = await appends_of(handle)
    assert 1 <= appends.local <= len(outcome.view.events)
    assert (appends.retried, appends.given_up) == (0, 0)

    store = ArchiveStore.from_url(f"sqlite:///{archive_of(h.stack)}")
    try:
        (found,) = store.search("Fehlermeldung")
        assert found.stream_id == incident.ticket
    finally:
        store.close()
    await replays(handle)


async def test_continue_as_new_carries_the_archive_position(h: Harness) -> None:
    stack = h.stack
    received = await stack.now()
    ticket = f"INC-ARC-{uuid.uuid4().hex[:8]}"
    handle: Handle = await stack.client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(
            ticket_id=ticket,
            report=IncidentReport.model_validate(
                report(login_impossible=False, customer_says_not_critical=True)
            ),
            received_at=received,
            policy=POLICY,
            status_page_id=stack.status_page_id,
            customer_lane=True,
            rules=RULES,
            max_history_events=60,
            archive_feed=True,
        ),
        id=ticket,
        task_queue=stack.task_queue,
    )
    h.started.append(handle)
    first_run = handle.result_run_id
    latest: Handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    await latest.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(
            severity=Severity.MINOR,
            estimate=received + timedelta(days=30),
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
    )
    for i in range(20):
        await latest.execute_update(
            IncidentWorkflow.post_status_update, PostStatusUpdate(message=f"Stand {i}")
        )
    await latest.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
    outcome = await result_of(latest)
    assert outcome.view is not None

    assert (await latest.describe()).run_id != first_run, "the incident continued as new"
    stream = archived(stack, ticket)
    assert [e.seq for e in stream.events] == list(range(len(outcome.view.events)))
    assert [e.payload for e in stream.events] == [
        e.model_dump(mode="json") for e in outcome.view.events
    ]
    assert stream.status == "resolved"

    # Every run of the chain (first to last) replays.
    runs: list[WorkflowHandle[Any, Any]] = []
    run_id: str | None = first_run
    while run_id:
        run = stack.client.get_workflow_handle(ticket, run_id=run_id)
        runs.append(run)
        last = (await run.fetch_history()).events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    assert len(runs) >= 2
    await replays(*runs)


@pytest.mark.timeout(240)
async def test_an_archive_outage_delays_no_deadline_and_the_backlog_drains_once(
    dev_stack: Stack,
) -> None:
    """On the dev server (real clock): a few seconds of outage, a deadline inside it."""
    async with harness_for(dev_stack) as h:
        incident = await h.report(received=datetime.now(UTC), login_impossible=False)
        handle: Handle = incident.handle
        await archived_as_recorded(h.stack, handle)
        estimate = datetime.now(UTC) + timedelta(seconds=4)

        with archive_locked(archive_of(h.stack)):
            await handle.execute_update(
                IncidentWorkflow.acknowledge,
                Acknowledge(severity=Severity.MAJOR, estimate=estimate),
            )
            # The customer is told at once: no e-mail waits for the archive.
            assert h.stack.emails_of_kind("acknowledgement")

            # The estimate passes while the archive is down: the miss is recorded on time.
            async def missed() -> IncidentView:
                view = await incident.view()
                assert "estimate_missed" in [e.type for e in view.events]
                return view

            view = await eventually(missed, 8)
            (miss,) = [e for e in view.events if e.type == "estimate_missed"]
            assert miss.at == estimate
            stale = archived(h.stack, incident.ticket)  # readers go on while the writer waits
            assert len(stale.events) < len(view.events)

            # The local attempts fail (SQLite's busy timeout is longer than a
            # local attempt; later ones are refused at once while the writer
            # waits) and the regular activity retries with backoff.
            async def retried() -> None:
                described = await handle.describe()
                pending = [
                    p
                    for p in described.raw_description.pending_activities
                    if p.activity_type.name == ARCHIVE_APPEND
                ]
                assert pending and max(p.attempt for p in pending) >= 2, pending
                assert any("archive" in p.last_failure.message for p in pending) or any(
                    "locked" in p.last_failure.message for p in pending
                ), pending

            await eventually(retried, 60)
            assert len(archived(h.stack, incident.ticket).events) == len(stale.events)

        # Back: everything recorded meanwhile arrives, each event once, in order.
        await archived_as_recorded(h.stack, handle, 60)
        await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="behoben"))
        outcome = await result_of(handle, PATIENCE)
        assert outcome.view is not None
        stream = archived(h.stack, incident.ticket)
        assert [e.seq for e in stream.events] == list(range(len(outcome.view.events)))
        assert [e.payload for e in stream.events] == [
            e.model_dump(mode="json") for e in outcome.view.events
        ]
        assert stream.status == "resolved"
        appends = await appends_of(handle)
        assert appends.retried >= 1 and appends.given_up == 0  # retried through, none given up
        await replays(handle)
