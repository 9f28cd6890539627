"""``sla archive migrate|status``, ``sla search`` and ``sla export`` as real subprocesses.

Exit codes, one clear line on stderr when refused, no traceback; against the
archive ``SLA_ARCHIVE_URL`` names (SQLite file and PostgreSQL).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive import migrate
from archive.store import ArchiveStore
from tests.archive.streams import incident_batches

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
TICKET = "INC-20261124-7QK2AB"
NOISE = ("Traceback", "PyGILState", "panicked", "Fatal Python error")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def sla(url: str, *args: str, data_dir: Path | None = None) -> Run:
    env = {**os.environ, "SLA_ARCHIVE_URL": url, "PYTHONPATH": str(REPO), "COLUMNS": "160"}
    if data_dir is not None:
        env.pop("SLA_ARCHIVE_URL")
        env["SLA_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for noise in NOISE:
        assert noise not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def refused(run: Run, *fragments: str) -> None:
    assert run.code == 1, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_migrate_status_search_and_export_end_to_end(url: str, tmp_path: Path) -> None:
    refused(sla(url, "archive", "status"), "is not migrated: run `sla archive migrate`")
    refused(sla(url, "search", "Anmeldung"), "is not migrated: run `sla archive migrate`")

    first = sla(url, "archive", "migrate")
    assert first.code == 0, first
    assert first.stdout.strip().endswith(f"is at revision {migrate.head_revision()}")
    assert "password" not in first.stdout
    again = sla(url, "archive", "migrate", "--json")
    assert json.loads(again.stdout)["revision"] == migrate.head_revision()

    store = ArchiveStore.from_url(url)
    try:
        for batch in incident_batches(TICKET):
            store.append(batch)
    finally:
        store.close()

    status = sla(url, "archive", "status", "--json")
    assert status.code == 0
    assert json.loads(status.stdout)["streams"] == 1

    found = sla(url, "search", "Anmeldung Versandmodul", "--json")
    assert found.code == 0, found
    assert [r["stream_id"] for r in json.loads(found.stdout)] == [TICKET]
    table = sla(url, "search", "Mustermann", "--company", "Beispiel Versand GmbH")
    assert TICKET in table.stdout
    nothing = sla(url, "search", '"NEAR(* OR', "--status", "resolved", "--since", "2026-11-01")
    assert (nothing.code, nothing.stdout.strip()) == (0, "nothing found")

    out = tmp_path / "november.csv"
    exported = sla(url, "export", "--month", "2026-11", "--format", "csv", "--out", str(out))
    assert exported.code == 0, exported
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert [r["stream_id"] for r in rows] == [TICKET]
    as_json = sla(url, "export", "--month", "2026-11", "--format", "json")
    assert [r["stream_id"] for r in json.loads(as_json.stdout)] == [TICKET]
    parquet = tmp_path / "november.parquet"
    written = sla(url, "export", "--month", "2026-11", "--format", "parquet", "--out", str(parquet))
    assert written.code == 0
    assert parquet.read_bytes()[:4] == b"PAR1"


def test_the_default_archive_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "fresh-data-dir"
    refused(sla("", "archive", "status", data_dir=data), "not migrated")
    assert not data.exists()  # looking did not create anything
    done = sla("", "archive", "migrate", data_dir=data)
    assert done.code == 0, done
    assert (data / "archive.sqlite3").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("search", "Anmeldung\x1b[2J"), "control characters"),
        (("search", "   "), "must not be empty"),
        (("search", "x" * 501), "at most 500"),
        (("search", "x", "--company", "A\nB"), "control characters"),
        (("search", "x", "--since", "gestern"), "not an ISO 8601"),
        (("search", "x", "--since", "2026-12-01", "--until", "2026-11-01"), "before --until"),
        (("search", "x", "--status", "Resolved; DROP"), "is not a status"),
        (("search", "x", "--limit", "0"), "--limit"),
        (("export", "--month", "2026-13"), "not a month"),
        (("export", "--month", "November"), "not a month"),
        (("export", "--month", "2026-11", "--out", "/nonexistent/dir/x.csv"), "does not exist"),
    ],
)
def test_bad_input_is_refused_at_the_door(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    store = ArchiveStore.from_url(url)
    store.migrate()
    store.close()
    refused(sla(url, *args), fragment)


def test_an_unreachable_or_unsupported_database_is_one_line(tmp_path: Path) -> None:
    refused(sla("mysql://user@localhost/archive", "archive", "status"), "SQLite or PostgreSQL")
    refused(
        sla("postgresql+psycopg://sla:secret@127.0.0.1:1/archive", "search", "x"),
        "unavailable",
    )
    leaked = sla("postgresql+psycopg://sla:secret@127.0.0.1:1/archive", "archive", "migrate")
    assert "secret" not in leaked.stderr
