"""The tracker's activities feed the archive with every dev ticket they change (issue 17).

On both databases, through the worker's group commit (``ArchiveActivities.feed``)
as ``worker.py`` wires it: a created, moved and linked ticket arrives with
its derived events; an archive that is down fails no tracker activity, and the
ticket's next change brings everything it missed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

import activities.archive
from activities.archive import ArchiveActivities
from activities.dev_tickets import (
    LEDGER_FILE,
    DevTicketActivities,
    IncidentLink,
    NewDevTicket,
    SqliteDevTicketTracker,
)
from archive.errors import ArchiveUnavailable, UnknownStream
from archive.store import ArchiveStore
from domain.archive import StreamKind
from domain.dev_ticket import (
    DevTicketKind,
    DevTicketStatus,
    DevTicketTransition,
    IncidentContact,
    TransitionSource,
)
from domain.dev_ticket_archive import dev_ticket_events

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CONTACT = IncidentContact(email="erika.mustermann@beispiel-versand.de", name="Erika Mustermann")


def ticking() -> Iterator[datetime]:
    return (T0 + timedelta(seconds=n) for n in itertools.count())


@pytest.fixture
def tracker(tmp_path: Path) -> SqliteDevTicketTracker:
    clock = ticking()
    return SqliteDevTicketTracker(tmp_path / LEDGER_FILE, clock=lambda: next(clock))


class Outage:
    """Opens the archive at ``url`` unless it is down."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.down = False

    def __call__(self) -> ArchiveStore:
        if self.down:
            raise ArchiveUnavailable("archive database unreachable (test)")
        return ArchiveStore.from_url(self.url)


def move(dev_ticket_id: str, status: DevTicketStatus, key: str, **rest: str) -> DevTicketTransition:
    return DevTicketTransition(
        dev_ticket_id=dev_ticket_id, status=status, key=key, by=TransitionSource.OPERATOR, **rest
    )


async def test_a_linked_and_moved_bug_ticket_reaches_the_archive(
    store: ArchiveStore, url: str, tracker: SqliteDevTicketTracker
) -> None:
    archive = ArchiveActivities(lambda: ArchiveStore.from_url(url))
    dev = DevTicketActivities(tracker, archive=archive.feed)
    env = ActivityEnvironment()
    try:
        bug = await env.run(
            dev.link_incident,
            IncidentLink(
                ticket_id="INC-20261124-AAAAAA", title="Export bricht ab", contact=CONTACT
            ),
        )
        assert [e.type for e in store.get(bug.id).events] == ["created", "incident_linked"]
        await env.run(
            dev.transition_dev_ticket,
            move(bug.id, DevTicketStatus.FIXED, "t1", note="Zeichensatz korrigiert"),
        )
        await env.run(
            dev.link_incident,
            IncidentLink(ticket_id="INC-20261124-BBBBBB", dev_ticket_id=bug.id),
        )
        released = await env.run(
            dev.transition_dev_ticket,
            move(bug.id, DevTicketStatus.RELEASED, "t2", release="2027.1"),
        )
    finally:
        archive.close()

    stream = store.get(bug.id)
    assert [e.type for e in stream.events] == [
        "created",
        "incident_linked",
        "status_changed",
        "incident_linked",
        "status_changed",
    ]
    assert [e.payload for e in stream.events] == [
        e.model_dump(mode="json") for e in dev_ticket_events(released)
    ]
    assert stream.kind is StreamKind.DEV_TICKET
    assert stream.status == "released"
    assert stream.resolved_at == released.history[-1].at
    assert stream.view["links"] == ["INC-20261124-AAAAAA", "INC-20261124-BBBBBB"]
    # The reporter's contact stays with the tracker.
    assert "erika" not in str(stream.model_dump(mode="json")).lower()
    assert [r.stream_id for r in store.search("Zeichensatz")] == [bug.id]


async def test_an_archive_outage_fails_no_tracker_change_and_the_next_one_catches_up(
    store: ArchiveStore,
    url: str,
    tracker: SqliteDevTicketTracker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No pause after the failure: the next change finds the archive back at once.
    monkeypatch.setattr(activities.archive, "RESTING", 0.0)
    outage = Outage(url)
    archive = ArchiveActivities(outage)
    dev = DevTicketActivities(tracker, archive=archive.feed)
    env = ActivityEnvironment()
    outage.down = True
    try:
        with caplog.at_level(logging.WARNING):
            created = await env.run(
                dev.create_dev_ticket,
                NewDevTicket(
                    key="CR-1", kind=DevTicketKind.FEATURE, title="CSV-Export", company="Beispiel"
                ),
            )
            discussed = await env.run(
                dev.transition_dev_ticket,
                DevTicketTransition(
                    dev_ticket_id=created.id,
                    status=DevTicketStatus.IN_DISCUSSION,
                    key="CR-1:1",
                    note="Wir prüfen den Aufwand.",
                ),
            )
        # The tracker's changes went through; the archive has nothing yet.
        assert discussed.status is DevTicketStatus.IN_DISCUSSION
        assert tracker.get_sync(created.id).history == discussed.history
        with pytest.raises(UnknownStream):
            store.get(created.id)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2 and all(created.id in w for w in warnings), warnings

        outage.down = False
        planned = await env.run(
            dev.transition_dev_ticket,
            DevTicketTransition(
                dev_ticket_id=created.id,
                status=DevTicketStatus.PLANNED,
                key="CR-1:2",
                release="2027.1",
            ),
        )
    finally:
        archive.close()

    stream = store.get(created.id)
    assert [e.type for e in stream.events] == ["created", "status_changed", "status_changed"]
    assert [e.payload for e in stream.events] == [
        e.model_dump(mode="json") for e in dev_ticket_events(planned)
    ]
    assert stream.status == "planned" and stream.resolved_at == planned.history[-1].at
