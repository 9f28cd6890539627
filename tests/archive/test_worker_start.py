"""The worker and the archive (DESIGN §5): it refuses an unmigrated production archive.

``SLA_ARCHIVE_URL`` names a database that ``sla archive migrate`` prepares as a
deployment step; a worker that finds it behind says so in one line and does
not start. The embedded SQLite default (``sla dev``) is migrated by the worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import ArchiveStore
from worker import ArchiveNotReady, WorkerSettings, check_archive


def settings(data_dir: Path, url: str | None = None) -> WorkerSettings:
    return WorkerSettings(
        data_dir=data_dir, sender="support@example.de", smtp=None, archive_url=url
    )


def test_an_unmigrated_production_archive_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'production.sqlite3'}"
    with pytest.raises(ArchiveNotReady) as refused:
        check_archive(settings(tmp_path, url))
    message = str(refused.value)
    assert "\n" not in message
    assert "sla archive migrate" in message
    store = ArchiveStore.from_url(url)
    try:
        store.migrate()
    finally:
        store.close()
    check_archive(settings(tmp_path, url))  # migrated: starts


def test_the_embedded_archive_is_migrated_by_the_worker(tmp_path: Path) -> None:
    check_archive(settings(tmp_path))
    store = ArchiveStore.from_url(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    try:
        assert store.check_migrated()
    finally:
        store.close()


def test_the_archive_url_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"SLA_DATA_DIR": str(tmp_path), "SLA_ARCHIVE_URL": "postgresql+psycopg://db/sla"}
    assert WorkerSettings.from_env(env).archive == "postgresql+psycopg://db/sla"
    assert WorkerSettings.from_env({"SLA_DATA_DIR": str(tmp_path)}).archive.endswith(
        "archive.sqlite3"
    )
