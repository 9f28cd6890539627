"""Archive benchmark: ``search`` and ``list`` p50 over N archived incidents, SQLite and PostgreSQL.

Target (issue 17): p50 ≤ 100 ms with 100,000 archived incidents on each database.

Seeding is bulk and fast, through the store's tables (not one ``append`` per
stream, which would measure appends): N resolved or open incidents with a
German description drawn from a fixed vocabulary, one of 500 companies and
2,000 reporters, a summary and view JSON of the real size, and one event
each. Then ``ANALYZE`` (PostgreSQL's autovacuum would do it; SQLite's planner
gets the same statistics as after ``PRAGMA optimize``).

Measured through :class:`archive.store.ArchiveStore`, warm (one untimed round
first), a fixed-seed mix of queries per operation:

* **search** — a rare description word, a common one, two words, a company
  name, a reporter's surname, a ticket ID, with and without a company or
  date filter (limit 50, as ``sla search``);
* **list** — no filter, by status, by company, by severity, by a month's
  date range (limit 200, as ``sla list --all``);
* **append a lifecycle** — what the archive feed costs the database per
  incident: a real lifecycle's batches (reported, acknowledged, extended,
  resolved), each its own transaction as a quiet worker writes them (under
  load the worker's group commit shares one transaction among many), on top
  of the N streams.

PostgreSQL is Debian's server started in a temporary directory
(``tests/realservers/postgres.py``, as the tests do); without it the
PostgreSQL rows say why they are missing.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive import fulltext
from archive.store import ArchiveStore
from archive.tables import events, streams
from domain.archive import ArchiveBatch

Row = dict[str, object]

TARGET_MS = 100.0
SEED = 20261124
CHUNK = 5_000
ROUNDS = 5

LABELS: dict[str, str] = {
    "database": "database",
    "operation": "operation",
    "streams": "archived",
    "queries": "queries",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "max_ms": "max ms",
    "within_target": "p50 ≤ 100 ms",
}

_VOCABULARY = (
    "Anmeldung Fehlermeldung Versandmodul Etikettendruck Drucker Schnittstelle Lieferschein "
    "Rechnung Zeitüberschreitung Datenbank Sendungsverfolgung Paketdienst Abholung Retoure "
    "Benutzerkonto Passwort Browser Zertifikat Speicherplatz Import Export Artikelstamm Lager "
    "Kommissionierung Scanner Waage Spedition Zollpapiere Frankierung Tarif Versandart "
    "Kundennummer Auftrag Stornierung Gutschrift Mahnung Bestellung Verbindung langsam "
    "abgebrochen hängt fehlerhaft doppelt leer falsch unvollständig nicht möglich Störung"
)
_WORDS = tuple(_VOCABULARY.split())
_RARE = ("Frankiermaschine", "Gefahrgutdeklaration", "Luftfrachtbrief", "Palettenschein")
_FIRST = ("Erika", "Jürgen", "Anna", "Max", "Sabine", "Thomas", "Özlem", "Lukas", "Marie", "Jan")
_LAST = [
    f"{stem}{suffix}"
    for stem in (
        "Müller",
        "Schmidt",
        "Weiß",
        "Krüger",
        "Yilmaz",
        "Wagner",
        "Becker",
        "Hoffmann",
        "Schäfer",
        "Koch",
    )
    for suffix in ("", "-Lang", "er", "mann")
] + [f"Name{n}" for n in range(1960)]
_COMPANY_KINDS = ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.")


def _companies() -> list[str]:
    rng = random.Random(SEED)
    stems = ("Versand", "Logistik", "Handel", "Spedition", "Paket", "Fracht", "Lager", "Shop")
    return [
        f"{rng.choice(('Nord', 'Süd', 'West', 'Ost', 'Rhein', 'Ruhr', 'Alpen'))}"
        f"{rng.choice(stems)} {n} {rng.choice(_COMPANY_KINDS)}"
        for n in range(500)
    ]


COMPANIES = _companies()


def _ticket(n: int, opened: datetime) -> str:
    return f"INC-{opened:%Y%m%d}-{n:06d}"


def seed(store: ArchiveStore, count: int) -> float:
    """Insert ``count`` incidents in bulk; returns the seconds it took (ANALYZE included)."""
    rng = random.Random(SEED)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = timedelta(days=700).total_seconds()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    began = time.perf_counter()
    with store.engine.begin() as connection:
        for offset in range(0, count, CHUNK):
            stream_rows: list[dict[str, Any]] = []
            event_rows: list[dict[str, Any]] = []
            for n in range(offset, min(count, offset + CHUNK)):
                opened = start + timedelta(seconds=rng.random() * span)
                ticket = _ticket(n, opened)
                company = rng.choice(COMPANIES)
                reporter = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
                words = rng.sample(_WORDS, 12)
                if rng.random() < 0.01:
                    words.append(rng.choice(_RARE))
                description = " ".join(words)
                resolved = rng.random() < 0.9
                severity = rng.choice(("critical", "major", "minor", "minor"))
                summary = {
                    "ticket_id": ticket,
                    "status": "resolved" if resolved else "acknowledged",
                    "severity": severity,
                    "company": company,
                    "reporter": reporter,
                    "channel": "chat",
                    "received_at": opened.isoformat(),
                    "reaction_due": (opened + timedelta(hours=1)).isoformat(),
                    "resolution_due": (opened + timedelta(hours=40)).isoformat(),
                    "escalation_stage": 0,
                    "reaction_breached": rng.random() < 0.05,
                    "resolution_breached": rng.random() < 0.05,
                    "resolution_summary": "Konfiguration korrigiert" if resolved else None,
                }
                event = {"type": "reported", "description": description}
                view = {**summary, "events": [event]}
                stream_rows.append(
                    {
                        "stream_id": ticket,
                        "kind": "incident",
                        "company": company,
                        "status": summary["status"],
                        "severity": severity,
                        "reporter_name": reporter,
                        "reporter_email": None,
                        "opened_at": opened,
                        "resolved_at": opened + timedelta(hours=5) if resolved else None,
                        "last_seq": 0,
                        "view": view,
                        "summary": summary,
                        "search_text": fulltext.document(ticket, company, reporter, description),
                        "updated_at": now,
                    }
                )
                event_rows.append(
                    {
                        "stream_id": ticket,
                        "seq": 0,
                        "type": "reported",
                        "at": opened,
                        "payload": event,
                    }
                )
            connection.execute(streams.insert(), stream_rows)
            connection.execute(events.insert(), event_rows)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


def _queries(count: int) -> dict[str, list[Callable[[ArchiveStore], object]]]:
    rng = random.Random(SEED + 1)
    some_ticket = _ticket(count // 2, datetime(2025, 1, 1, tzinfo=UTC))
    month_start = datetime(2026, 3, 1, tzinfo=UTC)
    month_end = datetime(2026, 4, 1, tzinfo=UTC)
    search: list[Callable[[ArchiveStore], object]] = [
        lambda s: s.search(rng.choice(_RARE)),
        lambda s: s.search(rng.choice(_WORDS)),
        lambda s: s.search(" ".join(rng.sample(_WORDS, 2))),
        lambda s: s.search(rng.choice(COMPANIES)),
        lambda s: s.search(rng.choice(_LAST[:40])),
        lambda s: s.search(some_ticket.split("-")[2]),
        lambda s: s.search(rng.choice(_WORDS), company=rng.choice(COMPANIES)),
        lambda s: s.search(rng.choice(_WORDS), since=month_start, until=month_end),
    ]
    listing: list[Callable[[ArchiveStore], object]] = [
        lambda s: s.list(),
        lambda s: s.list(status="acknowledged"),
        lambda s: s.list(company=rng.choice(COMPANIES)),
        lambda s: s.list(severity="critical"),
        lambda s: s.list(since=month_start, until=month_end),
    ]
    return {"search": search, "list": listing}


def _measure(store: ArchiveStore, calls: list[Callable[[ArchiveStore], object]]) -> list[float]:
    for call in calls:  # warm: caches, prepared plans, page cache
        call(store)
    timings: list[float] = []
    for _ in range(ROUNDS):
        for call in calls:
            began = time.perf_counter()
            call(store)
            timings.append((time.perf_counter() - began) * 1000)
    return timings


APPENDED_LIFECYCLES = 200
"""Lifecycles the append row writes (each its batches one by one, as a quiet worker does)."""


def _lifecycle_batches() -> list[ArchiveBatch]:
    """A real critical incident's batches (reported, acknowledged, extended, resolved)."""
    from tests.archive.streams import incident_batches  # the tests' real lifecycle

    return incident_batches("INC-20261124-BENCH0")


