"""Shared plumbing of the ``sla`` commands: parsing, connecting, refusing clearly."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from archive.errors import ArchiveError
from cli.terminal import neutralise
from domain.errors import DomainError, IntakeError, describe_validation_error
from domain.sla import PolicyError, SlaPolicy
from domain.timeline_words import Language
from domain.values import check_instant
from service.codec import CodecConfigError
from service.connect import connect
from service.incident_source import IncidentNotFound
from service.queries import Unreadable, WorkflowLookupError

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
"""``--json`` on every command."""

PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy TOML (default: $SLA_POLICY or the shipped policy)."),
]
"""``--policy`` wherever a command needs the policy."""


LANGUAGE_ENV = "SLA_LANG"
"""Chooses the language of ``sla list`` and ``sla show`` (``de`` or ``en``)."""

DEFAULT_LANGUAGE = Language.EN
"""English unless ``SLA_LANG`` says otherwise: the rest of the CLI (help, refusals,
the other commands) is English, and scripts and logs read the same words."""


def language_or_fail() -> Language:
    """The language ``$SLA_LANG`` chooses (:data:`DEFAULT_LANGUAGE` when unset or empty).

    Anything but ``de`` or ``en`` (case-insensitive) is a one-line refusal: a typo
    should not silently switch the language.
    """
    value = os.environ.get(LANGUAGE_ENV, "").strip().lower()
    if not value:
        return DEFAULT_LANGUAGE
    try:
        return Language(value)
    except ValueError:
        choices = " or ".join(lang.value for lang in Language)
        fail(f"{LANGUAGE_ENV} must be {choices}, got {value!r}")


class CliError(Exception):
    """A refusal to print as one line on stderr (exit code 1)."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def load_policy(path: Path | None = None) -> SlaPolicy:
    """``--policy``, else ``$SLA_POLICY``, else the shipped policy."""
    chosen = path or (Path(os.environ["SLA_POLICY"]) if os.environ.get("SLA_POLICY") else None)
    return SlaPolicy.from_file(chosen) if chosen else SlaPolicy.default()


def policy_or_fail(path: Path | None = None) -> SlaPolicy:
    """:func:`load_policy`; a broken or missing policy file is a one-line refusal."""
    try:
        return load_policy(path)
    except PolicyError as error:
        fail(str(error))


def read_text_or_fail(path: Path) -> str:
    """``path``'s text (UTF-8); a missing file or other bytes is a one-line refusal."""
    try:
        return path.read_text("utf-8")
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")
    except UnicodeDecodeError as error:
        fail(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8")


def build_command(build: Callable[[], T]) -> T:
    """Run ``build`` (a model constructor); a validation error is a one-line refusal."""
    try:
        return build()
    except ValidationError as error:
        fail(describe_validation_error(error))


def parse_instant(text: str, zone: str = "Europe/Berlin", *, what: str = "time") -> datetime:
    """ISO 8601 → aware datetime; a naive value means wall-clock time in ``zone``.

    Raises:
        CliError: Not ISO 8601.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f"{what} {text!r} is not an ISO 8601 date-time (e.g. 2026-11-24T15:30 or "
            "2026-11-24T15:30+01:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return check_instant(value)
    except ValueError as error:
        raise CliError(f"{what} {text!r}: {error}") from None


def instant_or_fail(text: str, zone: str, what: str) -> datetime:
    """:func:`parse_instant`; a malformed time is a one-line refusal."""
    try:
        return parse_instant(text, zone, what=what)
    except CliError as error:
        fail(str(error))


def describe_failure(error: BaseException, ticket_id: str | None = None) -> str:
    """One readable line for any failure a command can meet."""
    if isinstance(
        error,
        CliError
        | IntakeError
        | PolicyError
        | DomainError
        | CodecConfigError
        | IncidentNotFound
        | ArchiveError
        | WorkflowLookupError,
    ):
        return str(error)
    if isinstance(error, ValidationError):
        return describe_validation_error(error)
    if isinstance(error, WorkflowUpdateFailedError):
        cause = error.cause
        if isinstance(cause, ApplicationError):
            return cause.message
        return str(cause)
    if isinstance(error, RPCError):
        if error.status == RPCStatusCode.NOT_FOUND:
            return f"unknown ticket {ticket_id}" if ticket_id else f"not found: {error.message}"
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return f"Temporal is not reachable ({error.message}); is `sla dev` running?"
        return f"Temporal refused the request: {error.message}"
    if isinstance(error, RuntimeError) and "connect" in str(error).lower():
        address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
        return f"cannot connect to Temporal at {address}; is `sla dev` running?"
    if isinstance(error, ApplicationError):
        return error.message
    return f"{type(error).__name__}: {error}"


def run(
    body: Callable[[], Coroutine[Any, Any, T]] | Callable[[], Awaitable[T]],
    *,
    ticket_id: str | None = None,
) -> T:
    """Run an async command body; any failure becomes one line on stderr and exit 1."""
    try:
        return asyncio.run(body())  # type: ignore[arg-type]
    except SystemExit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BaseException as error:
        fail(describe_failure(error, ticket_id))


async def client() -> Client:
    """A client from the SDK's env config (``TEMPORAL_ADDRESS``, profiles, TLS, API key)."""
    try:
        return await connect()
    except RuntimeError as error:
        address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
        raise CliError(
            f"cannot connect to Temporal at {address}; is `sla dev` running? ({error})"
        ) from None


def warn_unreadable(skipped: Sequence[Unreadable]) -> None:
    """One ``warning:`` line on stderr per workflow a list or report had to skip."""
    for item in skipped:
        print(
            f"warning: {neutralise(item.workflow_id)} skipped, its state cannot be read "
            f"({neutralise(item.reason)[:300]})",
            file=sys.stderr,
        )


def print_json(value: BaseModel | list[BaseModel] | dict[str, Any] | list[Any]) -> None:
    """Print JSON (pydantic models in their JSON form) to stdout."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, list):
        data = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    else:
        data = value
    # ASCII escapes: a C1 control or bidi override in customer text reaches
    # the terminal as \uXXXX, never raw (JSON readers decode it the same).
    print(json.dumps(data, ensure_ascii=True, indent=2))
