"""The door before any route: body size, body time, media type (pure ASGI).

The body is read here, whole, before a route sees it: above the limit the
answer is 413 without reading further; a client that sends its body too
slowly is cut off with 408; a body that is not JSON is refused with 415. The
route then reads the buffered body as usual.
"""

from __future__ import annotations

import asyncio
from email.message import Message
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from api.problems import problem_response

__all__ = ["BodyGuard"]

_WITH_BODY = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class BodyGuard:
    """Refuses bodies above ``max_bytes`` (413), slower than ``timeout`` (408), not JSON (415)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float = 30.0) -> None:
        """Guard ``app``."""
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer and check the body of a request that has one, then call the app."""
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, 413, self._too_large())
            return
        content_type = headers.get("content-type", "")
        if not _is_json(content_type):
            shown = content_type[:80] or "none"
            await self._refuse(
                scope,
                send,
                415,
                f"send the body as JSON (Content-Type: application/json); got {shown}",
            )
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await self._refuse(
                scope, send, 408, f"the body did not arrive within {self.timeout:g} s"
            )
            return
        if body is None:
            await self._refuse(scope, send, 413, self._too_large())
            return

        sent = False

        async def replay() -> AsgiMessage:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> str:
        return f"the body is larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        response = problem_response(status, detail)
        receive_nothing: Any = None  # the response never reads the request
        await response(scope, receive_nothing, send)
