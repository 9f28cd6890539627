"""The automatic erasure of personal data: the workflow on the time-skipping server, the
schedule applied and triggered on the dev server.

Each worker is the real one (``build_worker``: the workflow and the activity as
the worker registers them) with its own data dir, so its archive is the embedded
SQLite file there, filled beforehand with streams resolved at chosen instants.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
)
from temporalio.testing import WorkflowEnvironment

from archive.store import ArchiveStore
from domain.archive import DueErasureResult
from domain.sla import SlaPolicy
from service.doctor import erasure_schedule
from service.erasure_schedule import (
    ErasureScheduleChange,
    apply_erasure_schedule,
    delete_erasure_schedule,
    describe_erasure_schedule,
    erasure_schedule_id,
)
from tests.archive.streams import synthetic_batch
from tests.conftest import Stack, make_stack, skip_time
from tests.workflows.test_dev_server import eventually
from workflows import names
from workflows.erasure import ErasureInput, PersonalDataErasureWorkflow

pytestmark = pytest.mark.timeout(120)

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()  # [archive] personal_data_days = 730
DAYS = POLICY.archive.personal_data_days


def policy_with(days: int) -> SlaPolicy:
    archive = POLICY.archive.model_copy(update={"personal_data_days": days})
    return POLICY.model_copy(update={"archive": archive})


def archive_in(data_dir: Path) -> ArchiveStore:
    """The worker's embedded archive (``$SLA_DATA_DIR/archive.sqlite3``), migrated."""
    store = ArchiveStore.from_url(f"sqlite:///{(data_dir / 'archive.sqlite3').absolute()}")
    store.migrate()
    return store


def fill(data_dir: Path, resolved: dict[str, datetime | None]) -> None:
    store = archive_in(data_dir)
    try:
        for stream_id, resolved_at in resolved.items():
            store.append(
                synthetic_batch(
                    stream_id,
                    status="resolved" if resolved_at else "acknowledged",
                    opened_at=(resolved_at or datetime(2026, 1, 1, tzinfo=BERLIN))
                    - timedelta(days=1),
                    resolved_at=resolved_at,
                )
            )
    finally:
        store.close()


def erasures(data_dir: Path) -> list[tuple[Any, ...]]:
    store = archive_in(data_dir)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT stream_id, reason, erased_by FROM erasures ORDER BY id")
            ).all()
        return [tuple(r) for r in rows]
    finally:
        store.close()


async def run_erasure(stack: Stack, **input: Any) -> DueErasureResult:
    return await stack.client.execute_workflow(
        PersonalDataErasureWorkflow.run,
        ErasureInput(**input),
        id=f"erasure-{uuid.uuid4()}",
        task_queue=stack.task_queue,
    )