def _append_row(database: str, store: ArchiveStore, count: int) -> Row:
    """What the feed costs the database: one lifecycle's appends, on top of ``count`` streams."""
    batches = _lifecycle_batches()
    timings: list[float] = []
    for n in range(APPENDED_LIFECYCLES):
        stream_id = f"INC-20261124-B{n:05d}"
        renamed = [
            b.model_copy(
                update={
                    "stream_id": stream_id,
                    "columns": b.columns.model_copy(update={"stream_id": stream_id}),
                }
            )
            for b in batches
        ]
        began = time.perf_counter()
        for batch in renamed:
            store.append(batch)
        timings.append((time.perf_counter() - began) * 1000)
    ordered = sorted(timings)
    return {
        "database": database,
        "operation": f"append a lifecycle ({len(batches)} batches)",
        "streams": count,
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "within_target": statistics.median(timings) <= TARGET_MS,
    }


def _rows(database: str, store: ArchiveStore, count: int) -> list[Row]:
    rows: list[Row] = []
    for operation, calls in _queries(count).items():
        timings = _measure(store, calls)
        ordered = sorted(timings)
        p50 = statistics.median(timings)
        rows.append(
            {
                "database": database,
                "operation": operation,
                "streams": count,
                "queries": len(timings),
                "p50_ms": round(p50, 2),
                "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
                "max_ms": round(ordered[-1], 2),
                "within_target": p50 <= TARGET_MS,
            }
        )
    rows.append(_append_row(database, store, count))
    return rows


