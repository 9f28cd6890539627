"""Opening the incident of a maintenance window that ran into business hours.

The maintenance workflow hands over its state; :class:`MaintenanceActivities`
builds the report (:func:`domain.maintenance.overrun_report`) and opens the
incident through the intake it is given
(``service.maintenance.open_overrun_incident`` in the worker), the same path
every other report takes. The report's request ID is derived from the
maintenance ID and its receipt instant is the overrun's, so a retried activity
finds the incident it opened the first time instead of opening a second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.maintenance import MaintenanceState, overrun_report
from domain.report import IncidentReport
from domain.sla import SlaPolicy

OVERRUN_INCIDENT_REFUSED = "OverrunIncidentRefused"
"""``ApplicationError`` type when intake refuses the overrun's report (not retryable)."""


class OverrunIncidentRequest(BaseModel):
    """Input of :meth:`MaintenanceActivities.open_overrun_incident`.

    Attributes:
        maintenance: The maintenance as it stands (it has overrun).
        policy: The maintenance's policy snapshot (also the incident's).
        task_queue: Where the incident workflow runs.
        status_page_id: The status page the incident posts to.
    """

    model_config = ConfigDict(frozen=True)

    maintenance: MaintenanceState
    policy: SlaPolicy
    task_queue: str
    status_page_id: str


class OverrunIncidentOpened(BaseModel):
    """The incident's ticket ID; ``created`` is ``False`` when it existed already."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    created: bool


OpenIncident = Callable[[IncidentReport, OverrunIncidentRequest], Awaitable[OverrunIncidentOpened]]
"""Opens (or finds) the incident of a report; raises ``IntakeError`` when intake refuses it."""


class MaintenanceActivities:
    """Maintenance activities; intake is injected (``worker.py`` wires it)."""

    def __init__(self, open_incident: OpenIncident) -> None:
        """Open incidents with ``open_incident``."""
        self._open_incident = open_incident

    @activity.defn
    async def open_overrun_incident(self, request: OverrunIncidentRequest) -> OverrunIncidentOpened:
        """Open the overrun's incident, or find the one opened before for this maintenance.

        Raises:
            ApplicationError: ``OverrunIncidentRefused`` (not retryable): intake refused it.
        """
        try:
            report = overrun_report(request.maintenance, request.policy)
            opened = await self._open_incident(report, request)
        except ValueError as error:  # an IntakeError, or a report the rules cannot build
            raise ApplicationError(
                str(error), type=OVERRUN_INCIDENT_REFUSED, non_retryable=True
            ) from None
        activity.logger.info(
            "overrun incident %s %s for maintenance %s",
            opened.ticket_id,
            "opened" if opened.created else "found",
            request.maintenance.maintenance_id,
        )
        return opened
