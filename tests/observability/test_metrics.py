"""Our counters: incident events → ``sla_*`` increments, e-mail counters, the Prometheus endpoint.

The mapping and the e-mail counters are checked against the SDK's ``MetricBuffer``
(no server). One test runs a real worker on its own time-skipping server whose
runtime serves Prometheus on a free loopback port, and scrapes it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    MetricBuffer,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from workflows.converter import sla_data_converter

with workflow.unsafe.imports_passed_through():
    from activities.mail import DeliveryReport
    from activities.notifications import (
        EMAILS_FAILED,
        EMAILS_SENT,
        NotificationActivities,
    )
    from activities.rendering import MessageRenderer
    from domain.events import EscalationTrigger, Event
    from domain.incident import (
        Acknowledge,
        BreachReaction,
        BreachResolution,
        Command,
        Escalate,
        Escalated,
        IncidentState,
        MissEstimate,
        OpenIncident,
        ReactionBreached,
        Resolve,
        decide,
        fold,
    )
    from domain.messages import OutgoingMessage
    from domain.report import IncidentReport
    from domain.sla import Severity, SlaPolicy
    from tests.conftest import report
    from tests.observability.probes import MetricsProbe
    from tests.servers import installed_binary
    from workflows.metrics import (
        BREACHES,
        ESCALATIONS,
        INCIDENTS_OPENED,
        Increment,
        incident_metric_increments,
        record_incident_metrics,
    )
    from workflows.sandbox import workflow_runner

POLICY = SlaPolicy.default()
RECEIVED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin
OUR_LABELS = ("severity", "kind", "stage", "reason")


def buffered() -> tuple[MetricBuffer, Runtime]:
    buffer = MetricBuffer(1000)
    return buffer, Runtime(telemetry=TelemetryConfig(metrics=buffer))


def totals(buffer: MetricBuffer) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """Counter deltas per (name, our labels); SDK-added attributes are left out."""
    result: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for update in buffer.retrieve_updates():
        if not update.metric.name.startswith("sla_"):
            continue
        labels = tuple(sorted((k, str(v)) for k, v in update.attributes.items() if k in OUR_LABELS))
        result[(update.metric.name, labels)] += int(update.value)
    return result


def lifecycle() -> Iterator[tuple[IncidentState | None, list[Event]]]:
    """A critical incident run the way the workflow runs it: (state before, events) per command."""
    state: IncidentState | None = None
    opened = OpenIncident(
        ticket_id="INC-20261124-METRIC",
        report=IncidentReport.model_validate(report(login_impossible=True)),
        received_at=RECEIVED,
        deadlines=POLICY.all_deadlines(RECEIVED),
    )
    steps: list[tuple[Command, datetime | None]] = [
        (opened, RECEIVED),
        (BreachReaction(), None),  # at the critical reaction deadline
        (
            Acknowledge(severity=Severity.MAJOR, estimate=RECEIVED + timedelta(hours=4)),
            RECEIVED + timedelta(hours=2),
        ),
        (MissEstimate(), RECEIVED + timedelta(hours=4)),  # stage 1
        (Escalate(stage=3, reason="Hersteller-Support nötig"), RECEIVED + timedelta(hours=5)),
        (BreachResolution(), None),  # at the (major) resolution deadline
        (Resolve(summary="Index neu aufgebaut"), None),
    ]
    for command, at in steps:
        if at is None:
            assert state is not None
            at = (
                state.reaction_due
                if isinstance(command, BreachReaction)
                else state.resolution_due + timedelta(minutes=1)
            )
        events = decide(state, command, at)
        yield state, list(events)
        state = fold(state, events)


def test_incident_events_map_to_counters_with_the_severity_in_force() -> None:
    buffer, runtime = buffered()
    for before, events in lifecycle():
        # Exactly the call the incident workflow makes in `_apply`.
        record_incident_metrics(
            events,
            severity=before.severity if before else None,
            meter=runtime.metric_meter,
        )

    assert totals(buffer) == {
        (INCIDENTS_OPENED, (("severity", "critical"),)): 1,
        (BREACHES, (("kind", "reaction"), ("severity", "critical"))): 1,
        (BREACHES, (("kind", "resolution"), ("severity", "major"))): 1,
        (ESCALATIONS, (("stage", "1"),)): 1,
        (ESCALATIONS, (("stage", "3"),)): 1,
    }


def test_breach_without_known_severity_is_labelled_unknown() -> None:
    events = [ReactionBreached(at=RECEIVED, due=RECEIVED)]
    assert list(incident_metric_increments(events)) == [
        Increment(BREACHES, {"kind": "reaction", "severity": "unknown"})
    ]


def test_events_that_count_nothing_do_not_touch_the_meter() -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"meter used: {name}")

    record_incident_metrics([], meter=Untouchable())  # type: ignore[arg-type]


# -- e-mail counters ---------------------------------------------------------------


class FakeRenderer(MessageRenderer):
    def render_message(self, message: OutgoingMessage) -> tuple[str, str]:
        return "Betreff", "Text"


class ScriptedMailer:
    """Answers each send with the next scripted outcome."""

    def __init__(self, *outcomes: DeliveryReport | Exception) -> None:
        self.outcomes = list(outcomes)

    async def send(self, message: EmailMessage) -> DeliveryReport:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def message(kind: str = "maintenance_announcement") -> OutgoingMessage:
    return OutgoingMessage(
        template="maintenance_announcement",
        message_id=f"<{uuid.uuid4().hex}@sla.test>",
        to=("it@beispiel-versand.de",),
        date=RECEIVED,
        kind=kind,
    )


async def test_email_counters_count_every_attempt_by_outcome() -> None:
    buffer, runtime = buffered()
    mailer = ScriptedMailer(
        DeliveryReport(where="outbox"),
        ConnectionRefusedError("smtp down"),
        ApplicationError("550", type="PermanentDeliveryError", non_retryable=True),
        ApplicationError("535", type="SmtpConfigurationError", non_retryable=True),
        DeliveryReport(where="smtp", refused={"x@y.de": "550 no such user"}),
    )
    activities = NotificationActivities(mailer, FakeRenderer(), "Support <s@myconvento.com>")
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    outcomes = []
    for _ in range(5):
        try:
            await env.run(activities.send_message, message())
            outcomes.append("sent")
        except Exception as error:  # re-raised unchanged for Temporal to retry or fail
            outcomes.append(type(error).__name__)

    assert outcomes == [
        "sent",
        "ConnectionRefusedError",
        "ApplicationError",
        "ApplicationError",
        "sent",
    ]

    assert totals(buffer) == {
        (EMAILS_SENT, (("kind", "maintenance_announcement"),)): 2,
        (EMAILS_FAILED, (("reason", "transient"),)): 1,
        (EMAILS_FAILED, (("reason", "permanent"),)): 1,
        (EMAILS_FAILED, (("reason", "configuration"),)): 1,
        (EMAILS_FAILED, (("reason", "recipients_refused"),)): 1,
    }


# -- the Prometheus endpoint, end to end ----------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> list[Sample]:
    """Samples of the Prometheus text format (comments skipped)."""
    samples = []
    for line in text.splitlines():
        if match := _SAMPLE.match(line):
            name, labels, value = match.groups()
            samples.append(Sample(name, dict(_LABEL.findall(labels or "")), float(value)))
    return samples


def find(samples: list[Sample], name: str, labels: dict[str, str]) -> list[Sample]:
    return [
        s
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
        return text


async def test_prometheus_endpoint_serves_sdk_and_sla_metrics() -> None:
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    env = await WorkflowEnvironment.start_time_skipping(
        runtime=runtime,
        data_converter=sla_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    try:
        task_queue = f"tq-{uuid.uuid4()}"
        activities = NotificationActivities(
            ScriptedMailer(DeliveryReport(where="outbox")), FakeRenderer(), "s@myconvento.com"
        )
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[MetricsProbe],
            activities=[activities.send_message],
            workflow_runner=workflow_runner(),
        ):
            handle = await env.client.start_workflow(
                MetricsProbe.run,
                "it@beispiel-versand.de",
                id=f"probe-{uuid.uuid4()}",
                task_queue=task_queue,
                execution_timeout=timedelta(seconds=30),
            )
            assert await handle.result() == "outbox"
        history = await handle.fetch_history()

        wanted = [
            (
                "sla_emails_sent",
                {"kind": "maintenance_announcement", "activity_type": "send_message"},
            ),
            ("sla_escalations", {"stage": "1", "workflow_type": "MetricsProbe"}),
            ("sla_breaches", {"kind": "reaction", "severity": "critical"}),
            ("temporal_workflow_completed", {"workflow_type": "MetricsProbe"}),
            ("temporal_request", {}),
        ]
        samples: list[Sample] = []
        for _ in range(50):  # the SDK exports on scrape; its workers report asynchronously
            samples = parse(await asyncio.to_thread(scrape, port))
            if all(find(samples, name, labels) for name, labels in wanted):
                break
            await asyncio.sleep(0.1)
        missing = [(name, labels) for name, labels in wanted if not find(samples, name, labels)]
        assert not missing, f"missing {missing} in {samples}"
        for name in ("sla_emails_sent", "sla_escalations", "sla_breaches"):
            (sample,) = find(samples, name, {"task_queue": task_queue})
            assert sample.value == 1
    finally:
        await env.shutdown()

    # Replaying the same history (worker restart, cache eviction) counts nothing again.
    buffer, replay_runtime = buffered()
    await Replayer(
        workflows=[MetricsProbe],
        workflow_runner=workflow_runner(),
        data_converter=sla_data_converter,
        runtime=replay_runtime,
    ).replay_workflow(history)
    assert totals(buffer) == {}


@pytest.mark.parametrize("stage", [1, 2, 3, "extended"])
def test_escalation_stage_label_is_the_stage_text(stage: int | str) -> None:
    event = Escalated(
        at=RECEIVED,
        stage=stage,
        previous=0,
        trigger=EscalationTrigger.OPERATOR,
        reason="r",
    )
    assert list(incident_metric_increments([event])) == [
        Increment(ESCALATIONS, {"stage": str(stage)})
    ]
