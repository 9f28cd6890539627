"""Closed incidents Temporal no longer has are read from the archive, and say so.

``sla show``, ``sla list --all`` and ``GET /v1/incidents…`` ask Temporal (the
real dev server) first; a ticket it does not know is looked up in the archive
(SQLite and PostgreSQL). The archive is filled with a real lifecycle's batches
(``tests/archive/streams.py``: domain commands → the JSON a workflow hands over).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from archive.store import ArchiveStore
from cli.main import app
from domain.archive import ERASED_CONTACT
from domain.incident import IncidentStatus
from domain.sla_report import ReportMonth, build_report
from reporting.gather import incident_views
from service.archive import open_archive_if_any
from service.incident_source import (
    IncidentNotFound,
    IncidentSource,
    find_incident,
    list_incidents_anywhere,
)
from tests.api.support import api_on
from tests.archive.streams import POLICY, incident_batches
from tests.conftest import Stack

runner = CliRunner()
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # the ticket suffix's alphabet


def fresh_ticket() -> str:
    """A ticket ID no run on the session's dev server has (the run was "deleted")."""
    return f"INC-20261124-{''.join(secrets.choice(BASE32) for _ in range(6))}"


def archived(url: str, ticket: str, company: str) -> Callable[[], ArchiveStore]:
    """Archive a resolved lifecycle of ``ticket``; an opener of that archive."""
    store = ArchiveStore.from_url(url)
    store.migrate()
    for batch in incident_batches(ticket, company=company):
        store.append(batch)
    store.close()
    return lambda: ArchiveStore.from_url(url)


EVENT_TYPES = [e.type for b in incident_batches() for e in b.events]
"""The lifecycle's events, as recorded: reported … resolved."""


async def test_show_reads_the_archive_when_temporal_no_longer_has_the_ticket(
    dev_env: WorkflowEnvironment, url: str
) -> None:
    ticket = fresh_ticket()
    opener = archived(url, ticket, "Archiv Lesetest GmbH")

    view = await find_incident(dev_env.client, ticket, archive=opener)

    assert view.source is IncidentSource.ARCHIVE
    assert view.ticket_id == ticket
    assert view.status is IncidentStatus.RESOLVED
    assert [e.type for e in view.events] == EVENT_TYPES
    assert EVENT_TYPES[0] == "reported" and EVENT_TYPES[-1] == "resolved"
    assert view.report is not None and view.report.full_name == "Erika Mustermann"


async def test_a_ticket_nobody_has_is_unknown_and_an_unreadable_archive_is_named(
    dev_env: WorkflowEnvironment, url: str, tmp_path: Path
) -> None:
    ticket = fresh_ticket()
    opener = archived(url, fresh_ticket(), "Jemand Anderes GmbH")
    with pytest.raises(IncidentNotFound, match=f"^unknown ticket {ticket}$"):
        await find_incident(dev_env.client, ticket, archive=opener)
    with pytest.raises(IncidentNotFound, match=f"^unknown ticket {ticket}$"):
        await find_incident(dev_env.client, ticket, archive=None)

    unmigrated = tmp_path / "unmigrated.sqlite3"
    unmigrated.write_bytes(b"")

    def broken() -> ArchiveStore:
        store = ArchiveStore.from_url(f"sqlite:///{unmigrated}")
        store.check_migrated()
        return store

    with pytest.raises(IncidentNotFound) as refused:
        await find_incident(dev_env.client, ticket, archive=broken)
    assert refused.value.archive_error is not None
    assert "the archive could not be read" in str(refused.value)
    assert "sla archive migrate" in str(refused.value)


async def test_list_all_adds_closed_incidents_only_the_archive_has(
    dev_env: WorkflowEnvironment, url: str
) -> None:
    company = f"Archiv Liste {uuid.uuid4().hex[:6]} GmbH"
    ticket = fresh_ticket()
    opener = archived(url, ticket, company)

    found, skipped, problem = await list_incidents_anywhere(
        dev_env.client, company=company, include_resolved=True, archive=opener
    )
    assert (skipped, problem) == ([], None)
    assert [(s.ticket_id, s.source) for s in found] == [(ticket, IncidentSource.ARCHIVE)]

    # Open incidents only: the archive is not asked (an open one is always in Temporal).
    open_only, _, _ = await list_incidents_anywhere(dev_env.client, company=company, archive=opener)
    assert open_only == []
    breached, _, _ = await list_incidents_anywhere(
        dev_env.client, company=company, include_resolved=True, breached=True, archive=opener
    )
    assert breached == []  # resolved in time: no breach

    def down() -> ArchiveStore:
        return ArchiveStore.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none")

    found, _, problem = await list_incidents_anywhere(
        dev_env.client, company=company, include_resolved=True, archive=down
    )
    assert found == [] and problem is not None


