"""``ChangeRequestWorkflow`` and ``LinkBugWorkflow``: dev ticket, customer e-mails, refusals.

On the time-skipping server (updates, queries) except for the search attributes,
which need the dev server's visibility. Every test leaves nothing running: a
change request ends by planning or declining, and the harness terminates what
is left once it has no activity in flight (a time-skipping server stops
skipping time while an abandoned activity waits).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.archive import ArchiveActivities, LazyArchive, embedded_store
from activities.dev_tickets import (
    UNKNOWN_DEV_TICKET,
    DevTicket,
    DevTicketActivities,
    IncidentLink,
    NewDevTicket,
    SqliteDevTicketTracker,
)
from activities.mail import DeliveryReport, OutboxMailer
from activities.notifications import NotificationActivities
from activities.rendering import MessageRenderer
from archive.store import ArchiveStore
from domain.change_request import (
    ChangeRequestStatus,
    ChangeRequestView,
    CustomerNotReached,
    Decline,
    DevTicketKind,
    DevTicketStatus,
    Discuss,
    PlanRelease,
)
from domain.errors import DomainErrorKind
from domain.sla import EffectsPolicy, SlaPolicy
from service.change_requests import ChangeRequestReceipt, submit_change_request
from service.intake import IntakeConflict
from starter import IntakeError
from tests.conftest import Stack, make_stack, skip_time
from tests.workflows.waiting import eventually
from workflows import names
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow
from workflows.sandbox import workflow_runner

CR_ID = re.compile(r"^CR-\d{8}-[A-Z2-7]{6}$")
REQUESTER = "erika.mustermann@beispiel-versand.de"
COMPANY_CONTACT = "it@beispiel-versand.de"  # directory contact of Beispiel Versand GmbH

T = TypeVar("T")
Handle = WorkflowHandle[ChangeRequestWorkflow, ChangeRequestView]


def change_request(**changes: Any) -> dict[str, Any]:
    data = {
        "company": "Beispiel Versand GmbH",
        "full_name": "Erika Mustermann",
        "email": REQUESTER,
        "phone": "+49 2131 123456",
        "title": "CSV-Export der Sendungsliste",
        "description": "Wir möchten die Sendungsliste als CSV-Datei exportieren.",
        "attachments": ["https://files.example/mockup.png"],
        "request_id": f"cr-test-{uuid.uuid4().hex[:12]}",
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


async def history_types(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    return [e.event_type async for e in handle.fetch_history_events()]


_ACTIVITY_CLOSED = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
)


async def settled(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until ``handle`` has no activity in flight (or has closed)."""

    async def check() -> None:
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            return
        types = await history_types(handle)
        running = types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) - sum(
            types.count(t) for t in _ACTIVITY_CLOSED
        )
        assert running == 0, running

    await eventually(check)


@dataclass
class Harness:
    """A worker stack plus bookkeeping so that no workflow of a test outlives it."""

    client: Client
    task_queue: str
    stack: Stack
    started: list[str] = field(default_factory=list)

    async def submit(self, **changes: Any) -> tuple[ChangeRequestReceipt, Handle]:
        receipt = await submit_change_request(
            self.client, change_request(**changes), task_queue=self.task_queue
        )
        self.started.append(receipt.change_request_id)
        handle = self.client.get_workflow_handle_for(
            ChangeRequestWorkflow.run, receipt.change_request_id
        )
        return receipt, handle

    async def with_dev_ticket(self, handle: Handle, seconds: float = 10.0) -> ChangeRequestView:
        async def check() -> ChangeRequestView:
            view = await handle.query(ChangeRequestWorkflow.view)
            assert view.dev_ticket_id is not None
            return view

        return await eventually(check, seconds)

    def emails(self, kind: str) -> list[EmailMessage]:
        return self.stack.emails_of_kind(kind)

    async def cleanup(self) -> None:
        for workflow_id in dict.fromkeys(self.started):
            handle = self.client.get_workflow_handle(workflow_id)
            with suppress(RPCError):
                await settled(handle)
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("test over")


@asynccontextmanager
async def harness_of(stack: Stack) -> AsyncIterator[Harness]:
    """A harness on ``stack`` that leaves nothing running when the test ends."""
    harness = Harness(stack.client, stack.task_queue, stack)
    try:
        yield harness
    finally:
        await harness.cleanup()


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[Harness]:
    async with harness_of(stack) as harness:
        yield harness


