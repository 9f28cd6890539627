"""The automatic erasure's activity on SQLite and PostgreSQL: only what is due, bounded, idempotent.

Real databases (the ``store`` fixture), the real activity in Temporal's
``ActivityEnvironment`` (its heartbeats and info, no server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from temporalio.testing import ActivityEnvironment

from activities.erasure import ErasureActivities
from archive.store import ArchiveStore
from domain.archive import DueErasure, DueErasureResult
from tests.archive.streams import incident_batches, synthetic_batch

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2028, 12, 2, 2, 30, tzinfo=UTC)
DAYS = 730
CUTOFF = NOW - timedelta(days=DAYS)


def archive_resolved(store: ArchiveStore, resolved: dict[str, datetime | None]) -> None:
    for stream_id, resolved_at in resolved.items():
        store.append(
            synthetic_batch(
                stream_id,
                status="resolved" if resolved_at else "acknowledged",
                opened_at=(resolved_at or NOW) - timedelta(days=1),
                resolved_at=resolved_at,
            )
        )


STREAMS: dict[str, datetime | None] = {
    "INC-20260101-OLDEST": CUTOFF - timedelta(days=300),
    "INC-20260601-OLDER0": CUTOFF - timedelta(days=100),
    "INC-20261130-JUSTDU": CUTOFF - timedelta(minutes=1),
    "INC-20261202-NOTYET": CUTOFF + timedelta(minutes=1),
    "INC-20281101-RECENT": NOW - timedelta(days=30),
    "INC-20250101-STOPEN": None,  # open for years: never due
}
DUE = ["INC-20260101-OLDEST", "INC-20260601-OLDER0", "INC-20261130-JUSTDU"]


async def run(
    store: ArchiveStore, limit: int = 500, removed: list[str] | None = None
) -> tuple[DueErasureResult, list[object]]:
    heartbeats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: heartbeats.extend(details)

    def remove(stream_id: str) -> int:
        if removed is not None:
            removed.append(stream_id)
        return 0

    activities = ErasureActivities(lambda: store, remove_attachments=remove)
    request = DueErasure(now=NOW, personal_data_days=DAYS, limit=limit)
    return await env.run(activities.erase_due, request), heartbeats


def erased(store: ArchiveStore) -> set[str]:
    return {r.stream_id for r in store.list(limit=100) if r.erased_at is not None}


async def test_only_streams_resolved_before_the_cutoff_are_erased(store: ArchiveStore) -> None:
    archive_resolved(store, STREAMS)
    removed: list[str] = []
    result, heartbeats = await run(store, removed=removed)
    assert removed == DUE  # their saved attachment files go with them
    assert result == DueErasureResult(before=CUTOFF, erased=tuple(DUE), more=False)
    assert heartbeats == [1, 2, 3]
    assert erased(store) == set(DUE)
    for stream_id in DUE:
        stream = store.get(stream_id)
        assert stream.reporter_name is None
        assert stream.erased_at == NOW
        assert stream.resolved_at == STREAMS[stream_id]  # the figures stay
    assert store.get("INC-20261202-NOTYET").reporter_name == "Erika Mustermann"
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT reason, erased_by FROM erasures")).all()
    assert {tuple(r) for r in rows} == {
        ("automatic: personal_data_days=730", "automatic erasure (test)")
    }


async def test_a_run_respects_its_limit_and_the_next_run_continues(store: ArchiveStore) -> None:
    archive_resolved(store, STREAMS)
    first, _ = await run(store, limit=2)
    assert (first.erased, first.more) == (tuple(DUE[:2]), True)
    second, _ = await run(store, limit=2)
    assert (second.erased, second.more) == (tuple(DUE[2:]), False)
    assert erased(store) == set(DUE)


async def test_running_again_erases_nothing_more(store: ArchiveStore) -> None:
    archive_resolved(store, STREAMS)
    await run(store)
    again, heartbeats = await run(store)
    assert (again.erased, again.more, heartbeats) == ((), False, [])
    assert store.counts()["erasures"] == len(DUE)


async def test_a_real_lifecycle_loses_its_personal_data_everywhere(store: ArchiveStore) -> None:
    # incident_batches resolves on 2026-11-24: due two years later.
    for batch in incident_batches("INC-20261124-7QK2AB"):
        store.append(batch)
    result, _ = await run(store)
    assert result.erased == ("INC-20261124-7QK2AB",)
    assert store.search("Mustermann") == []
    assert store.search("Datenbankserver") == []
    view = store.get("INC-20261124-7QK2AB").view
    assert view["report"]["attachments"] == []
    assert view["severity"] == "critical" and view["resolved_at"]
