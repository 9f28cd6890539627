"""What an operator reads when an update is answered "not found" (no server needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cli.common import CliError
from cli.main import _send_update
from domain.read_model import IncidentView
from service.incident_updates import Handle


@dataclass
class Described:
    status: WorkflowExecutionStatus


@dataclass
class StubHandle:
    """A handle whose workflow is in ``status`` (``None``: no such workflow)."""

    status: WorkflowExecutionStatus | None
    id: str = "INC-20261125-ABCDEF"

    async def describe(self) -> Described:
        if self.status is None:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return Described(self.status)


async def _not_found(_: Any) -> IncidentView:
    raise RPCError("workflow update was aborted", RPCStatusCode.NOT_FOUND, b"")


async def _refused(handle: StubHandle) -> str:
    with pytest.raises(CliError) as refused:
        await _send_update(cast(Handle, handle), _not_found)
    return str(refused.value)


async def test_an_update_aborted_by_a_reset_says_so_and_asks_to_send_it_again() -> None:
    message = await _refused(StubHandle(WorkflowExecutionStatus.RUNNING))
    assert "was aborted before it took effect" in message
    assert "send it again" in message
    assert "resolved" not in message


async def test_an_update_to_a_resolved_incident_says_it_is_resolved() -> None:
    message = await _refused(StubHandle(WorkflowExecutionStatus.COMPLETED))
    assert message.endswith("is resolved; nothing can change after resolution")


async def test_an_update_to_a_terminated_incident_names_how_it_closed() -> None:
    message = await _refused(StubHandle(WorkflowExecutionStatus.TERMINATED))
    assert "is closed (terminated)" in message


async def test_an_unknown_ticket_keeps_the_servers_not_found() -> None:
    with pytest.raises(RPCError) as error:
        await _send_update(cast(Handle, StubHandle(None)), _not_found)
    assert error.value.status == RPCStatusCode.NOT_FOUND
