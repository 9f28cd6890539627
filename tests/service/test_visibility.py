"""The one visibility query builder: text, quoting, and hostile values against the dev server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from domain.incident import IncidentStatus
from domain.oncall import OPEN_STATUSES
from service.oncall import bookings_query
from service.visibility import Query, listed_ids, literal
from workflows import names

HOSTILE = [
    "Müller & Söhne GmbH",
    "O'Brien's Versand",
    'Der "beste" Versand',
    "Back\\slash AG",
    "Ende mit Backslash \\",
    "\\' OR 1=1 --",
    "x' OR WorkflowType != 'y",
    "ACME [/] GmbH",
    "Straße 100 %_ ; DROP TABLE executions",
    "日本語 株式会社",
    '"Anführung" am Anfang',
    "\\Anfang mit Backslash",
]


def test_literals_follow_one_rule() -> None:
    assert literal("plain") == "'plain'"
    assert literal("O'Brien") == "'O\\'Brien'"
    assert literal("a\\b") == "'a\\\\b'"
    assert literal("Müller") == "'Müller'"  # no \\u escapes: the server would not decode them
    assert literal(True) == "true"
    assert literal(3) == "3"
    assert literal(IncidentStatus.RESOLVED) == "'resolved'"
    instant = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
    assert literal(instant) == "'2026-12-02T14:30:00.000000Z'"


@pytest.mark.parametrize("text", ["a\nb", "a\x00b", "tab\there", "\x1b[2J"])
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        literal(text)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        literal(datetime(2026, 12, 2, 14, 30))


def test_queries_are_built_from_keys_and_classes() -> None:
    query = bookings_query(companies=("Müller's",), statuses=OPEN_STATUSES, running_only=True)
    assert str(query) == (
        "WorkflowType = 'OnCallBookingWorkflow' AND Company IN ('Müller\\'s') "
        "AND LifecycleState IN ('booked', 'active') AND ExecutionStatus = 'Running'"
    )
    assert str(Query.workflows("X").where_in(names.COMPANY, [])) == "WorkflowType = 'X'"
    low = datetime(2026, 11, 1, tzinfo=UTC)
    assert str(Query.workflows("X").between(names.REACTION_DUE, low, low, include_high=False)) == (
        "WorkflowType = 'X' AND ReactionDue >= '2026-11-01T00:00:00.000000Z' "
        "AND ReactionDue < '2026-11-01T00:00:00.000000Z'"
    )


async def test_hostile_values_match_exactly_their_own_workflow_on_the_dev_server(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    task_queue = f"nobody-{uuid.uuid4()}"  # no worker: the workflows only need to be listed
    started: dict[str, str] = {}
    for company in HOSTILE:
        workflow_id = f"visibility-{uuid.uuid4()}"
        await client.start_workflow(
            "IncidentWorkflow",
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(names.COMPANY, company),
                    SearchAttributePair(names.TICKET_STATUS, "new"),
                ]
            ),
            execution_timeout=timedelta(minutes=5),
        )
        started[company] = workflow_id
    try:
        everything = Query.workflows("IncidentWorkflow").on_task_queue(task_queue).running()
        deadline = asyncio.get_running_loop().time() + 15
        while len(await listed_ids(client, everything)) < len(HOSTILE):
            assert asyncio.get_running_loop().time() < deadline, "visibility did not catch up"
            await asyncio.sleep(0.2)
        for company, workflow_id in started.items():
            query = (
                Query.workflows("IncidentWorkflow")
                .on_task_queue(task_queue)
                .where(names.COMPANY, company)
                .where_not(names.TICKET_STATUS, IncidentStatus.RESOLVED)
            )
            assert await listed_ids(client, query) == [workflow_id], (company, str(query))
        for chosen in (HOSTILE[:3], HOSTILE[:2], HOSTILE[-2:]):
            some = Query.workflows("IncidentWorkflow").on_task_queue(task_queue)
            some = some.where_in(names.COMPANY, chosen)
            assert sorted(await listed_ids(client, some)) == sorted(started[c] for c in chosen)
        # The server part alone cannot tell these apart; the exact check does.
        prefix = Query.workflows("IncidentWorkflow").on_task_queue(task_queue)
        assert len(await listed_ids(client, prefix.where(names.COMPANY, 'Der "beste"'))) == 0
    finally:
        for workflow_id in started.values():
            await client.get_workflow_handle(workflow_id).terminate("test over")
