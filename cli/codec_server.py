"""``sla codec-server``: decrypt payloads for an authorized operator's Temporal UI.

Implements the Temporal codec-server protocol: ``POST /decode`` and
``POST /encode`` with a JSON ``Payloads`` body. Point the UI at it
(Settings → Codec Server, or ``--ui-codec-endpoint``); the keys never leave
this process. With ``SLA_CODEC_TOKEN`` set, requests must carry
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec


def make_handler(
    codec: PayloadCodec, origins: Sequence[str], token: str | None
) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to ``codec``."""

    class CodecHandler(BaseHTTPRequestHandler):
        server_version = "sla-codec-server"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin and origin in origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header(
                    "Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization"
                )
                self.send_header("Vary", "Origin")

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            self._cors()
            self.end_headers()

        def do_POST(self) -> None:
            if self.path not in ("/encode", "/decode"):
                self._reply(404, b'{"error": "not found"}')
                return
            if token is not None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self._reply(401, b'{"error": "unauthorized"}')
                    return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                payloads = json_format.Parse(self.rfile.read(length), Payloads())
                convert = codec.encode if self.path == "/encode" else codec.decode
                result = asyncio.run(convert(list(payloads.payloads)))
            except Exception as error:
                message = json.dumps({"error": f"{type(error).__name__}: {error}"})
                self._reply(400, message.encode())
                return
            body = json_format.MessageToJson(Payloads(payloads=result))
            self._reply(200, body.encode())

    return CodecHandler


def serve(
    codec: PayloadCodec,
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    origins: Sequence[str] = ("http://localhost:8233", "http://127.0.0.1:8233"),
    token: str | None = None,
) -> ThreadingHTTPServer:
    """A codec server (not yet serving: call ``serve_forever``)."""
    return ThreadingHTTPServer((host, port), make_handler(codec, origins, token))