def ledger(stack: Stack) -> SqliteDevTicketTracker:
    return SqliteDevTicketTracker.in_data_dir(stack.data_dir)


def recipients(message: EmailMessage) -> set[str]:
    return {a.strip() for a in str(message["To"]).split(",")}


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def refused(call: Awaitable[object], kind: DomainErrorKind) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == kind.value, (cause.type, cause.message)
    return cause


# -- lifecycle ---------------------------------------------------------------------------


async def test_planned_request_tells_the_customer_each_step_with_the_dev_ticket(
    h: Harness,
) -> None:
    receipt, handle = await h.submit()
    assert receipt.created
    assert CR_ID.match(receipt.change_request_id), receipt

    view = await h.with_dev_ticket(handle)
    assert view.dev_ticket_id == "DEV-0001"  # a fresh ledger per test
    assert view.status is ChangeRequestStatus.SUBMITTED

    async def received() -> EmailMessage:
        # An assertion, not an unpacking: `eventually` retries assertions only.
        messages = h.emails("change_request_received")
        assert len(messages) == 1, messages
        return messages[0]

    message = await eventually(received)
    assert "DEV-0001" in str(message["Subject"])
    assert receipt.change_request_id in str(message["Subject"])
    assert "Entwicklungs-Ticketsystem" in body(message)
    assert recipients(message) == {REQUESTER, COMPANY_CONTACT}

    discussed = await handle.execute_update(
        ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen den Aufwand.")
    )
    assert discussed.status is ChangeRequestStatus.UNDER_DISCUSSION
    planned = await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
    assert planned.status is ChangeRequestStatus.PLANNED

    final = await handle.result()  # completes once planned and every message is out
    assert final.status is ChangeRequestStatus.PLANNED
    assert final.release == "2027.1"
    assert [e.type for e in final.events] == [
        "submitted",
        "dev_ticket_created",
        "discussed",
        "planned",
    ]
    assert [str(m["X-SLA-Kind"]) for m in h.stack.emails()] == [
        "change_request_received",
        "change_request_discussion",
        "change_request_planned",
    ]
    (discussion,) = h.emails("change_request_discussion")
    assert "Wir prüfen den Aufwand." in body(discussion)
    (planned_mail,) = h.emails("change_request_planned")
    assert "Version 2027.1" in str(planned_mail["Subject"])

    ticket = ledger(h.stack).get_sync("DEV-0001")
    assert ticket.kind is DevTicketKind.FEATURE
    assert ticket.reference == receipt.change_request_id
    assert ticket.title == "CSV-Export der Sendungsliste"
    assert ticket.status is DevTicketStatus.PLANNED
    assert ticket.release == "2027.1"
    assert [c.status for c in ticket.history] == [
        DevTicketStatus.IN_DISCUSSION,
        DevTicketStatus.PLANNED,
    ]
    # No SLA clock: not a single timer in the whole history.
    assert EventType.EVENT_TYPE_TIMER_STARTED not in await history_types(handle)


async def test_declined_request_sends_the_reason_and_completes(h: Harness) -> None:
    _, handle = await h.submit()
    await h.with_dev_ticket(handle)
    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen das."))
    await handle.execute_update(
        ChangeRequestWorkflow.decline, Decline(reason="Passt nicht zur Produktstrategie.")
    )

    final = await handle.result()
    assert final.status is ChangeRequestStatus.DECLINED
    assert final.decline_reason == "Passt nicht zur Produktstrategie."
    (message,) = h.emails("change_request_declined")
    assert "Begründung: Passt nicht zur Produktstrategie." in body(message)
    assert ledger(h.stack).get_sync("DEV-0001").status is DevTicketStatus.DECLINED


async def test_an_early_discussion_waits_for_the_dev_ticket_and_the_receipt_comes_first(
    h: Harness,
) -> None:
    _, handle = await h.submit()
    # No waiting for the dev ticket: the update is held until it exists.
    view = await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Sofort."))
    assert view.dev_ticket_id == "DEV-0001"
    await handle.execute_update(ChangeRequestWorkflow.decline, Decline(reason="Bereits vorhanden."))
    await handle.result()
    assert [str(m["X-SLA-Kind"]) for m in h.stack.emails()] == [
        "change_request_received",
        "change_request_discussion",
        "change_request_declined",
    ]