@contextlib.contextmanager
def _postgres() -> Iterator[tuple[str | None, str]]:
    """A PostgreSQL database URL (or ``None``) and why not."""
    try:
        from tests.realservers.postgres import find_bindir, running_postgres
    except ImportError as error:  # an installed package without the tests
        yield None, f"tests/realservers/postgres.py is not importable ({error})"
        return
    bindir = find_bindir()
    if bindir is None:
        yield None, "no PostgreSQL server binary (apt-get install postgresql)"
        return
    with running_postgres(bindir, print_log=False) as server:
        yield server.create_database("sla_bench"), ""


def run(count: int) -> list[Row]:
    """Seed ``count`` incidents into each database and time ``search`` and ``list``."""
    rows: list[Row] = []
    notes: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sla-archive-bench-") as directory:
        store = ArchiveStore.from_url(f"sqlite:///{Path(directory) / 'archive.sqlite3'}")
        try:
            store.migrate()
            seconds = seed(store, count)
            notes.append({"note": f"SQLite: {count:,} incidents seeded in {seconds:.1f} s"})
            rows += _rows("SQLite", store, count)
        finally:
            store.close()
    with _postgres() as (url, why):
        if url is None:
            notes.append({"note": f"PostgreSQL rows missing: {why}"})
        else:
            store = ArchiveStore.from_url(url)
            try:
                store.migrate()
                seconds = seed(store, count)
                notes.append({"note": f"PostgreSQL: {count:,} incidents seeded in {seconds:.1f} s"})
                rows += _rows("PostgreSQL", store, count)
            finally:
                store.close()
    notes.append(
        {
            "note": f"target: p50 ≤ {TARGET_MS:.0f} ms per operation (issue 17); "
            f"{ROUNDS} rounds of a fixed query mix after one warm round"
        }
    )
    return rows + notes


def main() -> None:
    """``python -m bench.archive_bench [N]``: the rows as text (the harness prints tables)."""
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for row in run(count):
        print(row)


if __name__ == "__main__":
    main()
