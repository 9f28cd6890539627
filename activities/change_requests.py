"""Starting change requests from the engine itself: a report classified as one.

The incident workflow hands over the change request built from the report;
:class:`ChangeRequestActivities` starts it through the intake API it is given
(``service.change_requests.start_for_incident`` in the worker), the same path
``sla change-request submit`` takes.
The request ID is derived from the incident's ticket ID, so a retried activity
finds the change request it started the first time instead of a second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import IntakeError
from domain.report import ChangeRequest
from domain.sla import SlaPolicy

CHANGE_REQUEST_REFUSED = "ChangeRequestRefused"
"""``ApplicationError`` type when intake refuses the change request (not retryable)."""


class ChangeRequestStartRequest(BaseModel):
    """Input of :meth:`ChangeRequestActivities.start_change_request`.

    Attributes:
        request: The change request (with the deterministic ``request_id``).
        received_at: Its receipt instant (the classification instant).
        policy: The incident's policy snapshot (time zone, customer directory).
        task_queue: Where the change request workflow runs.
    """

    model_config = ConfigDict(frozen=True)

    request: ChangeRequest
    received_at: datetime
    policy: SlaPolicy
    task_queue: str


class ChangeRequestStarted(BaseModel):
    """The change request's ID; ``created`` is ``False`` when it existed already."""

    model_config = ConfigDict(frozen=True)

    change_request_id: str
    created: bool


Submit = Callable[[ChangeRequestStartRequest], Awaitable[ChangeRequestStarted]]
"""Starts (or finds) the change request; raises ``IntakeError`` when intake refuses it."""


class ChangeRequestActivities:
    """Change-request activities; intake is injected (``worker.py`` wires it)."""

    def __init__(self, submit: Submit) -> None:
        """Start change request workflows with ``submit``."""
        self._submit = submit

    @activity.defn
    async def start_change_request(self, start: ChangeRequestStartRequest) -> ChangeRequestStarted:
        """Start the change request workflow, or find the one started before for this request.

        Raises:
            ApplicationError: ``ChangeRequestRefused`` (not retryable): intake refused it.
        """
        try:
            started = await self._submit(start)
        except IntakeError as error:
            raise ApplicationError(
                str(error), type=CHANGE_REQUEST_REFUSED, non_retryable=True
            ) from None
        activity.logger.info(
            "change request %s %s for %s",
            started.change_request_id,
            "started" if started.created else "found",
            start.request.request_id,
        )
        return started