@dataclass
class BouncingMailer:
    """The company contact's mailbox is unknown; the planned message bounces entirely."""

    outbox: OutboxMailer

    async def send(self, message: EmailMessage) -> DeliveryReport:
        if str(message["X-SLA-Kind"]) == "change_request_planned":
            raise ApplicationError(
                "550 mailbox unavailable", type="PermanentDeliveryError", non_retryable=True
            )
        report = await self.outbox.send(message)
        return report.model_copy(update={"refused": {COMPANY_CONTACT: "550 unknown user"}})


async def planned_while_mail_bounces(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> tuple[Stack, Handle, ChangeRequestView]:
    """A request discussed and planned while the mail server bounces (:class:`BouncingMailer`)."""
    stack = make_stack(
        time_env.client,
        time_env,
        tmp_path,
        mailer=BouncingMailer(OutboxMailer(tmp_path / "outbox")),
    )
    async with stack.worker, harness_of(stack) as h:
        _, handle = await h.submit()
        await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Prüfen."))
        await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
        return stack, handle, await handle.result()


async def test_undeliverable_messages_are_recorded_and_the_request_still_completes(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    _, _, final = await planned_while_mail_bounces(time_env, tmp_path)
    failures = [e for e in final.events if isinstance(e, CustomerNotReached)]
    assert [(f.template, f.to) for f in failures] == [
        ("change_request_received", (COMPANY_CONTACT,)),
        ("change_request_discussion", (COMPANY_CONTACT,)),
        ("change_request_planned", (REQUESTER, COMPANY_CONTACT)),
    ]
    assert "550" in failures[-1].error
    assert final.status is ChangeRequestStatus.PLANNED


# -- refusals ------------------------------------------------------------------------------


async def test_refused_updates_reach_the_client_and_leave_no_trace(h: Harness) -> None:
    _, handle = await h.submit()
    start = await h.with_dev_ticket(handle)

    cause = await refused(
        handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1")),
        DomainErrorKind.WRONG_STATUS,
    )
    assert "not been discussed" in cause.message
    await refused(
        handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="  ")),
        DomainErrorKind.MISSING_TEXT,
    )
    assert (await handle.query(ChangeRequestWorkflow.view)).events == start.events

    await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Wir prüfen das."))
    cause = await refused(
        handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="")),
        DomainErrorKind.MISSING_TEXT,
    )
    assert "release" in cause.message
    cause = await refused(
        handle.execute_update(ChangeRequestWorkflow.decline, Decline(reason="")),
        DomainErrorKind.MISSING_TEXT,
    )
    assert "reason" in cause.message

    # Refusals happen in the validator: history holds only the accepted update.
    types = await history_types(handle)
    assert types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1

    await handle.execute_update(ChangeRequestWorkflow.decline, Decline(reason="Nein."))
    # Declined is final: the workflow refuses (or, once closed, the server does).
    for late in (
        handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1")),
        handle.execute_update(ChangeRequestWorkflow.decline, Decline(reason="Nochmals.")),
    ):
        with pytest.raises((WorkflowUpdateFailedError, RPCError)) as info:
            await late
        if isinstance(info.value, WorkflowUpdateFailedError):
            assert isinstance(info.value.cause, ApplicationError)
            assert info.value.cause.type in {
                DomainErrorKind.WRONG_STATUS.value,
                DomainErrorKind.ALREADY_DONE.value,
            }
    final = await handle.result()
    assert final.status is ChangeRequestStatus.DECLINED
    assert h.emails("change_request_declined")  # exactly one decision went out
    assert len(h.emails("change_request_declined")) == 1


# -- intake --------------------------------------------------------------------------------


async def test_submit_is_idempotent_by_request_id(h: Harness) -> None:
    request_id = f"portal-{uuid.uuid4().hex[:12]}"
    first, handle = await h.submit(request_id=request_id)
    again, _ = await h.submit(request_id=request_id)
    # The same request ID for another request: refused, not answered with the first.
    with pytest.raises(IntakeConflict):
        await h.submit(request_id=request_id, title="Ein anderer Titel")
    other, _ = await h.submit()
    anonymous = [(await h.submit(request_id=None))[0] for _ in range(2)]

    assert first.created and not again.created
    assert again.change_request_id == first.change_request_id
    assert other.created and other.change_request_id != first.change_request_id
    assert all(r.created for r in anonymous)
    ids = {
        first.change_request_id,
        other.change_request_id,
        *(r.change_request_id for r in anonymous),
    }
    assert len(ids) == 4
    # The repeated submission started nothing: the first request stands.
    view = await h.with_dev_ticket(handle)
    assert view.title == "CSV-Export der Sendungsliste"