@pytest.fixture
async def erasure_stack(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    stack = make_stack(time_env.client, time_env, tmp_path)
    async with stack.worker:
        yield stack


async def test_the_workflow_erases_what_is_due_by_the_servers_clock(erasure_stack: Stack) -> None:
    now = await erasure_stack.now()
    cutoff = now - timedelta(days=DAYS)
    fill(
        erasure_stack.data_dir,
        {
            "INC-OLD-1": cutoff - timedelta(days=90),
            "INC-OLD-2": cutoff - timedelta(days=1),
            "INC-SOON": cutoff + timedelta(days=20),  # due in 20 days
            "INC-OPEN": None,
        },
    )
    first = await run_erasure(erasure_stack, personal_data_days=DAYS)
    assert (first.erased, first.more) == (("INC-OLD-1", "INC-OLD-2"), False)
    assert first.before <= cutoff + timedelta(minutes=5)

    # Three weeks later (server time) the next one is due; the erased ones are not again.
    assert erasure_stack.env is not None
    await skip_time(erasure_stack.env, timedelta(days=21))
    later = await run_erasure(erasure_stack, personal_data_days=DAYS)
    assert later.erased == ("INC-SOON",)
    recorded = erasures(erasure_stack.data_dir)
    assert [r[0] for r in recorded] == ["INC-OLD-1", "INC-OLD-2", "INC-SOON"]
    assert {r[1] for r in recorded} == {"automatic: personal_data_days=730"}
    assert all(str(r[2]).startswith("automatic erasure (erasure-") for r in recorded)


async def test_a_bounded_run_leaves_the_rest_for_the_next(erasure_stack: Stack) -> None:
    at = datetime(2029, 1, 1, 3, 30, tzinfo=BERLIN)
    fill(
        erasure_stack.data_dir,
        {f"INC-{n}": at - timedelta(days=800 + n) for n in range(5)},
    )
    first = await run_erasure(erasure_stack, personal_data_days=DAYS, limit=3, at=at)
    assert (first.erased, first.more) == (("INC-4", "INC-3", "INC-2"), True)
    second = await run_erasure(erasure_stack, personal_data_days=DAYS, limit=3, at=at)
    assert (second.erased, second.more) == (("INC-1", "INC-0"), False)


# -- the schedule (dev server) ---------------------------------------------------------


def _ranges(ranges: Any) -> list[tuple[int, int]]:
    return [(r.start, max(r.end, r.start)) for r in ranges]


async def test_the_erasure_schedule_is_applied_idempotently_and_follows_the_policy(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    sid = erasure_schedule_id(prefix)
    try:
        first = await apply_erasure_schedule(client, POLICY, prefix=prefix)
        again = await apply_erasure_schedule(client, POLICY, prefix=prefix)
        assert (first.schedule_id, first.change, first.personal_data_days) == (
            sid,
            ErasureScheduleChange.CREATED,
            730,
        )
        assert again.change is ErasureScheduleChange.UNCHANGED

        described = await client.get_schedule_handle(sid).describe()
        spec = described.schedule.spec
        assert spec.time_zone_name == "Europe/Berlin"
        (calendar,) = spec.calendars
        assert (_ranges(calendar.hour), _ranges(calendar.minute)) == ([(3, 3)], [(30, 30)])
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == (
            "PersonalDataErasureWorkflow",
            names.TASK_QUEUE,
        )
        (payload,) = await client.data_converter.decode(list(action.args), [ErasureInput])
        assert payload == ErasureInput(personal_data_days=730, limit=500)
        # Every night at 03:30 Berlin wall time, DST or not.
        runs = described.info.next_action_times
        assert runs
        for run in runs:
            assert (run.astimezone(BERLIN).hour, run.astimezone(BERLIN).minute) == (3, 30)

        # A changed period updates it; a paused schedule stays paused.
        await client.get_schedule_handle(sid).pause(note="Prüfung durch den DSB")
        shorter = policy_with(365)
        assert (await apply_erasure_schedule(client, shorter, prefix=prefix)).change is (
            ErasureScheduleChange.UPDATED
        )
        assert (await apply_erasure_schedule(client, shorter, prefix=prefix)).change is (
            ErasureScheduleChange.UNCHANGED
        )
        described = await client.get_schedule_handle(sid).describe()
        assert described.schedule.state.paused
        assert described.schedule.state.note == "Prüfung durch den DSB"
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        (payload,) = await client.data_converter.decode(list(action.args), [ErasureInput])
        assert payload.personal_data_days == 365
        status = await describe_erasure_schedule(client, prefix=prefix)
        assert (status.exists, status.paused, status.when, status.timezone) == (
            True,
            True,
            "Sun–Sat 03:30",
            "Europe/Berlin",
        )

        # personal_data_days = 0: no automatic erasure, so no schedule.
        off = policy_with(0)
        assert (await apply_erasure_schedule(client, off, prefix=prefix)).change is (
            ErasureScheduleChange.DELETED
        )
        assert (await apply_erasure_schedule(client, off, prefix=prefix)).change is (
            ErasureScheduleChange.OFF
        )
        assert not (await describe_erasure_schedule(client, prefix=prefix)).exists
    finally:
        await delete_erasure_schedule(client, prefix=prefix)
    assert await delete_erasure_schedule(client, prefix=prefix) is False


@pytest.fixture
async def dev_erasure_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    stack = make_stack(dev_env.client, None, tmp_path)
    async with stack.worker:
        yield stack


async def test_a_triggered_schedule_runs_the_erasure(dev_erasure_stack: Stack) -> None:
    stack = dev_erasure_stack
    now = datetime.now(BERLIN)
    fill(
        stack.data_dir,
        {
            "INC-20240101-GONE00": now - timedelta(days=DAYS + 30),
            "INC-20251201-KEPT00": now - timedelta(days=DAYS - 30),
        },
    )
    client = stack.client
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    sid = erasure_schedule_id(prefix)
    try:
        await apply_erasure_schedule(client, POLICY, prefix=prefix, task_queue=stack.task_queue)
        handle = client.get_schedule_handle(sid)
        await handle.trigger()

        async def started() -> bool:
            return bool((await handle.describe()).info.recent_actions)

        await eventually(started)
        action = (await handle.describe()).info.recent_actions[-1].action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        workflow_id = action.workflow_id
        assert workflow_id.startswith(sid + "-")
        result = await client.get_workflow_handle_for(
            PersonalDataErasureWorkflow.run, workflow_id
        ).result()
    finally:
        await delete_erasure_schedule(client, prefix=prefix)
    assert (result.erased, result.more) == (("INC-20240101-GONE00",), False)
    assert erasures(stack.data_dir) == [
        (
            "INC-20240101-GONE00",
            "automatic: personal_data_days=730",
            f"automatic erasure ({workflow_id})",
        )
    ]


async def test_doctor_says_whether_the_erasure_schedule_follows_the_policy(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    off = policy_with(0)
    try:
        missing = await erasure_schedule(client, POLICY, prefix=prefix)
        assert not missing.ok and "sla schedules apply" in missing.detail
        assert (await erasure_schedule(client, off, prefix=prefix)).ok

        await apply_erasure_schedule(client, POLICY, prefix=prefix)
        applied = await erasure_schedule(client, POLICY, prefix=prefix)
        assert applied.ok and "730 days after resolution" in applied.detail
        # Turned off in the policy, but the schedule still runs: say how to remove it.
        stale = await erasure_schedule(client, off, prefix=prefix)
        assert not stale.ok and "deletes it" in stale.detail
    finally:
        await delete_erasure_schedule(client, prefix=prefix)
