"""Erasure (GDPR): personal data and free text leave the view, the events and the search index;
the SLA figures stay; the erasure is recorded; later appends arrive erased."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from archive.errors import UnknownStream
from archive.store import ArchiveStore
from domain.archive import ERASED, StreamKind, scrub_personal
from tests.archive.streams import EMAIL, PHONE, incident_batches, synthetic_batch

pytestmark = pytest.mark.timeout(60)

TICKET = "INC-20261124-7QK2AB"
ERASED_AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
PERSONAL = (
    "Mustermann",
    "Erika",
    "erika.mustermann",
    PHONE,
    "2131",
    "Anmeldung",  # description
    "Ersatzserver",  # extension reason
    "Datenbankserver",  # resolution summary
    "screenshot-1",  # attachment
    "Müller",
)
FIGURES = (
    "ticket_id",
    "status",
    "severity",
    "company",
    "received_at",
    "reaction_due",
    "resolution_due",
    "estimate",
    "acknowledged_at",
    "resolved_at",
    "escalation_stage",
    "reaction_breached",
    "resolution_breached",
    "resolution_communicated_in_time",
    "resolved_within_target",
    "channel",
    "classified",
)


def _everything_stored(store: ArchiveStore) -> str:
    """Every row of every table (and on SQLite the index's vocabulary), as one text."""
    dumped: list[str] = []
    with store.engine.connect() as connection:
        for table in ("streams", "events", "erasures"):
            columns = "*" if store.dialect == "sqlite" else f"{table}::text"
            for row in connection.execute(sa.text(f"SELECT {columns} FROM {table}")):
                dumped.append(json.dumps([str(v) for v in row], ensure_ascii=False))
        if store.dialect == "sqlite":
            connection.exec_driver_sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab "
                "USING fts5vocab('main', 'streams_fts', 'row')"
            )
            terms = [row[0] for row in connection.exec_driver_sql("SELECT term FROM temp.vocab")]
            dumped.append(" ".join(terms))
    return "\n".join(dumped)


@pytest.fixture
def archived(store: ArchiveStore) -> ArchiveStore:
    for batch in incident_batches(TICKET):
        store.append(batch)
    return store


def test_personal_data_is_everywhere_before_erasure(archived: ArchiveStore) -> None:
    # The check below is only worth something if it would have seen the data.
    everything = _everything_stored(archived).lower()
    for text in ("mustermann", "anmeld", "ersatzserver", EMAIL.split("@")[0].split(".")[0]):
        assert text in everything
    assert archived.search("Mustermann")


def test_erase_removes_personal_data_from_every_place_and_keeps_the_figures(
    archived: ArchiveStore,
) -> None:
    before = archived.get(TICKET)
    record = archived.erase(TICKET, "Art. 17 DSGVO, Anfrage 2026-118", ERASED_AT)
    assert record.events_scrubbed == len(before.events)
    after = archived.get(TICKET)

    everything = _everything_stored(archived)
    for text in PERSONAL:
        assert text.lower() not in everything.lower(), text
    for text in ("Mustermann", "Anmeldung", EMAIL, "Ersatzserver", "Müller", PHONE):
        assert archived.search(text) == [], text
    # The stream is still found by what is not personal.
    assert [r.stream_id for r in archived.search(TICKET)] == [TICKET]
    assert [r.stream_id for r in archived.search("Beispiel Versand")] == [TICKET]

    for key in FIGURES:
        assert after.view.get(key) == before.view.get(key), key
    assert after.view["reporter"] == ERASED
    assert after.view["report"]["email"] == ERASED
    assert after.view["report"]["attachments"] == []
    assert after.reporter_name is None
    assert after.erased_at == ERASED_AT
    assert [(e.seq, e.type, e.at) for e in after.events] == [
        (e.seq, e.type, e.at) for e in before.events
    ]
    reported = after.events[0].payload
    assert reported["received_at"] == before.events[0].payload["received_at"]
    assert reported["deadlines"] == before.events[0].payload["deadlines"]
    assert reported["report"]["full_name"] == ERASED

    with archived.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT stream_id, reason FROM erasures")).all()
    assert [tuple(r) for r in rows] == [(TICKET, "Art. 17 DSGVO, Anfrage 2026-118")]


def test_events_appended_after_erasure_arrive_erased(store: ArchiveStore) -> None:
    batches = incident_batches(TICKET)
    for batch in batches[:-1]:
        store.append(batch)
    store.erase(TICKET, "Art. 17 DSGVO", ERASED_AT)
    store.append(batches[-1])  # the workflow still had the resolution in flight
    after = store.get(TICKET)
    assert after.status == "resolved"
    assert after.reporter_name is None
    for text in PERSONAL:
        assert text.lower() not in _everything_stored(store).lower(), text
    assert store.search("Datenbankserver") == []


def test_erasing_an_unknown_stream_says_so(store: ArchiveStore) -> None:
    with pytest.raises(UnknownStream):
        store.erase("INC-20990101-NOPE00", "Art. 17", ERASED_AT)


def test_erasing_twice_is_recorded_twice_and_keeps_the_first_instant(
    archived: ArchiveStore,
) -> None:
    archived.erase(TICKET, "first", ERASED_AT)
    archived.erase(TICKET, "second", datetime(2026, 12, 2, tzinfo=UTC))
    assert archived.get(TICKET).erased_at == ERASED_AT
    assert archived.counts()["erasures"] == 2


