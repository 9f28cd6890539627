"""A worker for on-call tests on the time-skipping server, which has no visibility.

The booking workflow looks up the company's open incidents and other bookings
through visibility; here a :class:`Directory` answers instead, wired into
``OnCallActivities`` in place of the visibility look-ups (signals to incidents
go through the production adapter). Everything else is the production wiring
of ``worker.build_activities``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail import Mailer, OutboxMailer
from activities.oncall import OnCallActivities
from domain.oncall import OnCallWindow, earliest_start_day
from domain.sla import SlaPolicy
from service.oncall import TemporalOnCallLookups
from tests.conftest import Stack, max_cached_workflows
from tests.workflows import waiting
from worker import WORKFLOWS, WorkerSettings, build_activities
from workflows.oncall import OnCallBookingWorkflow
from workflows.sandbox import workflow_runner

BERLIN = ZoneInfo("Europe/Berlin")
T = TypeVar("T")


@dataclass
class Directory:
    """Stands in for visibility: the open incidents and other bookings of each company."""

    incidents: dict[str, list[str]] = field(default_factory=dict)
    windows: dict[str, list[OnCallWindow]] = field(default_factory=dict)


class DirectoryLookups(TemporalOnCallLookups):
    """Look-ups answered by a :class:`Directory`; signals really go to the incidents."""

    def __init__(self, client: Client, directory: Directory) -> None:
        super().__init__(client)
        self._directory = directory

    async def open_incidents(self, company: str) -> list[str]:
        return list(self._directory.incidents.get(company, []))

    async def windows(self, company: str) -> list[OnCallWindow]:
        return list(self._directory.windows.get(company, []))


def ledger_of(data_dir: Path) -> Path:
    return data_dir / "billing" / "oncall.csv"


def oncall_stack(
    client: Client,
    env: WorkflowEnvironment | None,
    data_dir: Path,
    directory: Directory,
    *,
    activities_class: type[OnCallActivities] = OnCallActivities,
    mailer: Mailer | None = None,
) -> tuple[Stack, OnCallActivities]:
    """A worker with every workflow and activity, visibility answered by ``directory``."""
    task_queue = f"tq-{uuid.uuid4()}"
    settings = WorkerSettings(
        data_dir=data_dir, sender="Support <support@myconvento.com>", smtp=None
    )
    oncall = activities_class(ledger_of(data_dir), DirectoryLookups(client, directory))
    mine: list[Callable[..., Any]] = [
        oncall.compute_oncall_reminder,
        oncall.sync_incident_windows,
        oncall.record_oncall_billing,
    ]
    names = {a.__name__ for a in mine}
    production = build_activities(
        client, settings, mailer=mailer or OutboxMailer(settings.outbox_dir)
    )
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(dict.fromkeys([*WORKFLOWS, OnCallBookingWorkflow])),
        activities=[a for a in production if a.__name__ not in names] + mine,
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows(),
    )
    return Stack(client, env, task_queue, f"status-{task_queue}", data_dir, worker), oncall


def bookable_day(policy: SlaPolicy, now: datetime, weekday: int) -> date:
    """The first ``weekday`` (0 = Monday) on which a booking made ``now`` may start."""
    day = earliest_start_day(policy.calendar, now.astimezone(BERLIN).date(), 3)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BERLIN)


async def terminate_settled(client: Client, workflow_ids: list[str]) -> None:
    """Terminate what a test left running, once nothing of it is in flight.

    A workflow terminated with an activity in flight, or left with timers on a
    task queue nobody polls, stops a time-skipping server from
    skipping time (the CLI modules share one per module).
    """
    for workflow_id in dict.fromkeys(workflow_ids):
        handle = client.get_workflow_handle(workflow_id)
        # Best effort: one workflow that never settles must not keep the others alive.
        with suppress(RPCError, AssertionError):
            await waiting.settled(handle)
        with suppress(RPCError):
            await handle.terminate("test over")
