"""An API app on a test stack (real dev server, own worker and task queue), and its client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from temporalio.client import Client

from api.app import ApiConfig, create_app
from api.tokens import ApiTokens, token_digest
from domain.sla import SlaPolicy
from service.incident_source import ArchiveOpener
from service.incidents import Targets
from tests.conftest import Stack
from tests.workflows.oncall_support import terminate_settled

TOKEN = "s3cr3t-intake-token-for-tests"
TOKEN_NAME = "chat-system"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    """The app's HTTP client and the stack it drives."""

    http: httpx.AsyncClient
    stack: Stack


@asynccontextmanager
async def api_on(
    stack: Stack, policy: SlaPolicy | None = None, archive: ArchiveOpener | None = None
) -> AsyncIterator[Api]:
    """The API over ``stack``, called in-process (ASGI) with the token's header by default.

    No archive unless ``archive`` opens one (never the environment's).
    """

    async def client() -> Client:
        return stack.client

    app = create_app(
        ApiConfig(
            client=client,
            policy=policy or SlaPolicy.default(),
            tokens=ApiTokens.parse(f"{TOKEN_NAME}:{token_digest(TOKEN)}", where="test"),
            targets=Targets(task_queue=stack.task_queue, status_page_id=stack.status_page_id),
            archive=archive,
        )
    )
    # A bug answers 500 (as in production), instead of raising into the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test", headers=HEADERS
        ) as http:
            yield Api(http, stack)
    finally:
        # The dev server is shared by the session: incidents left running on a
        # task queue nobody polls would be unreadable in later tests' lists.
        running = [
            w.id
            async for w in stack.client.list_workflows(
                f"TaskQueue = '{stack.task_queue}' AND ExecutionStatus = 'Running'"
            )
        ]
        await terminate_settled(stack.client, [*running, stack.status_page_id])
