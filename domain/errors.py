"""Errors the domain raises, and one-line descriptions of validation errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class DomainErrorKind(StrEnum):
    """Why a command was refused; travels as the ``ApplicationError`` type."""

    WRONG_STATUS = "WrongStatus"
    INVALID_ESTIMATE = "InvalidEstimate"
    INVALID_ESCALATION = "InvalidEscalation"
    MISSING_TEXT = "MissingText"
    NOT_DUE = "NotDue"
    ALREADY_DONE = "AlreadyDone"
    NOT_PUBLISHED = "NotPublished"
    RECORD_FULL = "RecordFull"


class DomainError(Exception):
    """A command the rules refuse. The message is meant for an operator."""

    # A StrEnum: features add their own kinds beside DomainErrorKind.
    kind: StrEnum = DomainErrorKind.WRONG_STATUS

    def __init__(self, message: str) -> None:
        """Create the error with an operator-readable ``message``."""
        super().__init__(message)
        self.message = message


class WrongStatus(DomainError):
    """The incident is not in a status that allows the command."""

    kind = DomainErrorKind.WRONG_STATUS


class InvalidEstimate(DomainError):
    """An estimate that is in the past or not later than the current one."""

    kind = DomainErrorKind.INVALID_ESTIMATE


class InvalidEscalation(DomainError):
    """An escalation that would not raise the stage, or lacks its preconditions."""

    kind = DomainErrorKind.INVALID_ESCALATION


class MissingText(DomainError):
    """A reason, summary or message that is required but empty."""

    kind = DomainErrorKind.MISSING_TEXT


class NotDue(DomainError):
    """A timer command issued before its instant (a stale or early timer)."""

    kind = DomainErrorKind.NOT_DUE


class AlreadyDone(DomainError):
    """The command's effect already happened (e.g. a breach recorded twice)."""

    kind = DomainErrorKind.ALREADY_DONE


class RecordFull(DomainError):
    """A command that would grow a workflow's record past its payload budget."""

    kind = DomainErrorKind.RECORD_FULL


class NotPublished(DomainError):
    """A status-page update for an incident that is not on the status page."""

    kind = DomainErrorKind.NOT_PUBLISHED


class IntakeError(ValueError):
    """A report or request refused at intake; the message names every problem. Nothing started.

    Attributes:
        errors: The problems as ``(field, message)`` pairs, in the message's
            words (the HTTP API lists them); empty when the refusal is about
            the request as a whole.
    """

    def __init__(self, message: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        """Refuse with ``message`` and, where known, the offending fields."""
        super().__init__(message)
        self.errors = tuple(errors)


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """Every offending field of a pydantic error as ``(field, message)``, in plain words.

    The field is the dotted location (``severity.major.reaction``); a check of
    the whole model names the field it is about (``email`` for "neither e-mail
    nor phone"). The HTTP API's problem details and :func:`describe_validation_error`
    use the same words.
    """
    return error_items(exc.errors())


def error_items(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """:func:`field_errors` of pydantic's error dicts (also FastAPI's request errors)."""
    found = []
    for error in errors:
        # Unknown keys come from the sender: quote odd ones so the line stays one line.
        key = ".".join(
            str(p) if str(p).isidentifier() or isinstance(p, int) else repr(str(p))
            for p in error.get("loc", ())
        )
        if not key:
            context = error.get("ctx") or {}
            key = str(context.get("field", "(top level)"))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "required"
        elif error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "json_invalid":
            message = "not valid JSON"
        found.append((key, message))
    return found


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming every offending field of a pydantic error.

    Example: ``severity.major.reaction: required; email: not an e-mail address``.
    """
    return "; ".join(f"{key}: {message}" for key, message in field_errors(exc))