def test_the_scrub_rule_keeps_figures_ids_and_machine_texts_and_blanks_the_rest() -> None:
    value = {
        "type": "escalated",
        "at": "2026-11-24T10:00:00+01:00",
        "stage": 3,
        "reason": "Herr Meier ist verärgert",
        "by": "customer",
        "company": "Beispiel Versand GmbH",
        "to": ["erika@example.de", "b@example.de"],
        "duration": "PT4H",
        "nested": [{"note": "privat", "ok": True, "n": 2.5, "none": None}],
        "dev_tickets": ["DEV-0001"],
        "new_free_text_field": "wird ebenfalls gelöscht",
    }
    assert scrub_personal(value) == {
        "type": "escalated",
        "at": "2026-11-24T10:00:00+01:00",
        "stage": 3,
        "reason": ERASED,
        "by": "customer",
        "company": "Beispiel Versand GmbH",
        "to": [],
        "duration": "PT4H",
        "nested": [{"note": ERASED, "ok": True, "n": 2.5, "none": None}],
        "dev_tickets": ["DEV-0001"],
        "new_free_text_field": ERASED,
    }


def test_the_erasure_records_who_erased(archived: ArchiveStore) -> None:
    record = archived.erase(TICKET, "Art. 17 DSGVO", ERASED_AT, by="  teamleitung  ")
    assert record.erased_by == "teamleitung"
    with archived.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT erased_by FROM erasures")).all()
    assert [r[0] for r in rows] == ["teamleitung"]
    # Without a name the record says nobody rather than inventing one.
    assert archived.erase(TICKET, "again", ERASED_AT).erased_by is None


def test_an_upgrade_from_the_first_revision_keeps_earlier_erasures(url: str) -> None:
    from alembic import command

    from archive import migrate

    older = ArchiveStore.from_url(url)
    try:
        config = migrate._config()
        with older.engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001_archive")
            connection.commit()
        with older.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO erasures (stream_id, at, reason, recorded_at) "
                    "VALUES (:s, :at, 'Art. 17', :at)"
                ),
                {"s": TICKET, "at": ERASED_AT.replace(tzinfo=None)},
            )
        assert older.migrate() == migrate.head_revision()
        with older.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT stream_id, erased_by FROM erasures")).all()
        assert [tuple(r) for r in rows] == [(TICKET, None)]
    finally:
        older.close()


def _resolved_streams(store: ArchiveStore, resolved: dict[str, datetime | None]) -> None:
    for stream_id, resolved_at in resolved.items():
        store.append(
            synthetic_batch(
                stream_id,
                status="resolved" if resolved_at else "acknowledged",
                opened_at=(resolved_at or ERASED_AT) - timedelta(days=1),
                resolved_at=resolved_at,
            )
        )


def test_due_for_erasure_lists_resolved_streams_not_yet_erased_oldest_first(
    store: ArchiveStore,
) -> None:
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    _resolved_streams(
        store,
        {
            "INC-20240301-AAAAAA": datetime(2024, 3, 1, tzinfo=UTC),
            "INC-20230601-BBBBBB": datetime(2023, 6, 1, tzinfo=UTC),
            "INC-20241231-CCCCCC": cutoff - timedelta(seconds=1),
            "INC-20250101-DDDDDD": cutoff,  # not before the cutoff
            "INC-20260101-EEEEEE": datetime(2026, 1, 1, tzinfo=UTC),
            "INC-20230101-FFFFFF": None,  # still open, however old
        },
    )
    due = store.due_for_erasure(cutoff)
    assert due == ["INC-20230601-BBBBBB", "INC-20240301-AAAAAA", "INC-20241231-CCCCCC"]
    assert store.due_for_erasure(cutoff, limit=2) == due[:2]

    store.erase("INC-20230601-BBBBBB", "Art. 17", ERASED_AT)
    assert store.due_for_erasure(cutoff) == due[1:]
    # A limit outside the bounds is brought into them, not refused.
    assert store.due_for_erasure(cutoff, limit=0) == due[1:2]


def test_due_for_erasure_takes_only_streams_that_name_people(store: ArchiveStore) -> None:
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    long_ago = datetime(2023, 6, 1, tzinfo=UTC)
    for stream_id, kind in [
        ("INC-20230601-AAAAAA", StreamKind.INCIDENT),
        ("CR-20230601-AAAAAA", StreamKind.CHANGE_REQUEST),
        ("ONC-20230601-AAAA", StreamKind.ONCALL),
        ("MNT-20230601-AAAAAA", StreamKind.MAINTENANCE),
        ("DEV-0001", StreamKind.DEV_TICKET),
    ]:
        store.append(
            synthetic_batch(
                stream_id,
                kind=kind,
                status="closed",
                opened_at=long_ago - timedelta(days=1),
                resolved_at=long_ago,
            )
        )
    # A maintenance announcement and a dev ticket's stream name nobody: kept.
    assert sorted(store.due_for_erasure(cutoff)) == [
        "CR-20230601-AAAAAA",
        "INC-20230601-AAAAAA",
        "ONC-20230601-AAAA",
    ]


def test_a_batch_of_erasures_purges_the_index_once_and_leaves_no_word(
    store: ArchiveStore,
) -> None:
    for ticket in ("INC-20261124-AAAAAA", "INC-20261124-BBBBBB"):
        for batch in incident_batches(ticket):
            store.append(batch)
    for ticket in ("INC-20261124-AAAAAA", "INC-20261124-BBBBBB"):
        store.erase(ticket, "automatic", ERASED_AT, purge=False)
    store.purge_index()
    everything = _everything_stored(store).lower()
    for text in PERSONAL:
        assert text.lower() not in everything, text
