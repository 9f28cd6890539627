"""``sla erase TICKET --reason …`` as a subprocess, on SQLite and PostgreSQL, with the dev server.

The archive holds a real lifecycle (``incident_batches``); Temporal is the
session's dev server, asked whether it still holds the ticket open: an unknown
workflow (past retention) may be erased, a running one is refused, a closed one
may be erased.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from archive.store import ArchiveStore
from domain.archive import ERASED
from service.mail_parse import Attachment, save_attachments
from tests.archive.streams import EMAIL, incident_batches
from tests.archive.test_cli import NOISE, REPO, Run, refused

pytestmark = pytest.mark.timeout(180)


def ticket() -> str:
    # A ticket of the test's own: the dev server is shared by the session.
    return f"INC-20261124-{uuid.uuid4().hex[:6].upper()}"


async def sla(url: str, temporal: str, *args: str, data_dir: Path | None = None) -> Run:
    env = {
        **os.environ,
        "SLA_ARCHIVE_URL": url,
        "PYTHONPATH": str(REPO),
        "COLUMNS": "160",
        "TEMPORAL_ADDRESS": temporal,
        "TEMPORAL_NAMESPACE": "default",
    }
    for unset in ("TEMPORAL_PROFILE", "TEMPORAL_API_KEY", "SLA_CODEC_KEYS"):
        env.pop(unset, None)
    if data_dir is not None:
        env.pop("SLA_ARCHIVE_URL")
        env["SLA_DATA_DIR"] = str(data_dir)

    def call() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # In a thread: the dev server's client lives on this test's event loop.
    done = await asyncio.to_thread(call)
    for noise in NOISE:
        assert noise not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def _archive(url: str, *tickets: str) -> None:
    store = ArchiveStore.from_url(url)
    try:
        store.migrate()
        for t in tickets:
            for batch in incident_batches(t):
                store.append(batch)
    finally:
        store.close()


def _stored(url: str, stream_id: str) -> tuple[str | None, str, int]:
    """The stream's reporter column and view entry, and how many erasures are recorded."""
    store = ArchiveStore.from_url(url)
    try:
        stream = store.get(stream_id)
        return stream.reporter_name, stream.view["reporter"], store.counts()["erasures"]
    finally:
        store.close()


def _events(url: str, stream_id: str) -> int:
    store = ArchiveStore.from_url(url)
    try:
        return len(store.get(stream_id).events)
    finally:
        store.close()


async def test_erase_removes_the_personal_data_and_prints_the_record(
    url: str, dev_env: WorkflowEnvironment
) -> None:
    gone, other = ticket(), ticket()
    _archive(url, gone, other)
    temporal = address(dev_env)

    done = await sla(
        url, temporal, "erase", gone, "--reason", "Art. 17 DSGVO, Anfrage 2026-118", "--json"
    )
    assert done.code == 0, done
    record = json.loads(done.stdout)
    assert record["stream_id"] == gone
    assert record["reason"] == "Art. 17 DSGVO, Anfrage 2026-118"
    assert record["events_scrubbed"] == _events(url, gone) > 0
    assert record["erased_by"]  # the login name (or uid) of whoever ran it
    assert _stored(url, gone) == (None, ERASED, 1)
    # The other ticket is untouched, and search no longer finds the erased one by its reporter.
    assert _stored(url, other)[0] == "Erika Mustermann"
    found = await sla(url, temporal, "search", EMAIL.split("@")[0], "--json")
    assert [r["stream_id"] for r in json.loads(found.stdout)] == [other]

    text = await sla(url, temporal, "erase", other, "--reason", "Art. 17", "--by", "Teamleitung")
    assert text.code == 0, text
    assert text.stdout.startswith(f"{other}: personal data erased from the archive (")
    assert text.stdout.rstrip().endswith("by Teamleitung")
    assert _stored(url, other)[2] == 2


async def test_an_incident_temporal_still_holds_open_is_refused_and_a_closed_one_erased(
    url: str, dev_env: WorkflowEnvironment
) -> None:
    open_ticket = ticket()
    _archive(url, open_ticket)
    client = dev_env.client
    # A workflow under the ticket's ID that no worker serves: Temporal holds it open.
    handle = await client.start_workflow(
        "IncidentWorkflow",
        id=open_ticket,
        task_queue=f"nobody-{uuid.uuid4()}",
    )
    try:
        refusal = await sla(url, address(dev_env), "erase", open_ticket, "--reason", "Art. 17")
        refused(refusal, open_ticket, "still open in Temporal", "still being worked on")
        assert _stored(url, open_ticket)[0] == "Erika Mustermann"
        assert _stored(url, open_ticket)[2] == 0
    finally:
        await handle.terminate(reason="test over")
    # Closed (terminated here; completed after a resolution): erasable.
    done = await sla(url, address(dev_env), "erase", open_ticket, "--reason", "Art. 17")
    assert done.code == 0, done
    assert _stored(url, open_ticket)[0] is None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--reason", "Art. 17\nzweite Zeile"), "one line without control characters"),
        (("--reason", "Art. 17 \x1b[2J"), "control characters"),
        (("--reason", "   "), "--reason must not be empty"),
        (("--reason", "x" * 501), "at most 500"),
        (("--reason", "Art. 17", "--by", ""), "--by must not be empty"),
        (("--reason", "Art. 17", "--by", "y" * 201), "at most 200"),
    ],
)
async def test_bad_input_is_refused_at_the_door(
    tmp_path: Path, args: tuple[str, ...], fragment: str
) -> None:
    # Refused before anything is opened: neither archive nor Temporal exists here.
    url = f"sqlite:///{tmp_path / 'nothing-here.sqlite3'}"
    refused(await sla(url, "127.0.0.1:1", "erase", ticket(), *args), fragment)
    assert not (tmp_path / "nothing-here.sqlite3").exists()


async def test_a_malformed_ticket_id_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    refused(
        await sla(url, "127.0.0.1:1", "erase", "INC; DROP TABLE streams", "--reason", "x"),
        "is not a ticket ID",
    )


async def test_an_unknown_ticket_is_refused_even_without_temporal(url: str) -> None:
    _archive(url, ticket())
    unknown = ticket()
    refused(
        await sla(url, "127.0.0.1:1", "erase", unknown, "--reason", "Art. 17"),
        f"{unknown} is not in the archive",
    )


async def test_an_unmigrated_archive_is_refused(url: str) -> None:
    refused(
        await sla(url, "127.0.0.1:1", "erase", ticket(), "--reason", "Art. 17"),
        "is not migrated: run `sla archive migrate`",
    )


async def test_without_temporal_nothing_is_erased(url: str) -> None:
    known = ticket()
    _archive(url, known)
    refused(
        await sla(url, "127.0.0.1:1", "erase", known, "--reason", "Art. 17"),
        f"cannot check whether {known} is still open, so nothing was erased",
    )
    assert _stored(url, known) == ("Erika Mustermann", "Erika Mustermann", 0)


async def test_the_default_archive_is_the_data_dirs_sqlite_file(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    data = tmp_path / "data"
    known = ticket()
    _archive(f"sqlite:///{data / 'archive.sqlite3'}", known)
    # What the mailbox intake saved for it goes too (GDPR: attachments are personal data).
    save_attachments(data, known, [Attachment("screenshot.png", b"PNG", "image/png")])
    done = await sla("", address(dev_env), "erase", known, "--reason", "x", data_dir=data)
    assert done.code == 0, done
    assert "1 attachment files deleted" in done.stdout
    assert _stored(f"sqlite:///{data / 'archive.sqlite3'}", known)[0] is None
    assert not (data / "attachments" / known).exists()
