"""Activity options and refusals shared by every workflow (one rule each, named by purpose).

Passed through the sandbox (pure constants and one function), like the other
workflow helpers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from domain.errors import DomainError, describe_validation_error
from domain.values import check_fresh

M = TypeVar("M", bound=BaseModel)

INVALID_INPUT = "InvalidInput"
"""``ApplicationError`` type of an update refused because its argument breaks an input check."""

LOCAL_TIMEOUT = timedelta(seconds=10)
"""Start-to-close of a local activity (business-time arithmetic: milliseconds)."""

ACTIVITY_TIMEOUT = timedelta(seconds=30)
"""Start-to-close of one attempt of an I/O activity (status page, tracker, ledger, look-ups)."""

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
"""Side effects during an outage: back off to one attempt every five minutes."""

EFFECT_GIVE_UP = timedelta(hours=24)
"""Schedule-to-close of a side effect (all its attempts together).

An outage is ridden out with backoff for this long; then the effect is recorded
as not delivered (the support lead is told) and the next one goes. No side
effect is retried forever, and none blocks the ones behind it for longer.
"""

OPERATOR_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
"""An operator waits for the answer: a few quick attempts, then a refusal."""


def refusal(error: DomainError) -> ApplicationError:
    """The update failure an operator reads: the domain's message, typed by its kind."""
    return ApplicationError(error.message, type=error.kind.value, non_retryable=True)


def checked_input(command: M) -> M:
    """``command`` re-checked as fresh input (for update validators).

    An update's argument is read back leniently by the data converter (as
    recorded data must be), so the validator applies every input check — bounds,
    characters, dates — before the update is accepted. Handlers do not: they
    also run on replay, where a check added later must not change the outcome.

    Raises:
        ApplicationError: ``InvalidInput`` (not retryable), naming every bad field.
    """
    try:
        return check_fresh(command)
    except ValidationError as error:
        raise ApplicationError(
            f"refused: {describe_validation_error(error)}", type=INVALID_INPUT, non_retryable=True
        ) from None