async def test_an_invalid_request_is_refused_naming_each_field(h: Harness) -> None:
    with pytest.raises(IntakeError) as info:
        await submit_change_request(
            h.client,
            change_request(email="keine-adresse", title=None, full_name="Erika"),
            task_queue=h.task_queue,
        )
    message = str(info.value)
    for fragment in ("email: not an e-mail address", "title: required", "full_name"):
        assert fragment in message, message
    with pytest.raises(IntakeError, match="not valid JSON"):
        await submit_change_request(h.client, "{kein json", task_queue=h.task_queue)


# -- the development ticket ------------------------------------------------------------------


class LostReplyTracker(SqliteDevTicketTracker):
    """Creates the ticket, then fails once as if the reply had been lost on the way back."""

    attempts = 0

    async def create(self, ticket: NewDevTicket) -> DevTicket:
        LostReplyTracker.attempts += 1
        created = await super().create(ticket)
        if LostReplyTracker.attempts == 1:
            raise ConnectionResetError("tracker reply lost")
        return created


async def test_a_retried_create_returns_the_same_dev_ticket(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    tracker = LostReplyTracker.in_data_dir(stack.data_dir)
    assert isinstance(tracker, LostReplyTracker)
    notifications = NotificationActivities(
        OutboxMailer(stack.outbox), MessageRenderer(), "Support <support@myconvento.com>"
    )
    dev_tickets = DevTicketActivities(tracker)
    task_queue = f"tq-{uuid.uuid4()}"
    harness = Harness(time_env.client, task_queue, stack)
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[ChangeRequestWorkflow],
        activities=[
            dev_tickets.create_dev_ticket,
            dev_tickets.transition_dev_ticket,
            notifications.send_message,
        ],
        workflow_runner=workflow_runner(),
    ):
        try:
            _, handle = await harness.submit()
            await skip_time(time_env, timedelta(seconds=5))  # past the first retry interval
            view = await harness.with_dev_ticket(handle)
            assert view.dev_ticket_id == "DEV-0001"
            assert LostReplyTracker.attempts == 2
            assert [t.id for t in tracker.all_sync()] == ["DEV-0001"]
        finally:
            await harness.cleanup()


class DownTracker(SqliteDevTicketTracker):
    """A tracker that is unreachable until ``up`` is set."""

    up = False
    refused = 0

    async def create(self, ticket: NewDevTicket) -> DevTicket:
        if not DownTracker.up:
            DownTracker.refused += 1
            raise ConnectionRefusedError("tracker unreachable")
        return await super().create(ticket)


