"""Errors as ``application/problem+json`` (RFC 9457), never a stack trace.

Every refusal names what to fix; bad fields come as ``errors: [{"field",
"message"}]`` in the words ``sla report`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from domain.errors import error_items

__all__ = ["PROBLEM_JSON", "ApiProblem", "problem_response", "request_errors"]

PROBLEM_JSON = "application/problem+json"


class ApiProblem(Exception):
    """A refusal the API answers as problem details.

    Attributes:
        status: The HTTP status.
        detail: One sentence for the client.
        errors: ``(field, message)`` pairs, where fields are at fault.
        headers: Extra response headers (``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """A problem with ``status`` and ``detail``."""
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    detail: str,
    *,
    errors: Iterable[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    """The problem details response for ``status``."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    listed = [{"field": field, "message": message} for field, message in errors]
    if listed:
        body["errors"] = listed
    if instance is not None:
        body["instance"] = instance
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def request_errors(errors: Sequence[Any]) -> list[tuple[str, str]]:
    """FastAPI's request validation errors as ``(field, message)`` in our words.

    The location's first part names where the value came from: dropped for
    the body (fields are named as in the report JSON), kept for query, path
    and header values.
    """
    return error_items(
        {**error, "loc": tuple(error.get("loc", ()))[1:]}
        if tuple(error.get("loc", ()))[:1] == ("body",)
        else error
        for error in errors
    )
