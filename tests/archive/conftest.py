"""The archive tests run on both databases: a SQLite file and a real PostgreSQL server.

``store`` is parametrized over ``sqlite`` and ``postgresql``. The PostgreSQL
server (Debian's package, ``tests/realservers/postgres.py``) is started once
per session on a loopback port; every test gets a fresh database in it.
Without PostgreSQL the ``postgresql`` cases skip with the reason the setup
step recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.store import ArchiveStore
from tests.realservers.postgres import Postgres, postgres_or_skip, running_postgres

DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    bindir = postgres_or_skip()
    with running_postgres(bindir) as server:
        yield server


@pytest.fixture
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``new_url(db)``: the URL of a fresh empty database of kind ``db``."""
    created: list[tuple[Postgres, str]] = []

    def make(db: str) -> str:
        if db == "sqlite":
            return f"sqlite:///{tmp_path / f'archive-{len(created)}-{id(make)}.sqlite3'}"
        server: Postgres = request.getfixturevalue("postgres_server")
        url = server.create_database()
        created.append((server, url.rsplit("/", 1)[1]))
        return url

    yield make
    for server, name in created:
        server.drop_database(name)


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def url(db: str, new_url: Callable[[str], str]) -> str:
    return new_url(db)


@pytest.fixture
def store(url: str) -> Iterator[ArchiveStore]:
    archive = ArchiveStore.from_url(url)
    archive.migrate()
    yield archive
    archive.close()
