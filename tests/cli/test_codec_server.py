"""``sla codec-server`` refuses hostile input at the door (issue 14).

Every test talks to a real server on a free loopback port, over real sockets:
``http.client`` for ordinary requests, a raw socket where the client has to
misbehave (stall, trickle, lie about its body, omit ``Host``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from cli.codec_server import (
    DEFAULT_MAX_BODY,
    CodecServerConfigError,
    host_name,
    is_loopback,
    serve,
)
from service.codec import CodecConfigError, EncryptionCodec, codec_from_env

TOKEN = "s3cret-T0ken"
UI = "http://localhost:8233"
CODEC = EncryptionCodec({"k1": os.urandom(32)}, "k1")
PLAIN = json_format.MessageToJson(
    Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=b'"Erika"')])
).encode()
SLA = Path(sys.executable).with_name("sla")


@dataclass
class Running:
    server: ThreadingHTTPServer
    port: int
    warnings: list[str]

    def connection(self, timeout: float = 5) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw(self, timeout: float = 5) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def post(
        self,
        path: str = "/decode",
        body: bytes = PLAIN,
        *,
        token: str | None = TOKEN,
        authorization: str | None = None,
        origin: str | None = UI,
        host: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = self.connection()
        try:
            connection.putrequest("POST", path, skip_host=host is not None)
            if host is not None:
                connection.putheader("Host", host)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body)))
            if origin is not None:
                connection.putheader("Origin", origin)
            if authorization is not None:
                connection.putheader("Authorization", authorization)
            elif token is not None:
                connection.putheader("Authorization", f"Bearer {token}")
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    """Start codec servers on free loopback ports; all are stopped afterwards."""
    started: list[ThreadingHTTPServer] = []

    def _start(**options: Any) -> Running:
        warnings: list[str] = []
        options.setdefault("origins", [UI])
        options.setdefault("token", TOKEN)
        options.setdefault("env", {})
        server = serve(CODEC, port=0, warn=warnings.append, **options)
        started.append(server)
        serving = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        serving.start()
        return Running(server, server.server_address[1], warnings)

    yield _start
    for server in started:
        server.shutdown()
        server.server_close()


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    began = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic() - began


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# -- starting: token and bind address ---------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "codec.example.org"])
def test_no_token_on_a_non_loopback_address_is_refused(host: str) -> None:
    # Refused before binding: 192.0.2.10 is not even an address of this machine.
    with pytest.raises(CodecServerConfigError, match="SLA_CODEC_TOKEN is not set"):
        serve(CODEC, host=host, port=0, token=None, env={})


@pytest.mark.parametrize("token", ["", "   "])
def test_empty_token_is_refused_even_on_loopback(token: str) -> None:
    with pytest.raises(CodecServerConfigError, match="SLA_CODEC_TOKEN is set but empty"):
        serve(CODEC, host="127.0.0.1", port=0, token=token, env={})


def test_token_with_spaces_is_refused_without_showing_it() -> None:
    with pytest.raises(CodecServerConfigError) as refused:
        serve(CODEC, port=0, token="half secret", env={})
    assert "printable ASCII" in str(refused.value)
    assert "secret" not in str(refused.value)


def test_no_token_on_loopback_runs_open_with_a_warning(start: Callable[..., Running]) -> None:
    running = start(token=None)
    assert len(running.warnings) == 1
    assert "without authentication" in running.warnings[0]
    assert "loopback only" in running.warnings[0]
    assert running.post(token=None)[0] == 200


def test_the_warning_goes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(CODEC, host="127.0.0.1", port=0, token=None, env={})
    server.server_close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: codec server on 127.0.0.1 runs without authentication")


def test_no_warning_with_a_token(start: Callable[..., Running]) -> None:
    assert start().warnings == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.1", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_bad_body_limit_is_refused() -> None:
    for value in ("4MB", "-1", "0"):
        with pytest.raises(CodecServerConfigError, match=r"body limit|SLA_CODEC_MAX_BODY"):
            serve(CODEC, port=0, token=TOKEN, env={"SLA_CODEC_MAX_BODY": value})


# -- the command line ---------------------------------------------------------------


def sla_codec_server(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = (
        {k: v for k, v in os.environ.items() if not k.startswith("SLA_CODEC_")}
        | {"SLA_CODEC_KEYS": f"k1:{base64.b64encode(os.urandom(32)).decode()}"}
        | env
    )
    return subprocess.run(
        [str(SLA), "codec-server", "--port", "0", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_refuses_to_serve_on_all_interfaces_without_token() -> None:
    run = sla_codec_server("--host", "0.0.0.0")
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1, run.stderr  # one line, no traceback
    assert "SLA_CODEC_TOKEN is not set" in run.stderr


def test_cli_refuses_an_empty_token() -> None:
    run = sla_codec_server(SLA_CODEC_TOKEN="")
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1, run.stderr
    assert "SLA_CODEC_TOKEN is set but empty" in run.stderr


def test_cli_key_error_shows_no_key_fragment() -> None:
    key = base64.b64encode(bytes(range(100, 132))).decode()
    run = sla_codec_server(SLA_CODEC_KEYS=f"{key}:k1")  # key and ID swapped
    assert run.returncode == 1
    assert "SLA_CODEC_KEYS entry 1" in run.stderr
    assert_no_fragment(key, run.stderr)


# -- authentication -----------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "Bearer wrong",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
    ],
    ids=repr,
)
def test_missing_wrong_or_empty_bearer_is_unauthorized(
    start: Callable[..., Running], authorization: str | None
) -> None:
    running = start()
    status, headers, body = running.post(token=None, authorization=authorization)
    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(body) == {"error": "unauthorized"}


def test_right_bearer_is_served_and_the_scheme_is_case_insensitive(
    start: Callable[..., Running],
) -> None:
    running = start()
    assert running.post()[0] == 200
    assert running.post(token=None, authorization=f"bearer {TOKEN}")[0] == 200


def test_tokens_are_compared_in_constant_time_over_digests(
    start: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    running = start()
    for given in ("x", TOKEN, "y" * 500):
        running.post(token=given)
    # One length whatever was sent: neither content nor length of the token leaks.
    assert compared == [(32, 32)] * 3
    handler: Any = running.server.RequestHandlerClass
    assert handler.settings.token_digest == hashlib.sha256(TOKEN.encode()).digest()


# -- body limit ---------------------------------------------------------------------


def test_oversized_body_is_refused_with_413_before_it_is_sent(
    start: Callable[..., Running],
) -> None:
    running = start(env={"SLA_CODEC_MAX_BODY": "1024"})
    with running.raw() as sock:
        sock.sendall(
            f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {40 * 1024 * 1024}\r\n\r\n".encode()
        )
        response, took = read_until_closed(sock, limit=5)
    assert status_of(response) == 413
    assert b"body larger than 1024 bytes" in response
    assert took < 2  # answered and closed at once, without waiting for the body


def test_oversized_body_is_not_read_whole(start: Callable[..., Running]) -> None:
    """A client pushing 40 MB gets 413 and a closed connection long before the end."""
    running = start()
    total = 40 * 1024 * 1024
    sent = 0
    with running.raw(timeout=10) as sock:
        sock.sendall(
            f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {total}\r\n\r\n".encode()
        )
        chunk = b"x" * 65536
        with pytest.raises(OSError):  # broken pipe / reset: the server stopped reading
            while sent < total:
                sent += sock.send(chunk)
    assert sent < total
    # The default limit answered: a body at the limit would have been read.
    assert DEFAULT_MAX_BODY == 4 * 1024 * 1024


def test_body_at_the_default_limit_is_read_one_byte_more_is_not(
    start: Callable[..., Running],
) -> None:
    running = start()
    at_limit = b" " * DEFAULT_MAX_BODY
    status, _, body = running.post(body=at_limit)
    assert status == 400  # read and parsed: not a Payloads message
    assert b"ParseError" in body
    # One byte more is refused on the declared length alone (the client could
    # not even send it all: the server stops reading).
    with running.raw() as sock:
        sock.sendall(
            f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {DEFAULT_MAX_BODY + 1}\r\n\r\n".encode()
        )
        response, _ = read_until_closed(sock, limit=5)
    assert status_of(response) == 413


def test_body_without_content_length_is_refused(start: Callable[..., Running]) -> None:
    running = start()
    for extra in ("", "Transfer-Encoding: chunked\r\n"):
        with running.raw() as sock:
            sock.sendall(
                f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {TOKEN}\r\n{extra}\r\n".encode()
            )
            response, _ = read_until_closed(sock, limit=5)
        assert status_of(response) == 411


# -- timeouts -----------------------------------------------------------------------


def test_client_that_stalls_after_the_headers_is_disconnected(
    start: Callable[..., Running],
) -> None:
    running = start(timeout=1.0)
    with running.raw() as sock:
        sock.sendall(
            f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Length: 100\r\n\r\n".encode()
        )
        response, took = read_until_closed(sock, limit=10)
    assert response == b""  # nobody left to answer
    assert 0.8 < took < 3


def test_client_that_trickles_is_disconnected_at_the_deadline(
    start: Callable[..., Running],
) -> None:
    """One byte every 0.2 s never trips a per-read timeout of 1 s; the deadline ends it."""
    running = start(timeout=1.0)
    request = (
        f"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {len(PLAIN)}\r\n\r\n".encode()
        + PLAIN
    )
    began = time.monotonic()
    with running.raw() as sock, pytest.raises(OSError):
        for byte in request:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
        # (sendall fails once the server has shut the connection down)
    assert time.monotonic() - began < 3


def test_client_that_sends_nothing_is_disconnected(start: Callable[..., Running]) -> None:
    running = start(timeout=1.0)
    with running.raw() as sock:
        response, took = read_until_closed(sock, limit=10)
    assert response == b""
    assert took < 3


# -- Host header --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io:8081", "attacker:1", "[::2]"])
def test_unknown_host_is_refused_even_with_the_token(
    start: Callable[..., Running], host: str
) -> None:
    status, headers, body = start().post(host=host)
    assert status == 421
    assert "Access-Control-Allow-Origin" in headers  # the UI may read why
    assert b"unknown host" in body


def test_missing_host_is_refused(start: Callable[..., Running]) -> None:
    running = start()
    with running.raw() as sock:
        sock.sendall(
            f"POST /decode HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {len(PLAIN)}\r\n\r\n".encode()
            + PLAIN
        )
        response, _ = read_until_closed(sock, limit=5)
    assert status_of(response) == 400


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:8081", "localhost:8081", "LocalHost", "[::1]:8081"]
)
def test_loopback_hosts_are_accepted(start: Callable[..., Running], host: str) -> None:
    assert start().post(host=host)[0] == 200


def test_allowed_hosts_come_from_the_environment(start: Callable[..., Running]) -> None:
    running = start(env={"SLA_CODEC_ALLOWED_HOSTS": "codec.example.org, Other.Example"})
    assert running.post(host="codec.example.org:443")[0] == 200
    assert running.post(host="other.example")[0] == 200
    assert running.post(host="third.example")[0] == 421


def test_the_bound_address_is_an_allowed_host(start: Callable[..., Running]) -> None:
    running = start(host="127.0.0.2")
    connection = http.client.HTTPConnection("127.0.0.2", running.port, timeout=5)
    connection.request(
        "POST", "/decode", PLAIN, {"Authorization": f"Bearer {TOKEN}"}
    )  # Host: 127.0.0.2:<port>
    assert connection.getresponse().status == 200
    connection.close()


def test_host_names() -> None:
    assert host_name("Example.ORG.:8081") == "example.org"
    assert host_name("[::1]:8081") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("localhost") == "localhost"


# -- CORS ---------------------------------------------------------------------------


def test_cors_headers_only_for_the_configured_origin(start: Callable[..., Running]) -> None:
    running = start(origins=["http://ui.example:8233"])
    status, headers, _ = running.post(origin="http://ui.example:8233")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "http://ui.example:8233"
    assert headers["Vary"] == "Origin"
    status, headers, _ = running.post(origin=None)  # not a browser: served, no CORS
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers
    for other in (UI, "http://evil.example", "null"):
        status, headers, body = running.post(origin=other)
        assert status == 403
        assert "Access-Control-Allow-Origin" not in headers
        assert b"origin not allowed" in body


def test_preflight_only_for_the_configured_origin(start: Callable[..., Running]) -> None:
    running = start()
    for origin, expected in ((UI, 204), ("http://evil.example", 403)):
        connection = running.connection()
        connection.request(
            "OPTIONS",
            "/decode",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == expected
        allowed = response.getheader("Access-Control-Allow-Origin")
        assert allowed == (UI if expected == 204 else None)


# -- key configuration errors -------------------------------------------------------

KEY_TEXT = base64.b64encode(bytes(range(100, 132))).decode()  # a fixed, recognizable key
SHORT_KEY_TEXT = base64.b64encode(bytes(range(200, 216))).decode()


def assert_no_fragment(key: str, message: str) -> None:
    """Not a single run of four characters of ``key`` shows up in ``message``."""
    for i in range(len(key) - 3):
        assert key[i : i + 4] not in message, (key[i : i + 4], message)


@pytest.mark.parametrize(
    "env",
    [
        {"SLA_CODEC_KEYS": KEY_TEXT},  # no ID at all
        {"SLA_CODEC_KEYS": f"{KEY_TEXT}:k1"},  # key and ID swapped
        {"SLA_CODEC_KEYS": f"k1={KEY_TEXT}"},  # wrong separator
        {"SLA_CODEC_KEYS": f"k1:{KEY_TEXT}!!"},  # not base64
        {"SLA_CODEC_KEYS": f"k1:{KEY_TEXT[:-2]}"},  # truncated
        {"SLA_CODEC_KEYS": f"k1:{SHORT_KEY_TEXT}"},  # 16 bytes
        {"SLA_CODEC_KEYS": f"k1:{KEY_TEXT}", "SLA_CODEC_KEY_ID": KEY_TEXT},  # key as ID
        {"SLA_CODEC_KEYS": f"k1:{KEY_TEXT},{KEY_TEXT[:20]}"},  # half a key pasted
        {"SLA_CODEC_KEYS": f"k1 {KEY_TEXT[:8]}:{KEY_TEXT}"},  # a space in the ID
    ],
    ids=[
        "no-id",
        "swapped",
        "separator",
        "not-base64",
        "truncated",
        "short",
        "key-as-id",
        "half-key",
        "space-in-id",
    ],
)
def test_key_configuration_errors_contain_no_key_material(env: dict[str, str]) -> None:
    with pytest.raises(CodecConfigError) as refused:
        codec_from_env(env)
    message = str(refused.value)
    for key in (KEY_TEXT, SHORT_KEY_TEXT):
        assert_no_fragment(key, message)
