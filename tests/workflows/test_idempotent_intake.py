"""A request ID maps to its own report only (issue 14).

Before, a different report that reused another's ``request_id`` got that other
company's ticket back: nothing started, nobody was paged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from service.intake import IntakeConflict
from starter import report_incident
from tests.conftest import make_stack, report
from tests.workflows.oncall_support import terminate_settled


async def test_a_reused_request_id_with_another_report_is_refused(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = make_stack(time_env.client, time_env, tmp_path)
    first = report(company="Erste Versand GmbH", request_id="chat-4711")
    tickets: list[str] = []
    async with stack.worker:
        try:
            queue, page = stack.task_queue, stack.status_page_id
            ticket = await report_incident(
                time_env.client, first, task_queue=queue, status_page_id=page
            )
            tickets.append(ticket)
            # A retry of the very same report: the same ticket, nothing new.
            again = await report_incident(
                time_env.client, dict(first), task_queue=queue, status_page_id=page
            )
            assert again == ticket

            other = report(company="Zweite Handel AG", request_id="chat-4711")
            with pytest.raises(IntakeConflict) as refused:
                await report_incident(time_env.client, other, task_queue=queue, status_page_id=page)
            assert refused.value.existing_id == ticket
            assert "different request" in str(refused.value)
        finally:
            await terminate_settled(time_env.client, [*tickets, stack.status_page_id])
