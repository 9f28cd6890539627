"""Errors the domain raises, and one-line descriptions of validation errors."""

from __future__ import annotations

from enum import StrEnum

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
    """A report or request refused at intake; the message names every problem. Nothing started."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming every offending field of a pydantic error.

    Example: ``severity.major.reaction: required; email: not an e-mail address``.
    """
    parts = []
    for error in exc.errors():
        # Unknown keys come from the sender: quote odd ones so the line stays one line.
        key = (
            ".".join(
                str(p) if str(p).isidentifier() or isinstance(p, int) else repr(str(p))
                for p in error["loc"]
            )
            or "(top level)"
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{key}: {message}")
    return "; ".join(parts)
