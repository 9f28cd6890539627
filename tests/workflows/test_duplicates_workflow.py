"""One outage, many reports, on the time-skipping server (issue 16; ``sla link-duplicate``).

A duplicate follows its master's estimate, status and resolution through the
master's signals; its reporter gets the same mails; the status page shows one
entry; each ticket keeps its own clock and outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from domain.incident import Acknowledge, ExtendEstimate, IncidentStatus, Resolve
from domain.notifications import MessageKind
from domain.sla import Severity
from service.duplicates import DuplicateRefused, link_duplicate
from tests.conftest import Stack
from tests.workflows.test_incident_workflow import (
    REPORTER,
    Harness,
    entry_of,
    harness_for,
    recipients,
    status_json,
)
from tests.workflows.waiting import eventually, result_of
from workflows.incident import IncidentWorkflow

OTHER_REPORTER = "max.muster@beispiel-versand.de"


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    async with harness_for(stack) as harness:
        yield harness


def mails_to(h: Harness, kind: MessageKind, address: str) -> int:
    return sum(address in recipients(m) for m in h.stack.emails_of_kind(kind))


async def test_a_duplicate_follows_its_master_to_the_end(h: Harness) -> None:
    master = await h.report(login_impossible=False)
    duplicate = await h.report(login_impossible=False, email=OTHER_REPORTER)
    now = await h.stack.now()
    # The duplicate was published on its own before anyone saw it was the same outage.
    own_estimate = now + timedelta(hours=2)
    await duplicate.handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=own_estimate,
            all_users=True,
            status_message="Anmeldung gestört",
        ),
    )
    first: datetime = now + timedelta(hours=3)
    await master.handle.execute_update(
        IncidentWorkflow.acknowledge, Acknowledge(severity=Severity.MAJOR, estimate=first)
    )

    async def published_alone() -> None:
        entry_of(status_json(h.stack), "active", duplicate.ticket)

    await eventually(published_alone)

    link = await link_duplicate(h.stack.client, duplicate.ticket, master.ticket)
    assert link.duplicate.master == master.ticket
    assert link.master.duplicates == (duplicate.ticket,)
    # The master's later estimate is the duplicate's now; its reporter is told.
    assert link.duplicate.estimate == first
    assert not link.duplicate.on_status_page

    async def one_entry() -> None:
        document = status_json(h.stack)
        assert [e["id"] for e in document["active"]] == [
            entry_of(document, "active", master.ticket)["id"]
        ]
        updates = entry_of(document, "active", master.ticket)["updates"]
        assert "Anmeldung gestört" in [u["message"] for u in updates]

    await eventually(one_entry)

    async def told_of_the_masters_estimate() -> None:
        assert mails_to(h, MessageKind.EXTENSION, OTHER_REPORTER) == 1

    await eventually(told_of_the_masters_estimate)

    # Linking again changes nothing; a master cannot become a duplicate of its duplicate.
    again = await link_duplicate(h.stack.client, duplicate.ticket, master.ticket)
    assert again.master.duplicates == (duplicate.ticket,)
    with pytest.raises(DuplicateRefused, match="is itself a duplicate"):
        await link_duplicate(h.stack.client, master.ticket, duplicate.ticket)

    second = first + timedelta(hours=2)
    await master.handle.execute_update(
        IncidentWorkflow.extend, ExtendEstimate(estimate=second, reason="Dienstleister")
    )

    async def followed() -> None:
        view = await duplicate.view()
        assert view.estimate == second
        assert view.escalation_stage == 0  # the master escalates, the duplicate follows
        assert mails_to(h, MessageKind.EXTENSION, OTHER_REPORTER) == 2

    await eventually(followed)
    assert (await master.view()).escalation_stage == 1

    await master.handle.execute_update(
        IncidentWorkflow.resolve,
        Resolve(summary="Server neu gestartet", public_message="Die Anmeldung geht wieder."),
    )
    master_outcome = await result_of(master.handle)
    duplicate_outcome = await result_of(duplicate.handle)
    assert duplicate_outcome.status is IncidentStatus.RESOLVED
    assert duplicate_outcome.ticket_id == duplicate.ticket
    assert duplicate_outcome.view is not None
    assert duplicate_outcome.view.resolution_summary == "Server neu gestartet"
    assert duplicate_outcome.highest_stage == 0 and master_outcome.highest_stage == 1

    async def both_reporters_told() -> None:
        for address in (REPORTER, OTHER_REPORTER):
            assert mails_to(h, MessageKind.ACKNOWLEDGEMENT, address) == 1, address
            assert mails_to(h, MessageKind.RESOLUTION, address) == 1, address
        document = status_json(h.stack)
        assert document["active"] == []
        assert len(document["resolved"]) == 1

    await eventually(both_reporters_told)


async def test_unknown_and_closed_tickets_are_refused_with_their_ids(h: Harness) -> None:
    master = await h.report(login_impossible=False)
    with pytest.raises(DuplicateRefused, match="unknown ticket INC-NOPE"):
        await link_duplicate(h.stack.client, "INC-NOPE", master.ticket)
    closed = await h.report(login_impossible=False)
    await closed.handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="erledigt"))
    await result_of(closed.handle)
    with pytest.raises(DuplicateRefused, match=f"{closed.ticket} \\(master\\) is resolved"):
        await link_duplicate(h.stack.client, master.ticket, closed.ticket)
    with pytest.raises(DuplicateRefused, match="itself"):
        await link_duplicate(h.stack.client, master.ticket, master.ticket)
