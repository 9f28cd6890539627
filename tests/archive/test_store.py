"""ArchiveStore on SQLite and PostgreSQL: schema, exactly-once appends in order, views, lists."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from archive import migrate
from archive.errors import ArchiveGap, ArchiveNotMigrated, UnknownStream
from archive.store import ArchiveStore
from domain.archive import ArchivedEvent, StreamKind
from tests.archive.streams import TUESDAY, incident_batches, synthetic_batch

pytestmark = pytest.mark.timeout(60)


def test_an_unmigrated_archive_is_refused_with_the_command_that_fixes_it(url: str) -> None:
    store = ArchiveStore.from_url(url)
    try:
        with pytest.raises(ArchiveNotMigrated) as refused:
            store.check_migrated()
        message = str(refused.value)
        assert message.startswith("archive schema at ")
        assert message.endswith("is not migrated: run `sla archive migrate`")
        with pytest.raises(ArchiveNotMigrated):
            store.list()
    finally:
        store.close()


def test_migrate_reaches_the_head_and_is_idempotent(url: str) -> None:
    store = ArchiveStore.from_url(url)
    try:
        assert store.migrate() == migrate.head_revision()
        assert store.migrate() == migrate.head_revision()
        assert store.check_migrated() == migrate.head_revision()
    finally:
        store.close()


def test_a_schema_newer_than_the_program_is_refused_as_such(store: ArchiveStore) -> None:
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    with pytest.raises(ArchiveNotMigrated, match=r"does not know .*upgrade sla"):
        store.check_migrated()


def test_a_batch_appended_twice_is_stored_once(store: ArchiveStore) -> None:
    first = incident_batches()[0]
    assert store.append(first).appended == len(first.events)
    again = store.append(first)
    assert again.appended == 0
    assert again.last_seq == first.last_seq
    assert [e.seq for e in store.get(first.stream_id).events] == list(range(len(first.events)))


def test_an_overlapping_batch_stores_only_its_new_events(store: ArchiveStore) -> None:
    batches = incident_batches()
    store.append(batches[0])
    # A retry after a lost reply can resend old events together with new ones.
    overlapping = batches[1].model_copy(update={"events": batches[0].events + batches[1].events})
    result = store.append(overlapping)
    assert result.appended == len(batches[1].events)
    stored = store.get(batches[0].stream_id)
    assert [e.seq for e in stored.events] == list(range(result.last_seq + 1))
    assert [e.payload for e in stored.events] == [
        e.payload for e in batches[0].events + batches[1].events
    ]


def test_a_batch_after_a_gap_is_refused_and_nothing_is_stored(store: ArchiveStore) -> None:
    batches = incident_batches()
    store.append(batches[0])
    with pytest.raises(ArchiveGap) as refused:
        store.append(batches[2])
    assert refused.value.expected == batches[0].last_seq + 1
    assert refused.value.got == batches[2].first_seq
    assert "send the events in order" in str(refused.value)
    assert store.get(batches[0].stream_id).last_seq == batches[0].last_seq
    # In order, the same batches go in.
    for batch in batches[1:]:
        store.append(batch)
    assert store.get(batches[0].stream_id).last_seq == batches[-1].last_seq


def test_a_new_stream_must_start_at_its_first_event(store: ArchiveStore) -> None:
    with pytest.raises(ArchiveGap):
        store.append(incident_batches()[1])
    with pytest.raises(UnknownStream):
        store.get(incident_batches()[1].stream_id)


def test_a_new_stream_is_stored_complete_by_its_first_batch(store: ArchiveStore) -> None:
    first = incident_batches()[0]
    result = store.append(first)
    assert (result.appended, result.last_seq) == (len(first.events), first.last_seq)
    stored = store.get(first.stream_id)
    assert stored.last_seq == first.last_seq
    assert stored.view == first.view
    assert stored.status == first.columns.status
    assert [e.payload for e in stored.events] == [e.payload for e in first.events]
    assert [r.stream_id for r in store.search(first.stream_id)] == [first.stream_id]


def test_a_group_commit_answers_each_batch_and_a_gap_stores_nothing_of_its_batch(
    store: ArchiveStore,
) -> None:
    a, b, c = (incident_batches(f"INC-20261124-GROUP{n}") for n in "ABC")
    store.append(c[0])
    answers = store.append_many([a[0], b[1], a[1], c[2], c[1], a[0]])
    assert [type(x).__name__ for x in answers] == [
        "AppendResult",
        "ArchiveGap",  # a new stream must begin at its first event
        "AppendResult",
        "ArchiveGap",  # c[1] is missing
        "AppendResult",
        "AppendResult",  # already stored: nothing to do
    ]
    gap = answers[3]
    assert isinstance(gap, ArchiveGap)
    assert (gap.expected, gap.got) == (c[0].last_seq + 1, c[2].first_seq)
    assert [getattr(x, "appended", None) for x in answers] == [
        len(a[0].events),
        None,
        len(a[1].events),
        None,
        len(c[1].events),
        0,
    ]
    with pytest.raises(UnknownStream):
        store.get(b[0].stream_id)
    assert store.get(a[0].stream_id).last_seq == a[1].last_seq
    assert store.get(a[0].stream_id).view == a[1].view
    assert store.get(c[0].stream_id).last_seq == c[1].last_seq
    assert store.counts()["streams"] == 2
    assert store.counts()["events"] == sum(len(x.events) for x in (a[0], a[1], c[0], c[1]))


def test_concurrent_appends_of_the_same_batches_store_each_event_exactly_once(
    url: str, store: ArchiveStore
) -> None:
    batches = incident_batches()
    stores = [ArchiveStore.from_url(url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    appended: list[int] = []
    errors: list[BaseException] = []

    def worker(archive: ArchiveStore) -> None:
        try:
            start.wait()
            for batch in batches:
                appended.append(archive.append(batch).appended)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    for archive in stores:
        archive.close()
    assert errors == []
    total = sum(len(b.events) for b in batches)
    assert sum(appended) == total
    assert store.counts()["events"] == total
    assert store.counts()["streams"] == 1


def test_the_view_follows_the_newest_batch_and_a_stale_batch_does_not_roll_it_back(
    store: ArchiveStore,
) -> None:
    batches = incident_batches()
    for batch in batches:
        store.append(batch)
    stored = store.get(batches[0].stream_id)
    assert stored.status == "resolved"
    assert stored.view == batches[-1].view
    assert stored.summary["status"] == "resolved"
    assert "events" not in stored.summary
    assert stored.resolved_at == batches[-1].columns.resolved_at
    store.append(batches[1])  # late duplicate delivery of an older task's batch
    assert store.get(batches[0].stream_id).view == batches[-1].view


def test_instants_come_back_as_the_same_instants_in_utc(store: ArchiveStore) -> None:
    berlin = datetime(2026, 11, 24, 10, 0).astimezone()
    batch = synthetic_batch("INC-20261124-TIMEZ1", opened_at=berlin)
    store.append(batch)
    stored = store.get("INC-20261124-TIMEZ1")
    assert stored.opened_at == berlin
    assert stored.opened_at.tzinfo is not None
    assert stored.events[0].at == batch.events[0].at


def _seed_for_lists(store: ArchiveStore) -> None:
    day = timedelta(days=1)
    rows = [
        ("INC-20261101-AAAAA1", "Alpha GmbH", "new", "critical", StreamKind.INCIDENT, 0),
        ("INC-20261102-AAAAA2", "Alpha GmbH", "resolved", "minor", StreamKind.INCIDENT, 1),
        ("INC-20261103-BBBBB1", "Beta AG", "acknowledged", "major", StreamKind.INCIDENT, 2),
        ("CR-20261104-CCCCC1", "Beta AG", "discussed", None, StreamKind.CHANGE_REQUEST, 3),
        ("INC-20261205-BBBBB2", "Beta AG", "resolved", "critical", StreamKind.INCIDENT, 34),
    ]
    for stream_id, company, status, severity, kind, offset in rows:
        opened = datetime(2026, 11, 1, 9, tzinfo=UTC) + offset * day
        store.append(
            synthetic_batch(
                stream_id,
                company=company,
                status=status,
                severity=severity,
                kind=kind,
                opened_at=opened,
                resolved_at=opened + day if status == "resolved" else None,
            )
        )


def test_list_filters_combine_and_sort_newest_first(store: ArchiveStore) -> None:
    _seed_for_lists(store)

    def ids(**filters: object) -> list[str]:
        return [r.stream_id for r in store.list(**filters)]  # type: ignore[arg-type]

    assert ids() == [
        "INC-20261205-BBBBB2",
        "CR-20261104-CCCCC1",
        "INC-20261103-BBBBB1",
        "INC-20261102-AAAAA2",
        "INC-20261101-AAAAA1",
    ]
    assert ids(company="Alpha GmbH") == ["INC-20261102-AAAAA2", "INC-20261101-AAAAA1"]
    assert ids(status="resolved") == ["INC-20261205-BBBBB2", "INC-20261102-AAAAA2"]
    assert ids(severity="critical") == ["INC-20261205-BBBBB2", "INC-20261101-AAAAA1"]
    assert ids(kind=StreamKind.CHANGE_REQUEST) == ["CR-20261104-CCCCC1"]
    assert ids(
        since=datetime(2026, 11, 2, 9, tzinfo=UTC), until=datetime(2026, 11, 4, 9, tzinfo=UTC)
    ) == ["INC-20261103-BBBBB1", "INC-20261102-AAAAA2"]
    assert ids(company="Beta AG", status="resolved") == ["INC-20261205-BBBBB2"]
    assert ids(limit=2) == ["INC-20261205-BBBBB2", "CR-20261104-CCCCC1"]
    assert ids(company="Gamma") == []


def test_month_holds_streams_opened_or_resolved_in_it_by_berlin_calendar(
    store: ArchiveStore,
) -> None:
    _seed_for_lists(store)
    # Opened 30 Nov 23:30 UTC = 1 Dec 00:30 in Berlin: a December stream.
    store.append(
        synthetic_batch("INC-20261201-EDGE01", opened_at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    )
    # Opened in October, resolved in November: November's report covers it.
    store.append(
        synthetic_batch(
            "INC-20261030-LATE01",
            status="resolved",
            opened_at=datetime(2026, 10, 30, 9, tzinfo=UTC),
            resolved_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        )
    )
    november = [r.stream_id for r in store.month(2026, 11)]
    assert november == [
        "INC-20261030-LATE01",
        "INC-20261101-AAAAA1",
        "INC-20261102-AAAAA2",
        "INC-20261103-BBBBB1",
        "CR-20261104-CCCCC1",
    ]
    december = [r.stream_id for r in store.month(2026, 12)]
    assert december == ["INC-20261201-EDGE01", "INC-20261205-BBBBB2"]
    assert [r.stream_id for r in store.month(2026, 11, kind=StreamKind.CHANGE_REQUEST)] == [
        "CR-20261104-CCCCC1"
    ]


def test_a_month_covers_a_period_reopened_in_it(store: ArchiveStore) -> None:
    """Opened and resolved in October, reopened in December, resolved again in January."""
    opened = datetime(2026, 10, 6, 9, tzinfo=UTC)
    first = synthetic_batch(
        "INC-20261006-REOP01",
        seqs=range(2),
        status="resolved",
        opened_at=opened,
        resolved_at=datetime(2027, 1, 5, 9, tzinfo=UTC),
    )
    reopened = ArchivedEvent(
        seq=2,
        type="reopened",
        at=datetime(2026, 12, 3, 10, tzinfo=UTC),
        payload={"type": "reopened", "reason": "Fehler tritt erneut auf"},
    )
    store.append(first.model_copy(update={"events": (*first.events, reopened)}))
    # Another stream of October, never reopened, is not December's.
    store.append(synthetic_batch("INC-20261006-OTHER1", opened_at=opened))
    assert [r.stream_id for r in store.month(2026, 12)] == ["INC-20261006-REOP01"]
    assert [s.stream_id for s in store.month_streams(2026, 12)] == ["INC-20261006-REOP01"]
    assert [r.stream_id for r in store.month(2026, 11)] == []
    assert [r.stream_id for r in store.month(2026, 10)] == [
        "INC-20261006-REOP01",
        "INC-20261006-OTHER1",
    ]


def test_get_of_an_unknown_stream_says_so(store: ArchiveStore) -> None:
    with pytest.raises(UnknownStream, match="INC-20990101-NOPE00 is not in the archive"):
        store.get("INC-20990101-NOPE00")


def test_the_store_keeps_the_first_seen_opened_at_order_stable(store: ArchiveStore) -> None:
    # Streams opened at the same instant still list in one stable order.
    for n in range(5):
        store.append(synthetic_batch(f"INC-20261124-SAME0{n}", opened_at=TUESDAY))
    first = [r.stream_id for r in store.list()]
    assert first == [r.stream_id for r in store.list()]
    assert sorted(first) == [f"INC-20261124-SAME0{n}" for n in range(5)]
