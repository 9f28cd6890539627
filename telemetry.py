"""Observability of the worker: Prometheus metrics, optional OpenTelemetry tracing, log format.

Configuration (docs/OBSERVABILITY.md):

* ``SLA_METRICS_PORT``: serve Prometheus metrics (the SDK's ``temporal_*`` and
  our ``sla_*`` counters) on ``http://SLA_METRICS_HOST:SLA_METRICS_PORT/metrics``;
  unset or empty, there is no metrics endpoint.
* ``SLA_METRICS_HOST``: address to bind (default ``0.0.0.0``).
* ``SLA_LOG_FORMAT``: ``text`` (default, human-readable) or ``json`` (one JSON
  object per line, with the SDK's workflow and activity context).
* ``OTEL_EXPORTER_OTLP_ENDPOINT``: trace workflows and activities with the SDK's
  OpenTelemetry ``TracingInterceptor`` and export spans by OTLP. Needs the
  ``otel`` extra (``pip install 'sla-engine[otel]'``); without it the worker
  logs a warning and runs untraced. The standard ``OTEL_*`` variables apply
  (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_PROTOCOL`` = ``http/protobuf``
  or ``grpc``, headers, timeouts).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any

from temporalio import activity, workflow
from temporalio.client import Interceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("sla.telemetry")

DEFAULT_METRICS_HOST = "0.0.0.0"  # scraped from outside the container
DEFAULT_SERVICE_NAME = "sla-worker"
TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CORE_LOGGER = "temporalio.core"
"""Python logger that receives the SDK core's (Rust) log lines."""


class LogFormat(StrEnum):
    """Values of ``SLA_LOG_FORMAT``."""

    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class TelemetrySettings:
    """What the worker's observability reads from the environment."""

    metrics_address: str | None = None
    """``host:port`` of the Prometheus endpoint, or ``None`` for none."""

    log_format: LogFormat = LogFormat.TEXT
    otlp_endpoint: str | None = None
    """Where spans go (``OTEL_EXPORTER_OTLP_ENDPOINT``), or ``None`` for no tracing."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetrySettings:
        """Read the variables in the module docstring.

        Args:
            env: The environment (default ``os.environ``).

        Raises:
            ValueError: ``SLA_METRICS_PORT`` is not a port number, or
                ``SLA_LOG_FORMAT`` is neither ``text`` nor ``json``; the message
                names the variable.
        """
        env = os.environ if env is None else env
        return cls(
            metrics_address=metrics_address(env),
            log_format=log_format(env),
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None,
        )


def metrics_address(env: Mapping[str, str]) -> str | None:
    """The Prometheus bind address from ``SLA_METRICS_PORT`` / ``SLA_METRICS_HOST``.

    Args:
        env: The environment.

    Returns:
        ``host:port`` (IPv6 hosts in brackets), or ``None`` when the port is unset or empty.

    Raises:
        ValueError: The port is not a number from 1 to 65535.
    """
    port_text = env.get("SLA_METRICS_PORT", "").strip()
    if not port_text:
        return None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"SLA_METRICS_PORT must be a port number (1-65535), got {port_text!r}")
    host = env.get("SLA_METRICS_HOST", "").strip() or DEFAULT_METRICS_HOST
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{int(port_text)}"


def log_format(env: Mapping[str, str]) -> LogFormat:
    """The log format from ``SLA_LOG_FORMAT`` (default ``text``).

    Raises:
        ValueError: The value is neither ``text`` nor ``json``.
    """
    text = env.get("SLA_LOG_FORMAT", "").strip().lower() or LogFormat.TEXT.value
    try:
        return LogFormat(text)
    except ValueError:
        choices = ", ".join(f.value for f in LogFormat)
        raise ValueError(f"SLA_LOG_FORMAT must be one of {choices}, got {text!r}") from None


# -- logs ---------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came in as `extra`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# The core's raw log entry (its fields are already part of the message).
_SKIPPED_EXTRAS = frozenset({"temporal_log"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, then any extras.

    The SDK's ``workflow.logger`` and ``activity.logger`` put ``temporal_workflow``
    and ``temporal_activity`` dicts (IDs, type, attempt, task queue …) into the
    record's extras; they appear as keys of the same names. Values JSON cannot
    hold are written as their ``str``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as one line of JSON."""
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in _SKIPPED_EXTRAS:
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    settings: TelemetrySettings | None = None,
    *,
    level: int = logging.INFO,
    stream: IO[str] | None = None,
) -> None:
    """Set up the root logger for a worker process (replaces its handlers).

    In JSON mode the SDK loggers stop appending their context dict to the
    message text: it is in the ``temporal_workflow`` / ``temporal_activity``
    keys already.

    Args:
        settings: Default :meth:`TelemetrySettings.from_env`.
        level: Root log level.
        stream: Where log lines go (default ``sys.stderr``).
    """
    settings = settings or TelemetrySettings.from_env()
    handler = logging.StreamHandler(stream or sys.stderr)
    json_lines = settings.log_format is LogFormat.JSON
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    workflow.logger.workflow_info_on_message = not json_lines
    activity.logger.activity_info_on_message = not json_lines


