"""``sla codec-server``: decrypt payloads for an authorized operator's Temporal UI.

Implements the Temporal codec-server protocol: ``POST /decode`` and
``POST /encode`` with a JSON ``Payloads`` body. Point the UI at it
(Settings → Codec Server, or ``--ui-codec-endpoint``); the keys never leave
this process.

The server hands out plain personal data, so it refuses what it does not expect:

* **Authentication**: with ``SLA_CODEC_TOKEN`` set, every request must carry
  ``Authorization: Bearer <token>`` (compared in constant time). Without a
  token the server only starts on a loopback address (``127.0.0.1``, ``::1``,
  ``localhost``) and prints a warning; an empty token is a configuration error.
* **Host**: the ``Host`` header must name a loopback name, the bound address, or
  one of ``SLA_CODEC_ALLOWED_HOSTS`` (comma-separated host names) — otherwise
  421 (400 without a ``Host``). This stops DNS rebinding: a web page whose name
  resolves to 127.0.0.1 still sends its own name.
* **Origin**: CORS headers only for the configured UI origins (``--ui-origin``);
  a browser request from any other origin is refused with 403.
* **Body**: at most ``SLA_CODEC_MAX_BODY`` bytes (default 4 MiB, ``Content-Length``
  required) — otherwise 413, answered without reading the body.
* **Time**: a request must arrive whole within the timeout (default 10 s);
  a client that stalls or trickles is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from activities.mail import is_loopback_host

DEFAULT_MAX_BODY = 4 * 1024 * 1024
"""Default request body limit in bytes (``SLA_CODEC_MAX_BODY``)."""

DEFAULT_TIMEOUT = 10.0
"""Default seconds a client has to send a whole request."""

DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
"""The local Temporal UI (``sla dev``)."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Host names always accepted in the ``Host`` header."""

# After refusing a request, the unread rest of its body is read and dropped for
# at most this long / this much: closing a socket with unread input makes the
# kernel send a reset, which can destroy the refusal before the client reads it.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 256 * 1024


