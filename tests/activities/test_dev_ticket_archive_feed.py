"""The ledger stamps a ticket's changes in order; the archive never holds up the tracker.

The archive derives a dev ticket's events from the ticket by time
(``domain.dev_ticket_archive``), so the ledger must stamp each change later
than the ticket's earlier ones, whatever its clock says. And the feed is best
effort: a slow archive costs a tracker activity :data:`ARCHIVE_WAIT` at most.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

import activities.dev_tickets
from activities.dev_tickets import (
    LEDGER_FILE,
    DevTicketActivities,
    IncidentLink,
    NewDevTicket,
    SqliteDevTicketTracker,
)
from domain.archive import ArchiveBatch
from domain.dev_ticket import DevTicket, DevTicketKind, DevTicketStatus, DevTicketTransition
from domain.dev_ticket_archive import dev_ticket_events

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_the_ledger_stamps_every_change_after_the_previous_one(tmp_path: Path) -> None:
    # The clock stands still, then goes back an hour (an NTP step).
    readings = iter([T0, T0, T0, T0, T0 - timedelta(hours=1), T0 - timedelta(hours=1)])
    ledger = SqliteDevTicketTracker(tmp_path / LEDGER_FILE, clock=lambda: next(readings))
    created = ledger.create_sync(
        NewDevTicket(key="CR-1", kind=DevTicketKind.FEATURE, title="CSV-Export")
    )
    seen = [created]
    seen.append(ledger.link_sync(created.id, "INC-B"))
    seen.append(
        ledger.transition_sync(
            DevTicketTransition(
                dev_ticket_id=created.id, status=DevTicketStatus.IN_DISCUSSION, key="k1"
            )
        )
    )
    seen.append(ledger.link_sync(created.id, "INC-A"))  # sorts before INC-B at the same instant
    seen.append(ledger.link_sync(created.id, "INC-C"))
    seen.append(ledger.link_sync(created.id, "INC-A"))  # again: keeps its time, no new event

    final = seen[-1]
    ats = [e.at for e in dev_ticket_events(final)]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)
    assert ats[0] == T0
    assert [e.type for e in dev_ticket_events(final)] == [
        "created",
        "incident_linked",
        "status_changed",
        "incident_linked",
        "incident_linked",
    ]
    for earlier in seen:
        events = dev_ticket_events(earlier)
        assert dev_ticket_events(final)[: len(events)] == events


async def test_a_slow_archive_costs_the_tracker_activity_a_bounded_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activities.dev_tickets, "ARCHIVE_WAIT", 0.2)
    handed: list[ArchiveBatch] = []

    async def hanging(batch: ArchiveBatch) -> int:
        handed.append(batch)
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    dev = DevTicketActivities(SqliteDevTicketTracker(tmp_path / LEDGER_FILE), archive=hanging)
    started = time.monotonic()
    bug: DevTicket = await ActivityEnvironment().run(
        dev.link_incident, IncidentLink(ticket_id="INC-20261124-AAAAAA", title="Export")
    )
    assert time.monotonic() - started < 5
    assert bug.links == ("INC-20261124-AAAAAA",)
    assert [[e.type for e in b.events] for b in handed] == [["created", "incident_linked"]]


async def test_each_change_hands_the_whole_history_to_the_archive(tmp_path: Path) -> None:
    stored: dict[str, int] = {}
    handed: list[tuple[int, int]] = []

    async def archive(batch: ArchiveBatch) -> int:
        # Like the archive: idempotent by position, answers its last seq.
        handed.append((batch.first_seq, batch.last_seq))
        stored[batch.stream_id] = max(stored.get(batch.stream_id, -1), batch.last_seq)
        return stored[batch.stream_id]

    dev = DevTicketActivities(SqliteDevTicketTracker(tmp_path / LEDGER_FILE), archive=archive)
    env = ActivityEnvironment()
    created = await env.run(
        dev.create_dev_ticket,
        NewDevTicket(key="CR-1", kind=DevTicketKind.FEATURE, title="CSV-Export"),
    )
    await env.run(
        dev.transition_dev_ticket,
        DevTicketTransition(
            dev_ticket_id=created.id, status=DevTicketStatus.IN_DISCUSSION, key="k1"
        ),
    )
    assert handed == [(0, 0), (0, 1)]
    assert stored == {created.id: 1}