async def test_a_tracker_outage_is_recorded_after_the_give_up_time_and_the_create_goes_on(
    dev_stack: Stack,
) -> None:
    # The change request cannot go on without its ticket: after each give-up
    # period the failure is recorded (visible to operators), and creating goes
    # on until the tracker is back. On the dev server with a give-up time of
    # seconds: many retries while the time-skipping server skips hours could
    # not skip on a loaded machine ("Timeout expired"), and a workflow left
    # retrying stopped it from skipping for every later test.
    DownTracker.up = False
    DownTracker.refused = 0
    tracker = DownTracker.in_data_dir(dev_stack.data_dir)
    assert isinstance(tracker, DownTracker)
    notifications = NotificationActivities(
        OutboxMailer(dev_stack.outbox), MessageRenderer(), "Support <support@myconvento.com>"
    )
    dev_tickets = DevTicketActivities(tracker)
    # The archive of the worker's data dir: the submission reaches it while
    # the tracker is still down (the run sends it before asking the tracker).
    archive_url = f"sqlite:///{dev_stack.data_dir / 'outage-archive.sqlite3'}"
    archive = ArchiveActivities(LazyArchive(partial(embedded_store, archive_url)))
    task_queue = f"tq-{uuid.uuid4()}"
    client = dev_stack.client
    harness = Harness(client, task_queue, dev_stack)
    policy = SlaPolicy.default().model_copy(
        update={"effects": EffectsPolicy(give_up_after=timedelta(seconds=3))}
    )
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ChangeRequestWorkflow],
        activities=[
            dev_tickets.create_dev_ticket,
            dev_tickets.transition_dev_ticket,
            notifications.send_message,
            archive.append,
        ],
        workflow_runner=workflow_runner(),
    ):
        try:
            receipt = await submit_change_request(
                client, change_request(), task_queue=task_queue, policy=policy
            )
            harness.started.append(receipt.change_request_id)
            handle = client.get_workflow_handle_for(
                ChangeRequestWorkflow.run, receipt.change_request_id
            )

            async def recorded() -> None:
                view = await handle.query(ChangeRequestWorkflow.view)
                failures = [e for e in view.events if e.type == "tracker_not_updated"]
                assert failures and failures[0].action == "create", view.events
                assert "gave up after" in failures[0].error
                assert "tracker unreachable" in failures[0].error

            await eventually(recorded, seconds=60)
            store = ArchiveStore.from_url(archive_url)
            try:
                submitted = store.get(receipt.change_request_id)
            finally:
                store.close()
            assert [e.type for e in submitted.events][:1] == ["submitted"]
            DownTracker.up = True
            # Real time: the next attempt comes after the current retry's backoff.
            view = await harness.with_dev_ticket(handle, seconds=60)
            assert view.dev_ticket_id == "DEV-0001"  # one ticket, created once it is back
            assert DownTracker.refused >= 2
        finally:
            DownTracker.up = True
            await harness.cleanup()
            archive.close()


async def test_link_bug_creates_one_bug_ticket_per_incident_and_reuses_named_ones(
    stack: Stack,
) -> None:
    async def link(**fields: Any) -> DevTicket:
        return await stack.client.execute_workflow(
            LinkBugWorkflow.run,
            IncidentLink(**fields),
            id=f"link-{uuid.uuid4()}",
            task_queue=stack.task_queue,
        )

    bug = await link(ticket_id="INC-20261124-AAAAAA", title="Export bricht bei Umlauten ab")
    again = await link(ticket_id="INC-20261124-AAAAAA", title="Export bricht bei Umlauten ab")
    second = await link(ticket_id="INC-20261124-BBBBBB", dev_ticket_id=bug.id)

    assert bug.kind is DevTicketKind.BUG and bug.id == "DEV-0001"
    assert again.id == bug.id
    assert second.id == bug.id
    assert second.links == ("INC-20261124-AAAAAA", "INC-20261124-BBBBBB")
    assert [t.id for t in ledger(stack).all_sync()] == ["DEV-0001"]

    with pytest.raises(WorkflowFailureError) as info:
        await link(ticket_id="INC-20261124-CCCCCC", dev_ticket_id="DEV-0099")
    failure = info.value.cause
    assert isinstance(failure, ActivityError)
    assert isinstance(failure.cause, ApplicationError)
    assert failure.cause.type == UNKNOWN_DEV_TICKET
    assert "DEV-0099" in failure.cause.message


# -- search attributes (dev server) ----------------------------------------------------------


async def test_search_attributes_follow_the_lifecycle(dev_stack: Stack) -> None:
    h = Harness(dev_stack.client, dev_stack.task_queue, dev_stack)
    try:
        receipt, handle = await h.submit(company="Suchtest Änderung GmbH")
        cr = receipt.change_request_id

        async def listed(query: str) -> None:
            found = [
                w async for w in dev_stack.client.list_workflows(f"WorkflowId = '{cr}' AND {query}")
            ]
            assert len(found) == 1, query

        await eventually(lambda: listed("Company = 'Suchtest Änderung GmbH'"))
        await eventually(lambda: listed("DevTicket = 'DEV-0001' AND LifecycleState = 'submitted'"))
        await handle.execute_update(ChangeRequestWorkflow.discuss, Discuss(note="Prüfen."))
        await eventually(lambda: listed("LifecycleState = 'under_discussion'"))
        await handle.execute_update(ChangeRequestWorkflow.plan, PlanRelease(release="2027.1"))
        await handle.result()
        await eventually(lambda: listed("LifecycleState = 'planned'"))
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(names.LIFECYCLE_STATE) == "planned"
        assert attributes.get(names.DEV_TICKET) == "DEV-0001"
        assert attributes.get(names.COMPANY) == "Suchtest Änderung GmbH"
    finally:
        await h.cleanup()
