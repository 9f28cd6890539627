"""Monitoring alerts (Alertmanager webhooks) as incidents: one per alert group.

The group's first notification opens an incident (channel ``monitoring``,
company and contact from ``[intake.monitoring]``); every later notification of
the group — more alerts, some or all resolved — is recorded on that incident's
timeline. A ``resolved`` notification tells the operator; it never resolves
the ticket (a person confirms). A group that fires again after its incident
was closed opens a new incident (the next episode of the same group).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from temporalio.client import Client

from domain.incident import RecordAlert
from domain.sla import SlaPolicy
from service.alertmanager import AlertmanagerPayload, report_fields, timeline_text
from service.incident_updates import UpdateNotTaken, record_alert
from service.incidents import open_incident
from workflows import names

__all__ = ["AlertReceipt", "receive_alertmanager"]

MAX_EPISODES = 50
"""Incidents one alert group may open one after the other (each after the previous closed)."""


@dataclass(frozen=True)
class AlertReceipt:
    """What became of one notification.

    Attributes:
        ticket_id: The group's incident.
        action: ``opened`` (a new incident), ``recorded`` (on the open one's
            timeline) or ``closed`` (a resolved notification for an incident
            already closed: nothing left to tell).
    """

    ticket_id: str
    action: Literal["opened", "recorded", "closed"]


async def receive_alertmanager(
    client: Client,
    payload: AlertmanagerPayload,
    *,
    policy: SlaPolicy,
    source: str,
    task_queue: str = names.TASK_QUEUE,
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID,
) -> AlertReceipt:
    """Open the group's incident, or record the notification on it.

    Raises:
        IntakeError: The policy refuses the report (e.g. a limit).
        RPCError: Temporal is unavailable (the webhook should be retried).
    """
    fields = report_fields(payload, policy.intake.monitoring)
    base = str(fields["request_id"])
    status: Literal["firing", "resolved"] = "firing" if payload.firing else "resolved"
    alert = RecordAlert(status=status, text=timeline_text(payload))
    notification = hashlib.sha256(payload.model_dump_json().encode("utf-8")).hexdigest()
    for episode in range(1, MAX_EPISODES + 1):
        request_id = base if episode == 1 else f"{base}.{episode}"
        opened = await open_incident(
            client,
            {**fields, "request_id": request_id},
            policy=policy,
            task_queue=task_queue,
            status_page_id=status_page_id,
            source=source,
            match_content=False,
        )
        if opened.created:
            if status == "resolved":
                # Our first sight of the group is its end (an outage of ours):
                # the incident is opened all the same, and says so at once.
                await record_alert(client, opened.ticket_id, alert, notification_id=notification)
            return AlertReceipt(opened.ticket_id, "opened")
        try:
            await record_alert(client, opened.ticket_id, alert, notification_id=notification)
        except UpdateNotTaken as error:
            if not error.closed:
                raise
            if status == "resolved":
                return AlertReceipt(opened.ticket_id, "closed")
            continue  # fired again after its incident closed: the next episode
        return AlertReceipt(opened.ticket_id, "recorded")
    raise RuntimeError(f"alert group {base} opened {MAX_EPISODES} incidents; refusing more")
