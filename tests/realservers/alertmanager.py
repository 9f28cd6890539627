"""The real Debian ``prometheus-alertmanager`` for tests, sending webhooks to a URL of ours.

Usage (the webhook receiver must already listen on ``url``)::

    async with running_alertmanager(webhook_url=url, bearer_token=token) as am:
        alert = am.alert("DiskFull", labels={"severity": "critical"},
                         annotations={"summary": "Platte voll"})
        await am.post_alerts([alert])      # first notification after group_wait
        ...
        await am.resolve([alert])          # "resolved" notification after group_interval

Each instance runs in its own temporary directory (configuration, notification
log, silences) on a free loopback port with clustering off, so tests neither
share state nor wait for a gossip cluster to settle. The binary is never
downloaded: CI installs the Debian package with ``tests/realservers/ensure_debian.sh
alertmanager prometheus-alertmanager /usr/bin/prometheus-alertmanager``; where it
cannot, :func:`alertmanager_or_skip` skips with the reason that script wrote.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

BINARY = "/usr/bin/prometheus-alertmanager"
REASON_FILE = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "alertmanager-unavailable.txt"
)
RECEIVER = "sla-engine"

GROUP_WAIT = timedelta(seconds=1)
"""Wait before a new group's first notification (collects the alerts posted together)."""
GROUP_INTERVAL = timedelta(seconds=2)
"""Wait before notifying a changed group again (new alerts, resolved alerts)."""
REPEAT_INTERVAL = timedelta(hours=1)
"""Wait before repeating an unchanged notification: never within a test."""
STARTUP_TIMEOUT = 20.0
"""Seconds to wait for ``/-/ready`` (a loaded 2-core CI machine may take a while)."""


def alertmanager_or_skip() -> str:
    """The path of ``prometheus-alertmanager``, or skip the test saying why it is missing."""
    found = BINARY if Path(BINARY).is_file() else shutil.which("prometheus-alertmanager")
    if found is not None:
        return found
    try:
        reason = REASON_FILE.read_text("utf-8").strip()
    except OSError:
        reason = ""
    pytest.skip(f"prometheus-alertmanager unavailable: {reason or 'not installed'}")


