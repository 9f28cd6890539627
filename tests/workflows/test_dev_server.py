"""Against the real dev server: search attributes, visibility queries, idempotent starts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from domain.incident import Acknowledge, Resolve
from domain.sla import Severity
from starter import report_incident
from tests.conftest import Stack, report
from workflows import names
from workflows.incident import IncidentWorkflow


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    """Visibility is eventually consistent: poll ``check`` until it holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


async def count(stack: Stack, query: str) -> int:
    full = f"TaskQueue = '{stack.task_queue}' AND {query}"
    return len([w async for w in stack.client.list_workflows(full)])


async def start(stack: Stack, **changes: object) -> str:
    return await report_incident(
        stack.client,
        report(**changes),
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )


async def test_search_attributes_follow_the_incident(dev_stack: Stack) -> None:
    ticket = await start(dev_stack, company="Suchtest AG")
    handle = dev_stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)

    async def listed(query: str) -> bool:
        return await count(dev_stack, f"WorkflowId = '{ticket}' AND {query}") == 1

    await eventually(lambda: listed("TicketStatus = 'new' AND Severity = 'critical'"))
    await eventually(lambda: listed("Company = 'Suchtest AG' AND Channel = 'chat'"))
    await eventually(lambda: listed("EscalationStage = '0' AND SlaBreached = false"))

    estimate = datetime.now(UTC) + timedelta(days=3)
    await handle.execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(
            severity=Severity.MINOR,
            estimate=estimate,
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
    )
    await eventually(lambda: listed("TicketStatus = 'acknowledged' AND Severity = 'minor'"))
    await eventually(lambda: listed("AllUsers = true"))

    described = await handle.describe()
    attributes = described.typed_search_attributes
    view = await handle.query(IncidentWorkflow.view)
    assert attributes.get(names.REACTION_DUE) == view.reaction_due
    assert attributes.get(names.RESOLUTION_DUE) == view.resolution_due

    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="erledigt"))
    await handle.result()
    await eventually(lambda: listed("TicketStatus = 'resolved' AND ExecutionStatus = 'Completed'"))


async def test_list_filters_by_severity_and_company(dev_stack: Stack) -> None:
    await start(dev_stack, company="Filter Eins GmbH")
    await start(dev_stack, company="Filter Zwei GmbH", login_impossible=False)
    await start(
        dev_stack, company="Filter Zwei GmbH", login_impossible=False, workaround_available=True
    )

    async def counts_match() -> bool:
        return (
            await count(dev_stack, "Severity = 'critical'") == 1
            and await count(dev_stack, "Company = 'Filter Zwei GmbH'") == 2
            and await count(dev_stack, "Severity = 'minor' AND TicketStatus = 'new'") == 1
        )

    await eventually(counts_match)


async def test_same_request_id_returns_the_same_ticket_and_starts_nothing(
    dev_stack: Stack,
) -> None:
    first = await start(dev_stack, request_id="chat-idempotent-1")
    again = await start(dev_stack, request_id="chat-idempotent-1")
    concurrent = await asyncio.gather(
        *(start(dev_stack, request_id="chat-idempotent-1") for _ in range(5))
    )
    assert again == first
    assert set(concurrent) == {first}
    await eventually(lambda: _equals(count(dev_stack, "ExecutionStatus = 'Running'"), 1))


async def test_resolved_ticket_is_not_restarted_by_a_retry(dev_stack: Stack) -> None:
    ticket = await start(dev_stack, request_id="chat-idempotent-2")
    handle = dev_stack.client.get_workflow_handle_for(IncidentWorkflow.run, ticket)
    first_run = (await handle.describe()).run_id
    await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="sofort behoben"))
    await handle.result()
    assert await start(dev_stack, request_id="chat-idempotent-2") == ticket
    assert (await handle.describe()).run_id == first_run


async def test_different_requests_get_different_tickets(dev_stack: Stack) -> None:
    tickets = {await start(dev_stack) for _ in range(3)}
    assert len(tickets) == 3
    assert all(t.startswith("INC-") for t in tickets)


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
