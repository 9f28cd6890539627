"""Back up and restore the archive as docs/DEPLOYMENT.md says, and prove the data comes back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from archive.store import ArchiveStore
from tests.archive.streams import incident_batches, synthetic_batch
from tests.realservers.postgres import Postgres

pytestmark = pytest.mark.timeout(120)

TICKET = "INC-20261124-7QK2AB"


def _fill(store: ArchiveStore) -> None:
    for batch in incident_batches(TICKET):
        store.append(batch)
    for n in range(20):
        store.append(synthetic_batch(f"INC-20261125-BULK{n:02d}", seqs=range(3)))
    store.erase("INC-20261125-BULK00", "Art. 17 DSGVO", incident_batches()[0].events[0].at)


def _same_archive(original: ArchiveStore, restored: ArchiveStore) -> None:
    assert restored.check_migrated() == original.check_migrated()
    assert restored.counts() == original.counts()
    assert restored.get(TICKET) == original.get(TICKET)
    assert restored.list(limit=100) == original.list(limit=100)
    assert [r.stream_id for r in restored.search("Anmeldung")] == [TICKET]
    assert restored.export(2026, 11, "csv") == original.export(2026, 11, "csv")
    # The restored archive takes appends where the original stopped.
    more = synthetic_batch("INC-20261125-BULK01", seqs=range(3, 4))
    assert restored.append(more).appended == 1


def test_postgresql_dump_and_restore_round_trip(
    postgres_server: Postgres, new_url: Callable[[str], str], tmp_path: Path
) -> None:
    original = ArchiveStore.from_url(new_url("postgresql"))
    restored_store: ArchiveStore | None = None
    try:
        original.migrate()
        _fill(original)
        source = original.engine.url.database
        assert source is not None
        dump = tmp_path / "archive.dump"
        # As docs/DEPLOYMENT.md: custom format, then pg_restore into an empty database.
        postgres_server.run_tool("pg_dump", "--format=custom", "--file", str(dump), source)
        target_url = new_url("postgresql")
        target = target_url.rsplit("/", 1)[1]
        postgres_server.run_tool(
            "pg_restore", "--no-owner", "--exit-on-error", "--dbname", target, str(dump)
        )
        restored_store = ArchiveStore.from_url(target_url)
        _same_archive(original, restored_store)
    finally:
        original.close()
        if restored_store is not None:
            restored_store.close()


def test_sqlite_online_backup_and_restore_round_trip(
    new_url: Callable[[str], str], tmp_path: Path
) -> None:
    original = ArchiveStore.from_url(new_url("sqlite"))
    restored_store: ArchiveStore | None = None
    try:
        original.migrate()
        _fill(original)
        source = original.engine.url.database
        assert source is not None
        backup = tmp_path / "archive-backup.sqlite3"
        # The online backup API (what `sqlite3 archive.sqlite3 ".backup FILE"` runs):
        # consistent while the worker keeps writing.
        with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(backup)) as copy:
            live.backup(copy)
        restored_store = ArchiveStore.from_url(f"sqlite:///{backup}")
        _same_archive(original, restored_store)
    finally:
        original.close()
        if restored_store is not None:
            restored_store.close()