class CodecServerConfigError(OSError):
    """The codec server refuses to start with this configuration.

    An ``OSError`` (like a port already in use), so that a caller reporting
    "cannot listen on …" shows the reason in one line; ``str()`` is the reason
    alone. The message never contains the token.
    """

    def __init__(self, message: str) -> None:
        super().__init__(errno.EINVAL, message)

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class ServerSettings:
    """What a running codec server enforces (see the module docstring).

    Attributes:
        origins: UI origins that get CORS headers.
        token_digest: SHA-256 of the bearer token, or ``None`` when no token is
            required (loopback only).
        allowed_hosts: Lower-case host names accepted in the ``Host`` header.
        max_body: Largest accepted request body in bytes.
        timeout: Seconds a client has to send a whole request.
    """

    origins: frozenset[str]
    token_digest: bytes | None
    allowed_hosts: frozenset[str]
    max_body: int
    timeout: float


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind) is a loopback address or ``localhost``."""
    # One rule for every "is this only reachable from here" decision (SMTP too).
    return is_loopback_host(host)


def host_name(header: str) -> str:
    """The host name of a ``Host`` header value, without port, lower-case.

    ``[::1]:8081`` → ``::1``; ``Example.org.:8081`` → ``example.org``.
    """
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, colon, port = value.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        value = name
    return value.rstrip(".")


def settings_from(
    *,
    host: str,
    origins: Sequence[str],
    token: str | None,
    max_body: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    allowed_hosts: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Check the configuration and build the settings a server enforces.

    Args:
        host: Address the server binds.
        origins: UI origins allowed by CORS.
        token: The bearer token (``SLA_CODEC_TOKEN``); ``None`` for none.
        max_body: Body limit in bytes; ``None`` reads ``SLA_CODEC_MAX_BODY``
            (default 4 MiB).
        timeout: Seconds a client has to send a whole request.
        allowed_hosts: Extra ``Host`` names; ``None`` reads
            ``SLA_CODEC_ALLOWED_HOSTS``.
        env: Environment to read (default ``os.environ``).

    Raises:
        CodecServerConfigError: No token on a non-loopback address, an empty or
            malformed token, a malformed body limit or timeout.
    """
    env = os.environ if env is None else env
    if token is None:
        if not is_loopback(host):
            raise CodecServerConfigError(
                f"SLA_CODEC_TOKEN is not set: refusing to serve decrypted payloads on {host} "
                "without authentication; set SLA_CODEC_TOKEN or bind to 127.0.0.1"
            )
        token_digest = None
    else:
        if not token.strip():
            raise CodecServerConfigError(
                "SLA_CODEC_TOKEN is set but empty: set a secret token or unset the variable "
                "(without a token the server only runs on loopback)"
            )
        if not all(33 <= ord(c) <= 126 for c in token):
            # A browser cannot send other characters in a header, and a space
            # or line break is more likely a copy-paste accident than a secret.
            raise CodecServerConfigError(
                "SLA_CODEC_TOKEN must be printable ASCII without spaces (its value is not shown)"
            )
        token_digest = hashlib.sha256(token.encode()).digest()
    if max_body is None:
        text = env.get("SLA_CODEC_MAX_BODY", "").strip()
        try:
            max_body = int(text) if text else DEFAULT_MAX_BODY
        except ValueError:
            raise CodecServerConfigError(
                f"SLA_CODEC_MAX_BODY must be a number of bytes, got {text!r}"
            ) from None
    if max_body < 1:
        raise CodecServerConfigError(f"the body limit must be at least 1 byte, got {max_body}")
    if not timeout > 0:
        raise CodecServerConfigError(f"the request timeout must be positive, got {timeout}")
    if allowed_hosts is None:
        allowed_hosts = env.get("SLA_CODEC_ALLOWED_HOSTS", "").split(",")
    hosts = {host_name(h) for h in allowed_hosts if h.strip()} | set(LOOPBACK_NAMES)
    bound = host_name(host)
    if bound and not _is_wildcard(bound):
        hosts.add(bound)
    return ServerSettings(
        origins=frozenset(origins),
        token_digest=token_digest,
        allowed_hosts=frozenset(hosts),
        max_body=max_body,
        timeout=timeout,
    )


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def make_handler(
    codec: PayloadCodec,
    origins: Sequence[str],
    token: str | None,
    *,
    settings: ServerSettings | None = None,
) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to ``codec``.

    Args:
        codec: Decodes and encodes payloads.
        origins: UI origins allowed by CORS (ignored when ``settings`` is given).
        token: Bearer token (ignored when ``settings`` is given).
        settings: Everything the handler enforces; by default built from
            ``origins`` and ``token`` for a loopback server.
    """
    config = settings or settings_from(host="127.0.0.1", origins=origins, token=token)

    class CodecHandler(BaseHTTPRequestHandler):
        server_version = "sla-codec-server"
        # No keep-alive: the request deadline below is a per-connection timer.
        protocol_version = "HTTP/1.0"
        settings = config
        # The per-read socket timeout; ``_deadline`` bounds the whole request,
        # which a client trickling one byte at a time would otherwise stretch.
        timeout = config.timeout
        _deadline: threading.Timer | None = None

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # One request per connection, so the deadline of the connection is
            # the deadline of the request.
            self._deadline = threading.Timer(config.timeout, self._expire)
            self._deadline.daemon = True
            self._deadline.start()

        def finish(self) -> None:
            self._disarm()
            super().finish()

        def _expire(self) -> None:
            # Ends any blocked read at once: the reader sees end of input.
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()

        # -- replies -------------------------------------------------------

        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin and origin in config.origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header(
                    "Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization"
                )
            self.send_header("Vary", "Origin")

        def _reply(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            extra: Mapping[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self._cors()
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refuse(self, status: int, error: str, extra: Mapping[str, str] | None = None) -> None:
            """Reply with an error, then close without reading more than a little."""
            self._disarm()
            self._reply(status, json.dumps({"error": error}).encode(), extra=extra)
            self.close_connection = True
            self._linger()

        def _linger(self) -> None:
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                until = time.monotonic() + _LINGER_SECONDS
                dropped = 0
                while dropped < _LINGER_BYTES and (left := until - time.monotonic()) > 0:
                    self.connection.settimeout(left)
                    chunk = self.connection.recv(64 * 1024)
                    if not chunk:
                        break
                    dropped += len(chunk)
            except OSError:
                pass

        # -- checks --------------------------------------------------------

        def _admitted(self) -> bool:
            """Host and Origin checks shared by every method; refuses otherwise."""
            host = self.headers.get("Host")
            if not host:
                self._refuse(400, "missing Host header")
                return False
            if host_name(host) not in config.allowed_hosts:
                self._refuse(421, "unknown host (see SLA_CODEC_ALLOWED_HOSTS)")
                return False
            origin = self.headers.get("Origin")
            if origin is not None and origin not in config.origins:
                self._refuse(403, "origin not allowed (see --ui-origin)")
                return False
            return True

        def _authorized(self) -> bool:
            if config.token_digest is None:
                return True
            scheme, _, credential = self.headers.get("Authorization", "").strip().partition(" ")
            given = credential.strip().encode("utf-8", "surrogateescape")
            # Digests have one length whatever was sent: the comparison reveals
            # neither the token nor its length.
            digest = hashlib.sha256(given).digest()
            matches = hmac.compare_digest(digest, config.token_digest)
            return scheme.lower() == "bearer" and bool(given) and matches

        def _body_length(self) -> int | None:
            """The declared body length, or ``None`` after refusing the request."""
            if self.headers.get("Transfer-Encoding") is not None:
                self._refuse(411, "chunked bodies are not accepted: send Content-Length")
                return None
            declared = self.headers.get("Content-Length")
            if declared is None:
                self._refuse(411, "Content-Length required")
                return None
            if not declared.strip().isdigit():
                self._refuse(400, "malformed Content-Length")
                return None
            length = int(declared)
            if length > config.max_body:
                self._refuse(413, f"body larger than {config.max_body} bytes")
                return None
            return length

        # -- methods -------------------------------------------------------

        def do_OPTIONS(self) -> None:
            if not self._admitted():
                return
            self._disarm()
            self.send_response(204)
            self._cors()
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            if not self._admitted():
                return
            if self.path not in ("/encode", "/decode"):
                self._refuse(404, "not found")
                return
            if not self._authorized():
                self._refuse(401, "unauthorized", {"WWW-Authenticate": "Bearer"})
                return
            length = self._body_length()
            if length is None:
                return
            try:
                body = self.rfile.read(length)
            except OSError:  # includes the per-read timeout
                body = b""
            self._disarm()
            if len(body) < length:
                # Stalled, trickled past the deadline, or hung up: nobody to answer.
                self.close_connection = True
                return
            try:
                payloads = json_format.Parse(body, Payloads())
                convert = codec.encode if self.path == "/encode" else codec.decode
                result = asyncio.run(convert(list(payloads.payloads)))
            except Exception as error:
                message = json.dumps({"error": f"{type(error).__name__}: {error}"})
                self._reply(400, message.encode())
                return
            out = json_format.MessageToJson(Payloads(payloads=result))
            self._reply(200, out.encode())

    return CodecHandler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client cut off at its deadline, or one that hung up, is routine
        # here: no traceback on stderr for it.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def serve(
    codec: PayloadCodec,
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    origins: Sequence[str] = DEFAULT_ORIGINS,
    token: str | None = None,
    max_body: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    allowed_hosts: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> ThreadingHTTPServer:
    """A codec server (not yet serving: call ``serve_forever``).

    Args:
        codec: Decodes and encodes payloads.
        host: Address to bind.
        port: Port to bind (0: any free port).
        origins: Temporal UI origins allowed by CORS.
        token: Bearer token every request must carry (``SLA_CODEC_TOKEN``);
            ``None`` is accepted on a loopback address only.
        max_body: Body limit in bytes; ``None`` reads ``SLA_CODEC_MAX_BODY``
            (default 4 MiB).
        timeout: Seconds a client has to send a whole request.
        allowed_hosts: ``Host`` names accepted besides loopback names and
            ``host``; ``None`` reads ``SLA_CODEC_ALLOWED_HOSTS``.
        env: Environment to read (default ``os.environ``).
        warn: Where the no-token warning goes (default: a line on stderr).

    Raises:
        CodecServerConfigError: The configuration is refused (see
            :func:`settings_from`); nothing is bound.
        OSError: The address cannot be bound.
    """
    settings = settings_from(
        host=host,
        origins=origins,
        token=token,
        max_body=max_body,
        timeout=timeout,
        allowed_hosts=allowed_hosts,
        env=env,
    )
    handler = make_handler(codec, origins, token, settings=settings)
    address = host.strip("[]")
    server_class = _IPv6Server if ":" in address else _Server
    server = server_class((address, port), handler)
    if settings.token_digest is None:
        message = (
            f"warning: codec server on {host} runs without authentication "
            "(SLA_CODEC_TOKEN is not set); accepted on loopback only"
        )
        if warn is None:
            print(message, file=sys.stderr)
        else:
            warn(message)
    return server
