"""A worker on the CLI's own task queue, per test module, for the ``sla`` command line tests.

The ``sla`` commands start incidents on ``names.TASK_QUEUE`` with the status page
``names.STATUS_PAGE_WORKFLOW_ID``; the fixtures below run a worker for exactly
that queue (one per module, never two at once) and terminate whatever the tests
left running, so that no incident outlives its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.conftest import start_time_skipping
from worker import WorkerSettings, build_worker
from workflows.names import STATUS_PAGE_WORKFLOW_ID, TASK_QUEUE

TICKET = re.compile(r"^INC-\d{8}-[A-Z2-7]{6}$")
"""What ``sla report`` prints."""


@dataclass
class CliStack:
    """A worker on ``TASK_QUEUE`` and what a CLI run against its server needs."""

    client: Client
    env: WorkflowEnvironment
    data_dir: Path
    time_skipping: bool
    tickets: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.client.service_client.config.target_host

    def cli_env(self, **extra: str | None) -> dict[str, str | None]:
        """Environment for one ``sla`` run: this server, the shipped policy, wide output."""
        env: dict[str, str | None] = {
            "TEMPORAL_ADDRESS": self.address,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_PROFILE": None,
            "TEMPORAL_API_KEY": None,
            "SLA_POLICY": None,
            "SLA_DATA_DIR": str(self.data_dir),
            "COLUMNS": "200",
        }
        env.update(extra)
        return env

    async def now(self) -> datetime:
        """The server's clock (the time-skipping server's may run ahead of the wall clock)."""
        if self.time_skipping:
            return await self.env.get_current_time()
        return datetime.now(UTC)


@contextlib.asynccontextmanager
async def cli_stack(
    client: Client, env: WorkflowEnvironment, data_dir: Path, *, time_skipping: bool
) -> AsyncIterator[CliStack]:
    settings = WorkerSettings(
        data_dir=data_dir, sender="Support <support@myconvento.com>", smtp=None
    )
    stack = CliStack(client, env, data_dir, time_skipping)
    async with build_worker(client, settings, task_queue=TASK_QUEUE):
        try:
            yield stack
        finally:
            await _terminate_running(client, [*stack.tickets, STATUS_PAGE_WORKFLOW_ID])


async def _terminate_running(client: Client, workflow_ids: list[str]) -> None:
    for workflow_id in dict.fromkeys(workflow_ids):
        handle = client.get_workflow_handle(workflow_id)
        with contextlib.suppress(RPCError):
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason="end of the CLI test module")


@pytest.fixture(scope="module")
async def ts_cli(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CliStack]:
    """A worker on ``TASK_QUEUE`` against a time-skipping server of the module's own.

    Its own server: the module's incidents stay open while the worker serves the
    next test, and whatever it leaves behind stays with it (``time_env`` is per test).
    """
    data_dir = tmp_path_factory.mktemp("sla-cli-ts")
    own = await start_time_skipping()
    try:
        async with cli_stack(own.client, own, data_dir, time_skipping=True) as stack:
            yield stack
    finally:
        await own.shutdown()


@pytest.fixture(scope="module")
async def dev_cli(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CliStack]:
    """A worker on ``TASK_QUEUE`` against the dev server (visibility: ``sla list``)."""
    data_dir = tmp_path_factory.mktemp("sla-cli-dev")
    async with cli_stack(dev_env.client, dev_env, data_dir, time_skipping=False) as stack:
        yield stack


async def eventually(
    check: Callable[[], Awaitable[bool]], seconds: float = 15, interval: float = 0.2
) -> None:
    """Poll ``check`` until it holds (visibility and signals are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)
