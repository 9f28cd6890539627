"""telemetry.py: environment parsing, JSON log lines, the runtime and optional tracing."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from telemetry import (
        JsonFormatter,
        LogFormat,
        Telemetry,
        TelemetrySettings,
        build_runtime,
        configure_logging,
        log_format,
        metrics_address,
        tracing,
    )
    from tests.observability.probes import TracedProbe, traced_activity
    from workflows.sandbox import workflow_runner

# -- environment ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "address"),
    [
        ({}, None),
        ({"SLA_METRICS_PORT": ""}, None),
        ({"SLA_METRICS_PORT": "  "}, None),
        ({"SLA_METRICS_HOST": "127.0.0.1"}, None),  # a host alone serves nothing
        ({"SLA_METRICS_PORT": "9464"}, "0.0.0.0:9464"),
        ({"SLA_METRICS_PORT": " 9464 ", "SLA_METRICS_HOST": "127.0.0.1"}, "127.0.0.1:9464"),
        ({"SLA_METRICS_PORT": "9464", "SLA_METRICS_HOST": ""}, "0.0.0.0:9464"),
        ({"SLA_METRICS_PORT": "9464", "SLA_METRICS_HOST": "::"}, "[::]:9464"),
        ({"SLA_METRICS_PORT": "9464", "SLA_METRICS_HOST": "[::1]"}, "[::1]:9464"),
    ],
)
def test_metrics_address_from_port_and_host(env: dict[str, str], address: str | None) -> None:
    assert metrics_address(env) == address


@pytest.mark.parametrize("port", ["abc", "-1", "0", "65536", "9464.0", "0x10"])
def test_invalid_metrics_port_is_refused_naming_the_variable(port: str) -> None:
    with pytest.raises(ValueError, match=r"SLA_METRICS_PORT must be a port number.*"):
        metrics_address({"SLA_METRICS_PORT": port})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", LogFormat.TEXT), ("text", LogFormat.TEXT), ("json", LogFormat.JSON), ("JSON", "json")],
)
def test_log_format_from_env(value: str, expected: LogFormat) -> None:
    assert log_format({"SLA_LOG_FORMAT": value}) == expected


def test_unknown_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="SLA_LOG_FORMAT must be one of text, json, got 'xml'"):
        log_format({"SLA_LOG_FORMAT": "xml"})


def test_settings_from_env() -> None:
    settings = TelemetrySettings.from_env(
        {
            "SLA_METRICS_PORT": "9464",
            "SLA_LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        }
    )
    assert settings == TelemetrySettings(
        metrics_address="0.0.0.0:9464",
        log_format=LogFormat.JSON,
        otlp_endpoint="http://collector:4318",
    )
    assert TelemetrySettings.from_env({}) == TelemetrySettings()


def test_taken_metrics_port_fails_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ValueError, match=r"cannot serve metrics on 127\.0\.0\.1:\d+ \(SLA_"):
            build_runtime(TelemetrySettings(metrics_address=address))


def test_no_tracing_without_an_endpoint() -> None:
    telemetry = Telemetry.from_env({})
    assert telemetry.interceptors == ()
    assert telemetry.client_options() == {"runtime": telemetry.runtime, "interceptors": []}
    telemetry.shutdown()


# -- logs ------------------------------------------------------------------------------


def json_line(record: logging.LogRecord) -> dict[str, Any]:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_json_line_has_timestamp_level_logger_message_and_extras() -> None:
    record = logging.getLogger("sla.test").makeRecord(
        "sla.test",
        logging.WARNING,
        __file__,
        1,
        "Frist für %s verpasst",
        ("INC-1",),
        None,
        extra={"ticket_id": "INC-1", "unserialisable": object()},
    )
    entry = json_line(record)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "sla.test"
    assert entry["message"] == "Frist für INC-1 verpasst"
    assert entry["timestamp"].endswith("+00:00")
    assert entry["ticket_id"] == "INC-1"
    assert entry["unserialisable"].startswith("<object object")
    assert not {"args", "msg", "levelno", "pathname"} & entry.keys()


def test_json_line_carries_the_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("sla.test").makeRecord(
            "sla.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    assert "RuntimeError: boom" in json_line(record)["exception"]


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    on_message = (
        workflow.logger.workflow_info_on_message,
        activity.logger.activity_info_on_message,
    )
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = on_message


@activity.defn
async def logging_activity(text: str) -> None:
    activity.logger.info("sending %s", text)


@pytest.mark.usefixtures("restored_logging")
async def test_json_logs_carry_the_activity_context_once() -> None:
    stream = io.StringIO()
    configure_logging(TelemetrySettings(log_format=LogFormat.JSON), stream=stream)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="send_notification", attempt=2)
    await env.run(logging_activity, "receipt")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (entry,) = [e for e in lines if e["logger"] == "temporalio.activity"]
    assert entry["level"] == "INFO"
    assert entry["message"] == "sending receipt"  # context not repeated in the text
    assert entry["temporal_activity"]["activity_type"] == "send_notification"
    assert entry["temporal_activity"]["attempt"] == 2
    assert entry["temporal_activity"]["workflow_id"] == env.info.workflow_id


@pytest.mark.usefixtures("restored_logging")
def test_text_logs_stay_human_readable() -> None:
    stream = io.StringIO()
    configure_logging(TelemetrySettings(), stream=stream)
    logging.getLogger("sla.worker").info("worker on task queue %s", "sla")
    assert stream.getvalue().endswith(" INFO sla.worker: worker on task queue sla\n")
    assert workflow.logger.workflow_info_on_message


# -- tracing ---------------------------------------------------------------------------


def test_endpoint_without_opentelemetry_installed_warns_and_runs_untraced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A None entry in sys.modules makes `import` raise ImportError, like a missing package.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with caplog.at_level(logging.WARNING, logger="sla.telemetry"):
        interceptors, shutdown = tracing(
            TelemetrySettings(otlp_endpoint="http://127.0.0.1:4318"), {}
        )
    assert interceptors == []
    shutdown()
    (message,) = [r.getMessage() for r in caplog.records]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry is not installed" in message
    assert "sla-engine[otel]" in message


class OtlpCollector(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP trace exports and keeps their (protobuf) bodies."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    OtlpCollector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), OtlpCollector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", OtlpCollector.bodies
    server.shutdown()
    server.server_close()


async def test_spans_of_workflow_and_activity_reach_the_otlp_endpoint(
    time_env: WorkflowEnvironment, collector: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = collector
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "sla-test"}
    interceptors, shutdown = tracing(TelemetrySettings.from_env(env), env)
    assert len(interceptors) == 1
    # The interceptor on the client reaches the worker built from it, as in worker.py.
    config = time_env.client.config()
    config["interceptors"] = interceptors
    client = Client(**config)
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TracedProbe],
        activities=[traced_activity],
        workflow_runner=workflow_runner(),
    ):
        result = await client.execute_workflow(
            TracedProbe.run, "ok", id=f"traced-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "OK"
    shutdown()  # flushes the batch to the collector

    exported = b"".join(bodies)
    for span in (b"StartWorkflow:TracedProbe", b"RunWorkflow:TracedProbe", b"RunActivity:"):
        assert span in exported, span
    assert b"sla-test" in exported  # OTEL_SERVICE_NAME names the service