def test_the_cli_shows_and_lists_archived_incidents_and_says_so(
    dev_env: WorkflowEnvironment, url: str, tmp_path: Path
) -> None:
    company = f"Archiv CLI {uuid.uuid4().hex[:6]} GmbH"
    ticket = fresh_ticket()
    archived(url, ticket, company)
    env = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": "default",
        "SLA_ARCHIVE_URL": url,
        "SLA_DATA_DIR": str(tmp_path),
        "COLUMNS": "120",
    }

    shown = runner.invoke(app, ["show", ticket], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"{ticket}: from the archive (Temporal no longer holds it" in shown.stdout
    assert "Erika Mustermann" in shown.stdout

    as_json = runner.invoke(app, ["show", ticket, "--json"], env=env)
    view = json.loads(as_json.stdout)
    assert view["source"] == "archive" and view["status"] == "resolved"
    assert [e["type"] for e in view["events"]] == EVENT_TYPES

    listed = runner.invoke(app, ["list", "--all", "--company", company, "--json"], env=env)
    rows = json.loads(listed.stdout)
    assert [(r["ticket_id"], r["source"]) for r in rows] == [(ticket, "archive")]

    unknown = runner.invoke(app, ["show", fresh_ticket()], env=env)
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: unknown ticket INC-")


async def test_the_api_answers_from_the_archive_with_its_source(dev_stack: Stack, url: str) -> None:
    company = f"Archiv API {uuid.uuid4().hex[:6]} GmbH"
    ticket = fresh_ticket()
    opener = archived(url, ticket, company)
    async with api_on(dev_stack, archive=opener) as api:
        response = await api.http.get(f"/v1/incidents/{ticket}")
        assert response.status_code == 200, response.text
        assert response.json()["source"] == "archive"
        assert [e["type"] for e in response.json()["events"]] == EVENT_TYPES

        listing = await api.http.get(
            "/v1/incidents", params={"status": "resolved", "company": company}
        )
        assert [(r["ticket_id"], r["source"]) for r in listing.json()] == [(ticket, "archive")]

        missing = await api.http.get(f"/v1/incidents/{fresh_ticket()}")
        assert missing.status_code == 404


def test_no_embedded_archive_yet_is_no_archive_and_creates_no_file(tmp_path: Path) -> None:
    assert open_archive_if_any({"SLA_DATA_DIR": str(tmp_path)}) is None
    assert list(tmp_path.iterdir()) == []


async def test_an_erased_incident_still_shows_with_its_figures_and_says_it_was_erased(
    dev_env: WorkflowEnvironment, url: str, tmp_path: Path
) -> None:
    ticket = fresh_ticket()
    opener = archived(url, ticket, "Archiv Löschtest GmbH")
    store = opener()
    store.erase(ticket, "Auskunfts- und Löschantrag vom 01.12.", datetime.now(UTC))
    store.close()

    view = await find_incident(dev_env.client, ticket, archive=opener)

    assert view.erased_at is not None
    assert view.status is IncidentStatus.RESOLVED and view.severity.value == "critical"
    assert view.reaction_breached is False
    assert view.report is not None
    assert view.report.full_name == ERASED_CONTACT["full_name"]
    assert view.report.email == ERASED_CONTACT["email"]
    assert "Mustermann" not in view.model_dump_json()

    env = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "SLA_ARCHIVE_URL": url,
        "SLA_DATA_DIR": str(tmp_path),
        "COLUMNS": "120",
    }
    shown = await asyncio.to_thread(runner.invoke, app, ["show", ticket], env=env)
    assert shown.exit_code == 0, shown.output
    assert "personal data was erased on" in shown.stdout
    assert "Mustermann" not in shown.stdout


async def test_the_sla_report_of_a_month_temporal_forgot_comes_from_the_archive(
    dev_env: WorkflowEnvironment, url: str, tmp_path: Path
) -> None:
    # March 2025: long past Temporal's retention; the dev server has no incident then.
    first = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)
    store = ArchiveStore.from_url(url)
    store.migrate()
    tickets = [f"INC-20250311-{suffix}" for suffix in ("AAAAAA", "BBBBBB", "CCCCCC")]
    for n, ticket in enumerate(tickets):
        for batch in incident_batches(ticket, received_at=first + timedelta(days=n)):
            store.append(batch)
    store.close()
    month = ReportMonth(year=2025, month=3)

    views, skipped = await incident_views(
        dev_env.client, POLICY, month, archive=lambda: ArchiveStore.from_url(url)
    )
    assert skipped == []
    assert sorted(v.ticket_id for v in views) == tickets
    report = build_report(views, POLICY, month, datetime.now(UTC))
    assert report.total.incidents == 3
    assert report.total.reaction.met_pct == 100.0

    env = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "SLA_ARCHIVE_URL": url,
        "SLA_DATA_DIR": str(tmp_path),
    }
    printed = await asyncio.to_thread(
        runner.invoke, app, ["sla-report", "--month", "2025-03", "--json"], env=env
    )
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["total"]["incidents"] == 3

    # Without the archive Temporal alone has nothing for that month.
    alone, _ = await incident_views(dev_env.client, POLICY, month, archive=None)
    assert alone == []
