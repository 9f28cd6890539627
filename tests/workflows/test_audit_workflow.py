"""Ticket monitoring on the dev server: ``AuditWorkflow``, its activities and the Schedules.

Visibility and Schedules need the real dev server (``dev_env``). The server is
shared by the whole session, so every audit here is scoped to the test's own
task queue (``AuditInput.task_queue``) and every schedule gets a unique ID
prefix. Incidents are received on a business day two weeks ahead, so none of
their timers fires while a test runs; the audit instant is injected.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleRange,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from activities.audit import AuditActivities, AuditDayRequest, CollectRequest
from activities.mail import OutboxMailer
from activities.notifications import NotificationActivities
from activities.rendering import MessageRenderer
from archive.store import ArchiveStore
from domain.audit import AuditKind, AuditReport, SkipReason
from domain.incident import Acknowledge, Resolve
from domain.messages import make_message_id
from domain.sla import Severity, SlaPolicy
from service.audit import TemporalAuditReader, change_request_query, incident_query
from service.audit_schedules import (
    ScheduleChange,
    apply_audit_schedules,
    delete_audit_schedules,
    describe_audit_schedules,
    schedule_id,
)
from service.visibility import Query
from starter import report_incident
from tests.archive.streams import incident_batches
from tests.conftest import Stack, make_stack, report, skip_time
from tests.workflows.test_dev_server import eventually
from worker import WORKFLOWS
from workflows import names
from workflows.audit import AuditInput, AuditWorkflow
from workflows.converter import sla_data_converter
from workflows.incident import IncidentWorkflow
from workflows.sandbox import workflow_runner

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
LEAD = POLICY.contacts.support_lead


def business_day_ahead(days: int) -> date:
    """The first business day at least ``days`` calendar days from today."""
    day = datetime.now(BERLIN).date() + timedelta(days=days)
    while not POLICY.calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


def next_weekday_holiday() -> date:
    """The next Monday–Friday that is an NRW holiday (no business day)."""
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    while day.weekday() >= 5 or POLICY.calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


def on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


@pytest.fixture
async def audit_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    stack = make_stack(dev_env.client, None, tmp_path)
    async with stack.worker:
        yield stack


async def start_incident(stack: Stack, received_at: datetime, **changes: object) -> str:
    return await report_incident(
        stack.client,
        report(company=f"Audit {stack.task_queue[-6:]}", **changes),
        received_at=received_at,
        task_queue=stack.task_queue,
        status_page_id=stack.status_page_id,
    )


async def listed(client: Client, query: Query | str) -> set[str]:
    return {w.id async for w in client.list_workflows(str(query))}


async def run_audit(
    stack: Stack, kind: AuditKind, at: datetime | None, *, scope: str | None = None
) -> tuple[str, AuditReport]:
    workflow_id = f"audit-test-{uuid.uuid4().hex[:10]}"
    result = await stack.client.execute_workflow(
        AuditWorkflow.run,
        AuditInput(kind=kind, policy=POLICY, at=at, task_queue=scope or stack.task_queue),
        id=workflow_id,
        task_queue=stack.task_queue,
        execution_timeout=timedelta(seconds=60),
    )
    return workflow_id, result


def audit_mails(stack: Stack, kind: AuditKind) -> list[EmailMessage]:
    return stack.emails_of_kind(f"audit_{kind.value}")


def message_id(message: EmailMessage) -> str:
    # Long IDs are folded onto a continuation line; unfolded they keep a space.
    return str(message["Message-ID"]).strip()


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


# -- daily ---------------------------------------------------------------------------


async def test_daily_audit_reports_mails_and_stores(audit_stack: Stack) -> None:
    stack = audit_stack
    day = business_day_ahead(14)
    critical = await start_incident(stack, on(day, 9, 30))  # reaction due 10:30
    week_old = await start_incident(stack, on(day - timedelta(days=7), 9), login_impossible=False)
    handled = await start_incident(stack, on(day, 9), login_impossible=False)
    closed = await start_incident(stack, on(day, 9))
    client = stack.client
    await client.get_workflow_handle_for(IncidentWorkflow.run, handled).execute_update(
        IncidentWorkflow.acknowledge,
        Acknowledge(severity=Severity.MINOR, estimate=on(day + timedelta(days=7), 12)),
    )
    closed_handle = client.get_workflow_handle_for(IncidentWorkflow.run, closed)
    await closed_handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="erledigt"))
    await closed_handle.result()

    async def visible() -> bool:
        return await listed(client, incident_query(stack.task_queue)) == {
            critical,
            week_old,
            handled,
        }

    await eventually(visible)
    audit_id, result = await run_audit(stack, AuditKind.DAILY, on(day, 10, 45))

    assert result.audit_id == audit_id
    assert result.skipped is None
    assert result.day == day
    assert result.open_tickets == 3
    by_id = {t.ticket_id: t for t in result.tickets}
    assert set(by_id) == {critical, week_old, handled}
    assert [c.business_minutes_left for c in by_id[critical].overdue] == [-15]
    assert by_id[critical].unacknowledged and not by_id[critical].stale
    assert by_id[week_old].stale and by_id[week_old].unacknowledged and by_id[week_old].overdue
    assert not by_id[handled].flagged
    assert [t.ticket_id for t in result.tickets][-1] == handled

    # One e-mail to the support lead, Message-ID from the audit ID.
    (mail,) = audit_mails(stack, AuditKind.DAILY)
    assert mail["To"] == LEAD
    assert message_id(mail) == make_message_id(audit_id)
    assert f"Tägliche Ticketprüfung {day:%d.%m.%Y}: 2 überfällig" in mail["Subject"]
    text = body(mail)
    assert critical in text and week_old in text
    assert "Reaktionszeit abgelaufen" in text
    assert "Ohne Aktualisierung seit 2 Werktagen" in text

    # The report in the data dir: JSON equal to the result, text equal to the e-mail.
    stored = stack.data_dir / "audits"
    assert AuditReport.model_validate_json((stored / f"{day}-daily.json").read_text()) == result
    stored_text = (stored / f"{day}-daily.txt").read_text()
    assert stored_text.splitlines()[0] == mail["Subject"]
    assert not list(stored.glob(".*.tmp"))

    # The history replays against the current code (determinism).
    history = await client.get_workflow_handle(audit_id).fetch_history()
    await Replayer(
        workflows=list(WORKFLOWS),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    ).replay_workflow(history)


async def test_a_daily_audit_on_a_holiday_is_skipped_and_sends_nothing(
    audit_stack: Stack,
) -> None:
    kind = AuditKind.DAILY  # the next business day has its own daily audit
    holiday = next_weekday_holiday()
    _, result = await run_audit(audit_stack, kind, on(holiday, 8, 15))
    assert result.skipped is SkipReason.HOLIDAY
    assert result.day == holiday
    assert result.tickets == () and result.dev_tickets == ()
    assert audit_mails(audit_stack, kind) == []
    stored = json.loads((audit_stack.data_dir / "audits" / f"{holiday}-{kind}.json").read_text())
    assert stored["skipped"] == "holiday"
    text = (audit_stack.data_dir / "audits" / f"{holiday}-{kind}.txt").read_text()
    assert "entfällt (kein Werktag)" in text.splitlines()[0]


async def test_empty_daily_audit_says_all_is_well(audit_stack: Stack) -> None:
    _, result = await run_audit(audit_stack, AuditKind.DAILY, on(business_day_ahead(1), 8, 15))
    assert result.open_tickets == 0 and not result.needs_attention
    (mail,) = audit_mails(audit_stack, AuditKind.DAILY)
    assert mail["Subject"].endswith("keine Auffälligkeiten")


# -- weekly ---------------------------------------------------------------------------


def next_business_day_after(day: date) -> date:
    following = day + timedelta(days=1)
    while not POLICY.calendar.is_business_day(following):
        following += timedelta(days=1)
    return following


async def test_a_weekly_audit_on_a_holiday_moves_to_the_next_business_day(
    audit_stack: Stack,
) -> None:
    # Issue 16: Easter Monday, Whit Monday … skipped the weekly audit for a week.
    holiday = next_weekday_holiday()
    moved = next_business_day_after(holiday)
    _, result = await run_audit(audit_stack, AuditKind.WEEKLY, on(holiday, 8, 30))
    assert result.skipped is None
    assert result.day == moved
    (mail,) = audit_mails(audit_stack, AuditKind.WEEKLY)
    assert mail["To"] == LEAD
    assert (audit_stack.data_dir / "audits" / f"{moved}-weekly.json").exists()


@workflow.defn(name="ChangeRequestWorkflow")
class FakeChangeRequest:
    """Stands in for the change-request workflow (owned by another feature)."""

    def __init__(self) -> None:
        self._done = False

    # One parameter on purpose: starting a parameterless workflow method makes
    # mypy (2.4) mis-infer later `get_workflow_handle_for` calls in the same run.
    @workflow.run
    async def run(self, title: str) -> str:
        await workflow.wait_condition(lambda: self._done)
        return title

    @workflow.signal
    def move(self, state: str) -> None:
        workflow.upsert_search_attributes([names.LIFECYCLE_STATE.value_set(state)])

    @workflow.signal
    def finish(self) -> None:
        self._done = True


async def test_weekly_audit_flags_change_requests_without_progress(
    audit_stack: Stack, dev_env: WorkflowEnvironment
) -> None:
    client = dev_env.client
    queue = f"cr-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[FakeChangeRequest],
        # The sandbox would re-import this test module (pytest and all).
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handles = []
        for n in range(2):
            handles.append(
                await client.start_workflow(
                    FakeChangeRequest.run,
                    f"Änderungswunsch {n}",
                    id=f"CR-{queue}-{n}",
                    task_queue=queue,
                    search_attributes=TypedSearchAttributes(
                        [
                            SearchAttributePair(names.LIFECYCLE_STATE, "discussed"),
                            SearchAttributePair(names.DEV_TICKET, f"DEV-{n}"),
                            SearchAttributePair(names.COMPANY, "Wunsch GmbH"),
                        ]
                    ),
                )
            )
        moved, untouched = handles
        await asyncio.sleep(0.05)  # the move must come visibly after the start
        await moved.signal(FakeChangeRequest.move, "planned")

        async def visible() -> bool:
            planned = await listed(
                client, change_request_query(queue).where(names.LIFECYCLE_STATE, "planned")
            )
            return (
                planned == {moved.id}
                and len(await listed(client, change_request_query(queue))) == 2
            )

        await eventually(visible)
        now = datetime.now(UTC)
        calendar = POLICY.calendar
        try:
            _, fresh = await run_audit(
                audit_stack, AuditKind.WEEKLY, calendar.add(now, timedelta(hours=49)), scope=queue
            )
            _, late = await run_audit(
                audit_stack, AuditKind.WEEKLY, calendar.add(now, timedelta(hours=51)), scope=queue
            )
        finally:
            for handle in handles:
                await handle.signal(FakeChangeRequest.finish)
            for handle in handles:
                await handle.result()

    assert {t.key for t in fresh.dev_tickets} == {moved.id, untouched.id}
    assert not fresh.stalled
    assert {t.key for t in late.stalled} == {moved.id, untouched.id}
    tickets = {t.key: t for t in fresh.dev_tickets}
    assert tickets[moved.id].lifecycle_state == "planned"
    assert tickets[moved.id].dev_ticket == "DEV-0"
    assert tickets[moved.id].company == "Wunsch GmbH"
    # Progress: the state change for one, the start for the other.
    assert tickets[moved.id].last_progress_at > tickets[moved.id].opened_at
    assert tickets[untouched.id].last_progress_at == tickets[untouched.id].opened_at

    mails = audit_mails(audit_stack, AuditKind.WEEKLY)
    assert len(mails) == 2
    late_mail = next(m for m in mails if "2 ohne Fortschritt" in m["Subject"])
    assert "DEV-0" in body(late_mail) and "DEV-1" in body(late_mail)


# -- schedules -----------------------------------------------------------------------


def _ranges(ranges: Any) -> list[tuple[int, int]]:
    return [(r.start, max(r.end, r.start)) for r in ranges]


async def _schedule_ids(client: Client, prefix: str) -> set[str]:
    return {s.id async for s in await client.list_schedules() if s.id.startswith(prefix)}


async def test_schedules_apply_is_idempotent_and_updates_differences(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    try:
        first = await apply_audit_schedules(client, POLICY, prefix=prefix)
        again = await apply_audit_schedules(client, POLICY, prefix=prefix)
        assert [a.change for a in first] == [ScheduleChange.CREATED] * 2
        assert [a.change for a in again] == [ScheduleChange.UNCHANGED] * 2

        async def exactly_two() -> bool:
            return await _schedule_ids(client, prefix) == {
                schedule_id(AuditKind.DAILY, prefix),
                schedule_id(AuditKind.WEEKLY, prefix),
            }

        await eventually(exactly_two)

        expected = {AuditKind.DAILY: (15, [(1, 5)]), AuditKind.WEEKLY: (30, [(1, 1)])}
        for kind, (minute, days) in expected.items():
            described = await client.get_schedule_handle(schedule_id(kind, prefix)).describe()
            spec = described.schedule.spec
            assert spec.time_zone_name == "Europe/Berlin"
            (calendar,) = spec.calendars
            assert _ranges(calendar.hour) == [(8, 8)]
            assert _ranges(calendar.minute) == [(minute, minute)]
            assert _ranges(calendar.day_of_week) == days
            assert calendar.day_of_week == (ScheduleRange(days[0][0], days[0][1]),)
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "AuditWorkflow"
            assert action.task_queue == names.TASK_QUEUE
            (payload,) = await client.data_converter.decode(list(action.args), [AuditInput])
            assert payload == AuditInput(kind=kind, policy=POLICY)
            # Next runs at 08:15 / 08:30 Berlin wall time on the right weekdays.
            assert described.info.next_action_times
            for run in described.info.next_action_times:
                local = run.astimezone(BERLIN)
                assert (local.hour, local.minute) == (8, minute)
                assert local.isoweekday() in range(days[0][0], days[0][1] + 1)

        # A changed policy updates both; a paused schedule stays paused.
        daily = client.get_schedule_handle(schedule_id(AuditKind.DAILY, prefix))
        await daily.pause(note="Urlaub der Teamleitung")
        changed = POLICY.model_copy(
            update={"audit": POLICY.audit.model_copy(update={"stale_after_business_days": 3})}
        )
        updated = await apply_audit_schedules(client, changed, prefix=prefix)
        assert [a.change for a in updated] == [ScheduleChange.UPDATED] * 2
        assert [a.change for a in await apply_audit_schedules(client, changed, prefix=prefix)] == [
            ScheduleChange.UNCHANGED
        ] * 2
        state = (await daily.describe()).schedule.state
        assert state.paused and state.note == "Urlaub der Teamleitung"

        statuses = await describe_audit_schedules(client, prefix=prefix)
        assert [(s.kind, s.exists, s.paused) for s in statuses] == [
            (AuditKind.DAILY, True, True),
            (AuditKind.WEEKLY, True, False),
        ]
        assert [s.when for s in statuses] == ["Mon–Fri 08:15", "Mon 08:30"]
        assert all(s.timezone == "Europe/Berlin" for s in statuses)
    finally:
        deleted = await delete_audit_schedules(client, prefix=prefix)
    assert deleted == {
        schedule_id(AuditKind.DAILY, prefix): True,
        schedule_id(AuditKind.WEEKLY, prefix): True,
    }
    assert set((await delete_audit_schedules(client, prefix=prefix)).values()) == {False}
    statuses = await describe_audit_schedules(client, prefix=prefix)
    assert [s.exists for s in statuses] == [False, False]

    async def none_left() -> bool:
        return await _schedule_ids(client, prefix) == set()

    await eventually(none_left)


async def test_a_triggered_schedule_runs_the_audit(audit_stack: Stack) -> None:
    client = audit_stack.client
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    try:
        await apply_audit_schedules(
            client,
            POLICY,
            prefix=prefix,
            task_queue=audit_stack.task_queue,
            audit_task_queue=audit_stack.task_queue,
        )
        handle = client.get_schedule_handle(schedule_id(AuditKind.DAILY, prefix))
        await handle.trigger()

        async def started() -> bool:
            return bool((await handle.describe()).info.recent_actions)

        await eventually(started)
        action = (await handle.describe()).info.recent_actions[-1].action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        workflow_id = action.workflow_id
        assert workflow_id.startswith(schedule_id(AuditKind.DAILY, prefix) + "-")
        result = await client.get_workflow_handle_for(AuditWorkflow.run, workflow_id).result()
    finally:
        await delete_audit_schedules(client, prefix=prefix)
    assert result.audit_id == workflow_id
    assert result.kind is AuditKind.DAILY
    # "Now" is the real clock: a weekend or holiday skips, any other day mails.
    mails = audit_mails(audit_stack, AuditKind.DAILY)
    if result.skipped is None:
        (mail,) = mails
        assert message_id(mail) == make_message_id(workflow_id)
    else:
        assert mails == []


async def test_an_incident_that_does_not_answer_is_reported_unreadable(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # No worker polls this queue, so the incident cannot answer its `view` query.
    orphan_queue = f"nobody-{uuid.uuid4()}"
    ticket = await report_incident(dev_env.client, report(), task_queue=orphan_queue)
    try:

        async def visible() -> bool:
            return await listed(dev_env.client, incident_query(orphan_queue)) == {ticket}

        await eventually(visible)
        activities = AuditActivities(
            TemporalAuditReader(dev_env.client, query_timeout=timedelta(milliseconds=500)),
            tmp_path,
        )
        day = business_day_ahead(1)
        result = await ActivityEnvironment().run(
            activities.audit_support_tickets,
            CollectRequest(
                audit_id="audit-unreadable",
                policy=POLICY,
                at=on(day, 9),
                day=day,
                task_queue=orphan_queue,
            ),
        )
    finally:
        await dev_env.client.get_workflow_handle(ticket).terminate(reason="test over")
    assert result.open_tickets == 0
    assert [u.ticket_id for u in result.unreadable] == [ticket]
    assert result.needs_attention


@pytest.mark.parametrize("archived_rounds", [1, 2], ids=["same-status", "other-status"])
async def test_the_audit_reads_open_incidents_the_archive_has_at_their_listed_status(
    dev_env: WorkflowEnvironment, tmp_path: Path, archived_rounds: int
) -> None:
    """Archived at the status visibility lists: read from the archive (no query).

    The incident runs on a queue nobody polls, so it could not answer a query:
    the audit still reads it when the archive has it at the listed status
    ("new"), and reports it unreadable when the archive is at another status
    than Temporal (here one round ahead; during an archive outage, behind).
    """
    orphan_queue = f"nobody-{uuid.uuid4()}"
    ticket = await report_incident(dev_env.client, report(), task_queue=orphan_queue)
    store = ArchiveStore.from_url(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    try:
        store.migrate()
        for batch in incident_batches(ticket, resolve=False)[:archived_rounds]:
            store.append(batch)

        async def visible() -> bool:
            return await listed(dev_env.client, incident_query(orphan_queue)) == {ticket}

        await eventually(visible)
        activities = AuditActivities(
            TemporalAuditReader(
                dev_env.client,
                query_timeout=timedelta(milliseconds=500),
                archive=lambda: store,
            ),
            tmp_path,
        )
        day = business_day_ahead(1)
        result = await ActivityEnvironment().run(
            activities.audit_support_tickets,
            CollectRequest(
                audit_id="audit-archived",
                policy=POLICY,
                at=on(day, 9),
                day=day,
                task_queue=orphan_queue,
            ),
        )
    finally:
        store.close()
        await dev_env.client.get_workflow_handle(ticket).terminate(reason="test over")
    if archived_rounds == 1:
        assert (result.open_tickets, tuple(result.unreadable)) == (1, ())
    else:
        assert result.open_tickets == 0
        assert [u.ticket_id for u in result.unreadable] == [ticket]


class NoTickets:
    """An audit reader with nothing open (the time-skipping server has no visibility)."""

    async def open_incidents(
        self, task_queue: str | None, on_read: Any
    ) -> tuple[list[Any], list[Any]]:
        return [], []

    async def open_dev_tickets(self, task_queue: str | None, on_read: Any) -> list[Any]:
        return []


async def test_a_scheduled_weekly_audit_on_a_holiday_waits_for_the_next_business_day(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    now = (await time_env.get_current_time()).astimezone(BERLIN)
    holiday = now.date() + timedelta(days=1)
    while holiday.weekday() >= 5 or POLICY.calendar.is_business_day(holiday):
        holiday += timedelta(days=1)
    await skip_time(time_env, on(holiday, 8, 30) - now)
    audit = AuditActivities(NoTickets(), tmp_path / "audits")
    notify = NotificationActivities(
        OutboxMailer(tmp_path / "outbox"), MessageRenderer(), "Support <support@myconvento.com>"
    )
    task_queue = f"audit-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[AuditWorkflow],
        activities=[
            audit.check_audit_day,
            audit.audit_support_tickets,
            audit.audit_dev_tickets,
            audit.store_audit_report,
            notify.send_message,
        ],
    ):
        handle = await time_env.client.start_workflow(
            AuditWorkflow.run,
            AuditInput(kind=AuditKind.WEEKLY, policy=POLICY, task_queue=task_queue),
            id=f"audit-{uuid.uuid4().hex[:10]}",
            task_queue=task_queue,
        )
        result = await handle.result()
    moved = next_business_day_after(holiday)
    assert result.skipped is None and result.day == moved
    # The same wall-clock time (to the start's milliseconds) on the next business day.
    assert abs(result.at - on(moved, 8, 30)) < timedelta(seconds=5)
    assert list((tmp_path / "outbox").glob("*.eml"))  # the support lead got it


@pytest.mark.parametrize(
    ("holiday", "moved"),
    [
        (date(2027, 3, 29), date(2027, 3, 30)),  # Easter Monday → Tuesday
        (date(2027, 5, 17), date(2027, 5, 18)),  # Whit Monday → Tuesday
        (date(2026, 12, 25), date(2026, 12, 28)),  # Christmas (Friday) → Monday
    ],
)
async def test_the_audit_day_names_where_a_holiday_audit_moves(holiday: date, moved: date) -> None:
    audit = AuditActivities(NoTickets(), Path("/nonexistent"))
    day = await ActivityEnvironment().run(
        audit.check_audit_day, AuditDayRequest(policy=POLICY, at=on(holiday, 8, 30))
    )
    assert not day.business_day
    assert day.next_business_day == moved
    assert day.next_business_at == on(moved, 8, 30)
