"""``OnCallBookingWorkflow`` on the time-skipping server, and how bookings move incident clocks.

Bookings are made through the booking API (``workflows.oncall_intake``) at the
server's clock, for the first Saturday the lead-time rule allows. Visibility,
which the time-skipping server lacks, is answered by a ``Directory``
(``tests/workflows/oncall_support.py``); the dev-server test at the end checks
the real look-up. Expected deadlines come from the domain
(``policy.calendar.with_windows``), never from arithmetic here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.mail import DeliveryReport, Mailer, OutboxMailer
from activities.oncall import LedgerEntry, OnCallActivities, read_ledger
from domain.incident import DeadlinesRecomputed
from domain.oncall import (
    AssignOperator,
    BillingRecord,
    BookingStatus,
    CancelBooking,
    OnCallBooking,
    OnCallWindow,
    check_booking,
    reminder_instant,
    with_oncall_windows,
)
from domain.read_model import IncidentView
from domain.sla import Severity, SlaPolicy
from service.oncall import book_oncall, company_windows
from starter import oncall_windows_for, report_incident
from tests.conftest import Stack, make_stack, report, text_of
from tests.workflows.oncall_support import (
    Directory,
    at,
    bookable_day,
    ledger_of,
    oncall_stack,
    terminate_settled,
)
from tests.workflows.waiting import eventually, settled
from worker import WORKFLOWS
from workflows import names
from workflows.converter import sla_data_converter
from workflows.incident import IncidentWorkflow
from workflows.oncall import OPERATOR_MEMO, OnCallBookingWorkflow
from workflows.sandbox import workflow_runner

POLICY = SlaPolicy.default()
COMPANY = "Beispiel Versand GmbH"
CONTACT = "it@beispiel-versand.de"  # the directory contact of Beispiel Versand GmbH
FRIDAY = 4
SATURDAY = 5

Booking = WorkflowHandle[OnCallBookingWorkflow, OnCallBooking]


@dataclass
class Run:
    """A worker plus bookkeeping so that nothing a test starts outlives it."""

    stack: Stack
    directory: Directory
    started: list[str] = field(default_factory=list)

    async def book(
        self,
        start: datetime,
        end: datetime,
        *,
        company: str = COMPANY,
        operator: str | None = "Max Muster",
    ) -> Booking:
        now = await self.now()
        request = check_booking(
            POLICY,
            company=company,
            start=start,
            end=end,
            reason="Migration der Versanddaten",
            operator=operator,
            booked_at=now,
        )
        receipt = await book_oncall(
            self.stack.client,
            request,
            policy=POLICY,
            booked_at=now,
            task_queue=self.stack.task_queue,
        )
        assert receipt.created
        self.started.append(receipt.booking_id)
        return self.stack.client.get_workflow_handle_for(
            OnCallBookingWorkflow.run, receipt.booking_id
        )

    async def now(self) -> datetime:
        """The server's clock (the dev server's is the wall clock)."""
        return await self.stack.now() if self.stack.env is not None else datetime.now(UTC)

    async def incident(
        self, received: datetime, windows: tuple[OnCallWindow, ...] = (), **facts: object
    ) -> WorkflowHandle[IncidentWorkflow, object]:
        ticket = await report_incident(
            self.stack.client,
            report(company=COMPANY, **facts),
            received_at=received,
            task_queue=self.stack.task_queue,
            status_page_id=self.stack.status_page_id,
            oncall_windows=windows,
        )
        self.started.append(ticket)
        self.directory.incidents.setdefault(COMPANY, []).append(ticket)
        return self.stack.client.get_workflow_handle(ticket)

    async def saturday(self, hours: timedelta = timedelta(hours=4)) -> tuple[datetime, datetime]:
        day = bookable_day(POLICY, await self.stack.now(), SATURDAY)
        return at(day, 10), at(day, 10) + hours


@asynccontextmanager
async def running(
    env: WorkflowEnvironment,
    tmp_path: Path,
    *,
    activities_class: type[OnCallActivities] = OnCallActivities,
    mailer: Mailer | None = None,
) -> AsyncIterator[tuple[Run, OnCallActivities]]:
    directory = Directory()
    stack, oncall = oncall_stack(
        env.client,
        env,
        tmp_path,
        directory,
        activities_class=activities_class,
        mailer=mailer,
    )
    run = Run(stack, directory)
    async with stack.worker:
        try:
            yield run, oncall
        finally:
            await terminate_settled(env.client, [*run.started, stack.status_page_id])


@pytest.fixture
async def run(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Run]:
    async with running(time_env, tmp_path) as (r, _):
        yield r


def emails(stack: Stack, kind: str) -> list[EmailMessage]:
    return stack.emails_of_kind(kind)


async def one(stack: Stack, kind: str) -> EmailMessage:
    """The one e-mail of ``kind`` (fails, retryably, while there is none)."""
    messages = emails(stack, kind)
    assert len(messages) == 1, [m["X-SLA-Kind"] for m in stack.emails()]
    return messages[0]


def recipients(message: EmailMessage) -> set[str]:
    return {a.strip() for a in str(message["To"]).split(",")}


async def view_of(handle: WorkflowHandle[IncidentWorkflow, object]) -> IncidentView:
    return await handle.query(IncidentWorkflow.view)


# -- booking lifecycle -----------------------------------------------------------


class LostReply(OnCallActivities):
    """Writes the ledger line, then fails the first attempt as if the reply were lost."""

    appended: list[bool]

    @activity.defn(name="record_oncall_billing")
    async def record_oncall_billing(self, record: BillingRecord) -> LedgerEntry:
        entry = await super().record_oncall_billing(record)
        self.appended = [*getattr(self, "appended", []), entry.appended]
        if activity.info().attempt == 1:
            raise RuntimeError("worker lost the reply after writing the ledger")
        return entry


async def test_booking_confirms_reminds_the_business_day_before_and_bills_once(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with running(time_env, tmp_path, activities_class=LostReply) as (run, oncall):
        start, end = await run.saturday(timedelta(hours=2, minutes=1))
        handle = await run.book(start, end)

        confirmation = await eventually(lambda: one(run.stack, "oncall_confirmation"))
        assert recipients(confirmation) == {CONTACT}
        assert handle.id in str(confirmation["Subject"])
        body = text_of(confirmation)
        assert "angefangene" in body and "95,00 EUR" in body
        booking = await handle.query(OnCallBookingWorkflow.view)
        assert booking.status is BookingStatus.BOOKED
        reminder_at = reminder_instant(POLICY.calendar, start)
        assert booking.reminder_at == reminder_at
        assert reminder_at.astimezone(POLICY.calendar.zone).hour == 8

        await run.stack.skip_to(reminder_at - timedelta(minutes=1))
        await settled(handle)
        assert emails(run.stack, "oncall_reminder") == []

        await run.stack.skip_to(reminder_at + timedelta(seconds=1))

        reminder = await eventually(lambda: one(run.stack, "oncall_reminder"))
        assert recipients(reminder) == {POLICY.contacts.on_duty}
        assert "Max Muster" in text_of(reminder)
        assert reminder["Date"].datetime == reminder_at

        # Only handles returned by start_workflow skip time in result(): skip explicitly.
        await run.stack.skip_to(end + timedelta(minutes=1))
        final = await handle.result()

        assert final.status is BookingStatus.COMPLETED
        assert final.billing is not None
        assert (final.billing.hours, final.billing.amount) == (3, Decimal("285.00"))
        rows = read_ledger(ledger_of(tmp_path))
        assert len(rows) == 1
        assert rows[0] == {
            "booking_id": handle.id,
            "company": COMPANY,
            "start": start.isoformat(timespec="seconds"),
            "end": end.isoformat(timespec="seconds"),
            "billed_hours": "3",
            "rate": "95.00",
            "amount": "285.00",
            "currency": "EUR",
        }
        assert isinstance(oncall, LostReply)
        assert oncall.appended == [True, False]  # retried, found its line, wrote nothing
        described = await handle.describe()
        assert described.typed_search_attributes.get(names.LIFECYCLE_STATE) == "completed"
        assert described.typed_search_attributes.get(names.COMPANY) == COMPANY


@dataclass
class HeldMail:
    """Delivers to the outbox, but holds cancellation notices until released."""

    outbox: OutboxMailer
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: EmailMessage) -> DeliveryReport:
        if message["X-SLA-Kind"] == "oncall_cancelled":
            await self.release.wait()
        return await self.outbox.send(message)


async def test_cancelled_before_the_start_is_free_and_a_second_cancel_is_refused(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    mailer = HeldMail(OutboxMailer(tmp_path / "outbox"))
    async with running(time_env, tmp_path, mailer=mailer) as (run, _):
        start, end = await run.saturday()
        handle = await run.book(start, end)

        cancelled = await handle.execute_update(
            OnCallBookingWorkflow.cancel, CancelBooking(reason="Migration verschoben")
        )
        assert cancelled.status is BookingStatus.CANCELLED

        # The workflow is still sending the notice: the validator answers.
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(OnCallBookingWorkflow.cancel, CancelBooking())
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "AlreadyDone"
        assert "already cancelled" in cause.message
        mailer.release.set()

        final = await handle.result()
        assert final.billing is None
        assert not ledger_of(tmp_path).exists()
        (notice,) = emails(run.stack, "oncall_cancelled")
        assert recipients(notice) == {CONTACT, POLICY.contacts.on_duty}
        body = text_of(notice)
        assert "Migration verschoben" in body
        assert "keine Kosten" in body
        described = await handle.describe()
        assert described.typed_search_attributes.get(names.LIFECYCLE_STATE) == "cancelled"


async def test_cancelled_while_running_bills_the_hours_started_so_far(run: Run) -> None:
    start, end = await run.saturday()
    handle = await run.book(start, end)

    await run.stack.skip_to(start + timedelta(hours=1, minutes=30))

    async def active() -> None:
        booking = await handle.query(OnCallBookingWorkflow.view)
        assert booking.status is BookingStatus.ACTIVE

    await eventually(active)
    await handle.execute_update(OnCallBookingWorkflow.cancel, CancelBooking())
    final = await handle.result()

    assert final.billing is not None
    assert (final.billing.hours, final.billing.amount) == (2, Decimal("190.00"))
    (row,) = read_ledger(ledger_of(run.stack.data_dir))
    assert (row["billed_hours"], row["amount"]) == ("2", "190.00")
    (notice,) = emails(run.stack, "oncall_cancelled")
    assert "2 × 95,00 EUR = 190,00 EUR" in text_of(notice)


# -- operator and terms ----------------------------------------------------------------------


async def refused_update(handle: Booking, command: AssignOperator) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OnCallBookingWorkflow.assign, command)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_the_operator_is_named_later_replaced_and_the_customer_told(run: Run) -> None:
    start, end = await run.saturday()
    handle = await run.book(start, end, operator=None)

    named = await handle.execute_update(
        OnCallBookingWorkflow.assign, AssignOperator(operator="Erika Muster")
    )
    assert named.operator == "Erika Muster"
    replaced = await handle.execute_update(
        OnCallBookingWorkflow.assign, AssignOperator(operator="Max Muster")
    )
    assert [(a.operator, a.previous) for a in replaced.assignments] == [
        ("Erika Muster", None),
        ("Max Muster", "Erika Muster"),
    ]

    same = await refused_update(handle, AssignOperator(operator="Max Muster"))
    assert (same.type, same.message) == (
        "AlreadyDone",
        f"Max Muster is already the operator of {handle.id}",
    )
    # What a client that skipped validation sends: the validator checks it as fresh input.
    blank = await refused_update(handle, AssignOperator.model_construct(operator="  "))
    assert blank.type == "InvalidInput"

    async def two_notices() -> list[EmailMessage]:
        notices = emails(run.stack, "oncall_operator")
        assert len(notices) == 2, [m["X-SLA-Kind"] for m in run.stack.emails()]
        return notices

    notices = await eventually(two_notices)
    assert all(recipients(n) == {CONTACT, POLICY.contacts.on_duty} for n in notices)
    bodies = sorted(" ".join(text_of(n).split()) for n in notices)
    assert any("steht Ihnen Erika Muster als Operator zur Verfügung" in b for b in bodies)
    assert any("statt Erika Muster nun Max Muster als Operator" in b for b in bodies)
    memo = await (await handle.describe()).memo()
    assert memo[OPERATOR_MEMO] == "Max Muster"

    # The assignments woke the sleeping booking; its reminder and window still run on time.
    reminder_at = reminder_instant(POLICY.calendar, start)
    await run.stack.skip_to(reminder_at + timedelta(seconds=1))
    reminder = await eventually(lambda: one(run.stack, "oncall_reminder"))
    assert "Operator: Max Muster" in " ".join(text_of(reminder).split())
    await run.stack.skip_to(end + timedelta(minutes=1))
    final = await handle.result()
    assert final.status is BookingStatus.COMPLETED
    assert final.operator == "Max Muster"
    assert final.billing is not None and final.billing.hours == 4

    # The history with its assignments replays against this code.
    await Replayer(
        workflows=list(WORKFLOWS),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    ).replay_workflow(await handle.fetch_history())


async def test_a_window_reaching_into_business_time_bills_only_the_hours_outside_it(
    run: Run,
) -> None:
    day = bookable_day(POLICY, await run.stack.now(), FRIDAY)
    while not POLICY.calendar.is_business_day(day):  # the session clock may reach 1 January
        day += timedelta(days=7)
    start, end = at(day, 16), at(day, 20, 30)
    handle = await run.book(start, end)

    confirmation = await eventually(lambda: one(run.stack, "oncall_confirmation"))
    body = " ".join(text_of(confirmation).split())
    assert "95,00 EUR je angefangene Stunde außerhalb der regulären Bereitschaftszeit" in body
    assert "wir berechnen sie nicht" in body
    assert "3 angefangene Stunden × 95,00 EUR = 285,00 EUR" in body

    await run.stack.skip_to(end + timedelta(minutes=1))
    final = await handle.result()
    assert final.billing is not None
    # 18:00–20:30 outside business time: 3 started hours, not 5.
    assert (final.billing.hours, final.billing.amount) == (3, Decimal("285.00"))
    (row,) = read_ledger(ledger_of(run.stack.data_dir))
    assert (row["billed_hours"], row["amount"]) == ("3", "285.00")


# -- incidents ---------------------------------------------------------------------------


async def test_incident_reported_in_a_booked_saturday_window_counts_it(run: Run) -> None:
    start, end = await run.saturday()
    handle = await run.book(start, end)
    window = (await handle.query(OnCallBookingWorkflow.view)).window()
    assert window is not None
    await run.stack.skip_to(start + timedelta(minutes=30))
    received = await run.stack.now()

    incident = await run.incident(received, (window,), login_impossible=True)

    calendar = POLICY.calendar.with_windows([(start, end)])
    view = await eventually(lambda: view_of(incident))
    assert view.severity is Severity.CRITICAL
    assert view.reaction_due == calendar.add(received, timedelta(hours=1))
    assert view.resolution_due == calendar.add(received, timedelta(hours=4))
    assert view.reaction_due < end  # within the Saturday window
    assert view.reaction_due < POLICY.reaction_due(Severity.CRITICAL, received)


async def test_a_booking_made_after_an_incident_started_moves_its_deadlines(run: Run) -> None:
    received = await run.stack.now()
    incident = await run.incident(received, login_impossible=False, workaround_available=True)
    before = await eventually(lambda: view_of(incident))
    assert before.resolution_due == POLICY.resolution_due(Severity.MINOR, received)

    start, end = await run.saturday()
    booking = await run.book(start, end)
    windowed = with_oncall_windows(
        POLICY, [OnCallWindow(booking_id=booking.id, start=start, end=end)]
    ).deadlines(Severity.MINOR, received)

    async def moved() -> IncidentView:
        view = await view_of(incident)
        assert view.resolution_due == windowed.resolution_due
        return view

    view = await eventually(moved)
    assert view.reaction_due == windowed.reaction_due
    assert view.resolution_due < before.resolution_due
    (recomputed,) = [e for e in view.events if isinstance(e, DeadlinesRecomputed)]
    assert [w.booking_id for w in recomputed.windows] == [booking.id]

    # Cancelled before it started: the window is gone again, and so is its effect.
    await booking.execute_update(OnCallBookingWorkflow.cancel, CancelBooking())

    async def restored() -> None:
        view = await view_of(incident)
        assert view.resolution_due == before.resolution_due

    await eventually(restored)
    await booking.result()


async def test_without_visibility_the_booking_stands_and_notes_it(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # The production wiring: the time-skipping server answers the look-up "unimplemented".
    stack = make_stack(time_env.client, time_env, tmp_path)
    run = Run(stack, Directory())
    async with stack.worker:
        try:
            start, end = await run.saturday()
            handle = await run.book(start, end)

            async def noted() -> None:
                booking = await handle.query(OnCallBookingWorkflow.view)
                assert any("not told" in note for note in booking.notes), booking.notes

            await eventually(noted)
            assert len(emails(stack, "oncall_confirmation")) == 1
            assert (await handle.query(OnCallBookingWorkflow.view)).status is (BookingStatus.BOOKED)
        finally:
            await terminate_settled(time_env.client, [*run.started, stack.status_page_id])


# -- dev server: the visibility look-up ------------------------------------------------


async def test_bookings_are_found_by_company_and_counted_by_new_incidents(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    company = f"Sichtbar {tmp_path.name} GmbH"
    other = f"Andere {tmp_path.name} GmbH"
    directory = Directory()  # unused: the production look-ups run here
    stack = make_stack(dev_env.client, None, tmp_path)
    run = Run(stack, directory)
    async with stack.worker:
        try:
            day = bookable_day(POLICY, await run.now(), SATURDAY)
            start, end = at(day, 10), at(day, 14)
            kept = await run.book(start, end, company=company)
            dropped = await run.book(
                start + timedelta(days=7), end + timedelta(days=7), company=company
            )
            await run.book(start, end, company=other)
            await dropped.execute_update(OnCallBookingWorkflow.cancel, CancelBooking())

            async def only_the_open_booking() -> tuple[OnCallWindow, ...]:
                windows = await company_windows(dev_env.client, company)
                assert [w.booking_id for w in windows] == [kept.id], windows
                return windows

            (window,) = await eventually(only_the_open_booking, seconds=20)
            assert (window.start, window.end) == (start, end)
            assert await oncall_windows_for(dev_env.client, company, POLICY) == (window,)

            # The starter looks the window up itself for an incident of that company.
            received = start + timedelta(minutes=30)
            ticket = await report_incident(
                dev_env.client,
                report(company=company),
                received_at=received,
                task_queue=stack.task_queue,
                status_page_id=stack.status_page_id,
            )
            run.started.append(ticket)
            view = await eventually(
                lambda: view_of(dev_env.client.get_workflow_handle(ticket)),
                seconds=20,
            )
            calendar = POLICY.calendar.with_windows([(start, end)])
            assert view.reaction_due == calendar.add(received, timedelta(hours=1))
        finally:
            for workflow_id in [*run.started, stack.status_page_id]:
                with suppress(RPCError):  # already closed
                    await dev_env.client.get_workflow_handle(workflow_id).terminate("test over")