def _duration(value: timedelta) -> str:
    # Prometheus durations take no fractions ("1.5s"); milliseconds are exact.
    return f"{round(value.total_seconds() * 1000)}ms"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _timestamp(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Alertmanager:
    """One ``prometheus-alertmanager`` process with a single webhook route.

    The route groups by ``alertname`` and sends resolved notifications, with
    ``Authorization: Bearer <bearer_token>``, to ``webhook_url``.

    Attributes:
        base_url: Alertmanager's own address (``http://127.0.0.1:PORT``); also
            the ``externalURL`` of its notifications.
        directory: Its working directory (configuration, data, ``alertmanager.log``).
    """

    def __init__(
        self,
        *,
        webhook_url: str,
        bearer_token: str,
        directory: Path,
        binary: str | None = None,
        group_wait: timedelta = GROUP_WAIT,
        group_interval: timedelta = GROUP_INTERVAL,
        repeat_interval: timedelta = REPEAT_INTERVAL,
        max_alerts: int = 0,
    ) -> None:
        self.binary = binary or alertmanager_or_skip()
        self.directory = directory
        self.webhook_url = webhook_url
        self.bearer_token = bearer_token
        self.timings = {
            "group_wait": _duration(group_wait),
            "group_interval": _duration(group_interval),
            "repeat_interval": _duration(repeat_interval),
        }
        self.max_alerts = max_alerts
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._client = httpx.AsyncClient(timeout=10.0, trust_env=False)

    @property
    def config_file(self) -> Path:
        """The configuration written at :meth:`start`."""
        return self.directory / "alertmanager.yml"

    @property
    def log_file(self) -> Path:
        """Where the process writes its log (stdout and stderr)."""
        return self.directory / "alertmanager.log"

    def config(self) -> dict[str, Any]:
        """The Alertmanager configuration (written as JSON, which YAML reads)."""
        return {
            "route": {"receiver": RECEIVER, "group_by": ["alertname"], **self.timings},
            "receivers": [
                {
                    "name": RECEIVER,
                    "webhook_configs": [
                        {
                            "url": self.webhook_url,
                            "send_resolved": True,
                            "max_alerts": self.max_alerts,
                            "http_config": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials": self.bearer_token,
                                }
                            },
                        }
                    ],
                }
            ],
        }

    async def start(self) -> None:
        """Start the process and wait until ``/-/ready`` answers.

        Raises:
            RuntimeError: It exited or did not get ready (the message carries its log).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(self.config(), indent=2), "utf-8")
        # The free port may be taken between probing and binding: try another.
        for attempt in range(3):
            port = _free_port()
            self.base_url = f"http://127.0.0.1:{port}"
            self._launch(port)
            if await self._wait_ready():
                return
            address_taken = "address already in use" in self.log()
            self._terminate()
            if not address_taken or attempt == 2:
                break
        raise RuntimeError(f"prometheus-alertmanager did not get ready:\n{self.log()}")

    def _launch(self, port: int) -> None:
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config_file}",
                    f"--storage.path={self.directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--web.external-url={self.base_url}",
                    # Empty: no gossip cluster, so no settle wait before notifying.
                    "--cluster.listen-address=",
                    "--log.level=debug",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )

    async def _wait_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                response = await self._client.get(f"{self.base_url}/-/ready", timeout=2.0)
                if response.status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        return False

    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """The process log so far (empty before the start)."""
        try:
            return self.log_file.read_text("utf-8", errors="replace")
        except OSError:
            return ""

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    async def stop(self, *, print_log: bool = False) -> None:
        """Terminate the process (SIGTERM, SIGKILL after 10 s) and close the HTTP client.

        Args:
            print_log: Also print the process log (pass ``True`` when the test failed).
        """
        self._terminate()
        await self._client.aclose()
        if print_log:
            self.print_log()

    def print_log(self) -> None:
        """Print the process log to stdout (pytest shows it with a failure)."""
        print(f"--- prometheus-alertmanager log ({self.log_file}) ---", file=sys.stdout)
        print(self.log(), file=sys.stdout)

    # -- alerts ------------------------------------------------------------------------

    def alert(
        self,
        alertname: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        starts_at: datetime | None = None,
        generator_url: str | None = None,
    ) -> dict[str, Any]:
        """A postable alert (API v2), firing from ``starts_at`` (default now) on.

        ``startsAt`` is set here, not left to Alertmanager, so that
        :meth:`resolve` can post the same alert with an ``endsAt`` not before it.
        """
        alert: dict[str, Any] = {
            "labels": {"alertname": alertname, **(labels or {})},
            "annotations": dict(annotations or {}),
            "startsAt": _timestamp(starts_at or datetime.now(UTC)),
        }
        if generator_url is not None:
            alert["generatorURL"] = generator_url
        return alert

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """``POST /api/v2/alerts``.

        Raises:
            AssertionError: Alertmanager refused them (with its answer).
        """
        response = await self._client.post(f"{self.base_url}/api/v2/alerts", json=list(alerts))
        assert response.status_code == 200, f"{response.status_code} {response.text}"

    async def resolve(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Post ``alerts`` again ending now: resolved, notified at the next group interval."""
        now = datetime.now(UTC)
        ended = []
        for alert in alerts:
            starts_at = datetime.fromisoformat(alert["startsAt"])
            # Alertmanager refuses an end before the start.
            ended.append({**alert, "endsAt": _timestamp(max(now, starts_at))})
        await self.post_alerts(ended)

    async def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the active alerts as Alertmanager sees them."""
        response = await self._client.get(f"{self.base_url}/api/v2/alerts")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


@asynccontextmanager
async def running_alertmanager(
    *,
    webhook_url: str,
    bearer_token: str,
    directory: Path | None = None,
    **options: Any,
) -> AsyncIterator[Alertmanager]:
    """A started :class:`Alertmanager`, stopped on exit; skips the test without the binary.

    On an exception in the body, or when the process died meanwhile, its log
    goes to stdout (pytest shows it with the failure).

    Args:
        webhook_url: Where the notifications go (e.g. ``…/v1/alerts/alertmanager``).
        bearer_token: Sent as ``Authorization: Bearer …`` with every notification.
        directory: Working directory; default a fresh temporary one, removed after.
        **options: ``group_wait``, ``group_interval``, ``repeat_interval``
            (timedelta), ``max_alerts``, ``binary``.
    """
    binary = options.pop("binary", None) or alertmanager_or_skip()
    with tempfile.TemporaryDirectory(prefix="alertmanager-") as scratch:
        manager = Alertmanager(
            webhook_url=webhook_url,
            bearer_token=bearer_token,
            directory=directory or Path(scratch),
            binary=binary,
            **options,
        )
        try:
            await manager.start()
            yield manager
            if not manager.running():
                raise RuntimeError("prometheus-alertmanager exited during the test")
        except BaseException:
            manager.print_log()
            raise
        finally:
            await manager.stop()