# -- runtime and tracing --------------------------------------------------------


def build_runtime(settings: TelemetrySettings) -> Runtime:
    """The SDK runtime: Prometheus endpoint when configured; core logs forwarded to Python.

    Forwarding the core's log lines to the ``temporalio.core`` logger gives them
    the same format (text or JSON) as ours.

    Args:
        settings: The telemetry settings.

    Raises:
        ValueError: The Prometheus endpoint cannot bind its address (e.g. the
            port is taken); the message names ``SLA_METRICS_PORT``.
    """
    metrics = (
        PrometheusConfig(bind_address=settings.metrics_address)
        if settings.metrics_address
        else None
    )
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
    try:
        return Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))
    except ValueError as error:
        raise ValueError(
            f"cannot serve metrics on {settings.metrics_address} "
            f"(SLA_METRICS_HOST/SLA_METRICS_PORT): {error}"
        ) from error


def tracing(
    settings: TelemetrySettings, env: Mapping[str, str] | None = None
) -> tuple[list[Interceptor], Callable[[], None]]:
    """The OpenTelemetry interceptor and a function that flushes and stops the exporter.

    Workflow spans are created even when the starter sent no trace context
    (intake and the CLI do not trace), so every incident gets its own trace.

    Args:
        settings: The telemetry settings; tracing is off without ``otlp_endpoint``.
        env: The environment (default ``os.environ``) for ``OTEL_SERVICE_NAME``
            and ``OTEL_EXPORTER_OTLP_PROTOCOL``.

    Returns:
        ``([], no-op)`` when tracing is off or the ``otel`` extra is missing
        (then with a warning log).
    """
    if settings.otlp_endpoint is None:
        return [], _nothing
    env = os.environ if env is None else env
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as error:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry is not installed (%s): "
            "tracing is off. Install the extra: pip install 'sla-engine[otel]'",
            error,
        )
        return [], _nothing
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    ).strip() or "http/protobuf"
    try:
        exporter = _otlp_exporter(protocol, _traces_endpoint(settings.otlp_endpoint, protocol, env))
    except ImportError as error:
        log.warning(
            "no OTLP exporter for protocol %r (%s): tracing is off. "
            "Install the extra: pip install 'sla-engine[otel]'",
            protocol,
            error,
        )
        return [], _nothing
    service = env.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    interceptor = TracingInterceptor(
        provider.get_tracer("sla-engine"), always_create_workflow_spans=True
    )
    log.info("tracing to %s (%s)", settings.otlp_endpoint, protocol)
    return [interceptor], provider.shutdown


def _traces_endpoint(endpoint: str, protocol: str, env: Mapping[str, str]) -> str:
    # As the OTLP exporter spec says: a signal-specific URL as it is, else
    # /v1/traces under the base URL (HTTP) or the base URL itself (gRPC).
    if traces := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        return traces
    return endpoint if protocol == "grpc" else endpoint.rstrip("/") + "/v1/traces"


def _otlp_exporter(protocol: str, endpoint: str) -> SpanExporter:
    # Headers, timeouts, TLS and compression come from the OTEL_* variables.
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        exporter: SpanExporter = GrpcSpanExporter(endpoint=endpoint)  # not in the `otel` extra
        return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=endpoint)


def _nothing() -> None:
    return None


@dataclass
class Telemetry:
    """The worker's runtime and interceptors, built once per process."""

    settings: TelemetrySettings
    runtime: Runtime
    interceptors: Sequence[Interceptor] = ()
    _shutdown: Callable[[], None] = field(default=_nothing, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Telemetry:
        """Settings from ``env`` (default ``os.environ``), runtime and tracing from them.

        Raises:
            ValueError: A variable is invalid or the metrics port cannot be bound.
        """
        settings = TelemetrySettings.from_env(env)
        runtime = build_runtime(settings)
        interceptors, shutdown = tracing(settings, env)
        if settings.metrics_address:
            log.info("Prometheus metrics on http://%s/metrics", settings.metrics_address)
        return cls(settings, runtime, tuple(interceptors), shutdown)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Client.connect`` (and ``workflows.client.connect``)."""
        return {"runtime": self.runtime, "interceptors": list(self.interceptors)}

    def shutdown(self) -> None:
        """Flush and stop the span exporter (no-op without tracing)."""
        self._shutdown()
