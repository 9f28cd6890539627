"""A stand-in for the Temporal client at intake: records calls, nothing exists yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from temporalio.service import RPCError, RPCStatusCode


@dataclass
class RecordingClient:
    """Stands in for a Temporal client; records every call intake makes."""

    calls: list[str] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> RecordingClient:
        self.calls.append(f"handle {workflow_id}")
        return self

    async def describe(self) -> None:
        self.calls.append("describe")
        raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")

    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(f"start {kwargs['id']}")

    def list_workflows(self, query: str, **kwargs: Any) -> AsyncIterator[Any]:
        self.calls.append("list")

        async def nothing() -> AsyncIterator[Any]:
            return
            yield  # pragma: no cover - makes this an async generator

        return nothing()
