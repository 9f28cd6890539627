"""Incident vocabulary and domain events: small frozen facts, discriminated by ``type``.

Events are what :func:`domain.incident.decide` returns and what
:func:`domain.incident.evolve` folds; the event list is the incident's history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.oncall import OnCallWindow
from domain.report import IncidentReport, ReportChanges
from domain.sla import Deadlines, Severity

# -- vocabulary ----------------------------------------------------------------


class IncidentStatus(StrEnum):
    """Lifecycle status of an incident."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


EscalationStage = Literal[0, 1, 2, 3, "extended"]
"""Escalation stage: 0 (none), 1, 2, 3 (management) or ``"extended"``."""

STAGE_ORDER: tuple[EscalationStage, ...] = (0, 1, 2, 3, "extended")


def stage_rank(stage: EscalationStage) -> int:
    """Position of ``stage`` in the order 0 < 1 < 2 < 3 < extended."""
    return STAGE_ORDER.index(stage)


class EscalationTrigger(StrEnum):
    """What raised the escalation stage."""

    ESTIMATE_MISSED = "estimate_missed"  # the estimate expired unresolved
    ESTIMATE_REPLACED = "estimate_replaced"  # the operator extended before it expired
    OPERATOR = "operator"  # explicit escalate command (stage 3 / extended)


class EscalatedBy(StrEnum):
    """Who triggered an explicit escalation."""

    CUSTOMER = "customer"
    COMPANY = "company"


class DeadlineKind(StrEnum):
    """The two SLA deadlines."""

    REACTION = "reaction"
    RESOLUTION = "resolution"


class PageReason(StrEnum):
    """Why on-duty was paged for a critical incident."""

    RECEIVED = "received"  # at once on receipt (or on reclassification to critical)
    NEXT_OPENING = "next_opening"  # received late or outside hours: again at opening
    REMINDER = "reminder"  # still unacknowledged


class FollowUp(StrEnum):
    """A next step the SLA expects after an event, watched until it is done (rules 3).

    Each is reminded in business time (``[follow_up]`` in the policy) while it
    is open. The new estimate after a miss also has a deadline of its own
    (``EstimateMissed.reestimate_due``).
    """

    REESTIMATE = "reestimate"  # a missed estimate needs a new one: remind
    STATUS_UPDATE = "status_update"  # a public disturbance needs an interim status post
    DISCUSSION = "discussion"  # stage 2: discuss the next steps with the customer
    DECISION = "decision"  # stage 3: management decides on resources
    CRITICAL_OPEN = "critical_open"  # an acknowledged critical incident is still open


# -- events --------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime


class IncidentReported(_Event):
    """A report was accepted and the SLA clock started."""

    type: Literal["reported"] = "reported"
    ticket_id: str
    report: IncidentReport
    received_at: datetime
    severity: Severity
    deadlines: dict[Severity, Deadlines]
    all_users: bool
    next_opening_page: datetime | None = None
    # 1 for incidents opened before rule changes were versioned (see RULES).
    rules: int = 1


RULES = 4
"""The incident rule set new incidents open under, recorded in ``IncidentReported.rules``.

A change to which events a command causes bumps it: a workflow replaying an
incident must decide as it did when it recorded the history, so each
incident keeps the rules it was opened with.

* 2 — every missed estimate is followed up: the customer is told, and the
  status page shows "neue Zeitabschätzung folgt" instead of a past time.
* 3 — every next step the SLA expects is watched until done (:class:`FollowUp`):
  a new estimate after a miss (with a deadline), interim status posts, the
  stage-2 discussion, management's decision, an acknowledged critical incident;
  an estimate after the resolution deadline needs a reason, and a
  reclassification that moves the deadline before the live estimate needs a
  new one.
* 4 — a bug linked to the incident (``DevTicketLinked``) is told to the reporter
  with its development ticket ID (``domain.dev_ticket.BUG_MAIL_RULES``).
"""


class Acknowledged(_Event):
    """The operator confirmed receipt with classification and estimate."""

    type: Literal["acknowledged"] = "acknowledged"
    severity: Severity
    estimate: datetime
    all_users: bool
    on_time: bool
    # Rules 3: why the estimate lies after the resolution deadline (told to the customer).
    estimate_reason: str | None = None


class Reclassified(_Event):
    """The severity changed; deadlines were recomputed from receipt."""

    type: Literal["reclassified"] = "reclassified"
    previous: Severity
    severity: Severity
    reason: str
    reaction_due: datetime
    resolution_due: datetime
    at_acknowledgement: bool = False
    # Rules 3: the new deadline fell before the live estimate, so a new one came with it.
    estimate: datetime | None = None
    estimate_reason: str | None = None


class EstimateExtended(_Event):
    """A new estimate was communicated, with a reason."""

    type: Literal["estimate_extended"] = "estimate_extended"
    previous: datetime
    estimate: datetime
    reason: str
    replaced_live: bool = Field(
        default=False, description="the previous estimate had not expired: it counts as failed"
    )


class EstimateMissed(_Event):
    """The communicated estimate passed while the incident was unresolved."""

    type: Literal["estimate_missed"] = "estimate_missed"
    estimate: datetime
    followed_up: bool = False  # rules 2: the customer is told (every miss)
    # Rules 3: the new estimate is due by then (business time, policy per severity).
    reestimate_due: datetime | None = None


class Escalated(_Event):
    """The escalation stage went up."""

    type: Literal["escalated"] = "escalated"
    stage: EscalationStage
    previous: EscalationStage
    trigger: EscalationTrigger
    reason: str
    by: EscalatedBy | None = None


class ResourcesDecided(_Event):
    """Management answered a stage-3 escalation."""

    type: Literal["resources_decided"] = "resources_decided"
    decision: str


class DeadlineWarned(_Event):
    """The support lead was warned that a deadline is near."""

    type: Literal["deadline_warned"] = "deadline_warned"
    kind: DeadlineKind
    due: datetime


class ReactionBreached(_Event):
    """The reaction deadline passed without acknowledgement."""

    type: Literal["reaction_breached"] = "reaction_breached"
    due: datetime


class ResolutionBreached(_Event):
    """The SLA resolution deadline passed unresolved."""

    type: Literal["resolution_breached"] = "resolution_breached"
    due: datetime
    # The SLA's obligation: by the deadline the customer had a reasoned extension
    # with a new time. None: recorded before this was judged (counts as not).
    customer_informed: bool | None = None


class OnDutyPaged(_Event):
    """On-duty was paged about a critical incident."""

    type: Literal["on_duty_paged"] = "on_duty_paged"
    reason: PageReason
    next_reminder_at: datetime | None


class StatusPublished(_Event):
    """The incident appeared on the public status page."""

    type: Literal["status_published"] = "status_published"
    message: str | None
    expected_resolution: datetime | None


class StatusUpdated(_Event):
    """The status-page entry changed (new estimate or operator message)."""

    type: Literal["status_updated"] = "status_updated"
    message: str | None
    expected_resolution: datetime | None
    # The estimate shown passed: the page shows none until the next one.
    estimate_withdrawn: bool = False


class StatusResolved(_Event):
    """The status-page entry was marked resolved."""

    type: Literal["status_resolved"] = "status_resolved"
    message: str


class Resolved(_Event):
    """The disturbance was resolved; the customer gets the confirmation."""

    type: Literal["resolved"] = "resolved"
    summary: str
    reaction_met: bool
    resolution_met: bool


class DeliveryFailed(_Event):
    """A notification could not be delivered (e.g. the address does not exist)."""

    type: Literal["delivery_failed"] = "delivery_failed"
    message_kind: str
    to: tuple[str, ...]
    error: str


class DeadlinesRecomputed(_Event):
    """The deadlines changed with the business calendar (booked extended on-call).

    Breaches and warnings recorded before stay as they are: they judged the
    deadlines of their time.
    """

    type: Literal["deadlines_recomputed"] = "deadlines_recomputed"
    deadlines: dict[Severity, Deadlines]
    reaction_due: datetime
    resolution_due: datetime
    windows: tuple[OnCallWindow, ...] = ()


class ClassifiedAsChangeRequest(_Event):
    """The report is a change request, not a disturbance: the incident is closed.

    Closes the incident like :class:`Resolved` (without the resolution
    confirmation); a change request ``title`` is started from the report under
    the intake request ID ``change_request_request_id``, so that a retried
    start finds the same change request.
    """

    type: Literal["classified_as_change_request"] = "classified_as_change_request"
    title: str
    reason: str
    summary: str
    change_request_request_id: str
    reaction_met: bool
    resolution_met: bool


class ChangeRequestRecorded(_Event):
    """The change request of a classified report exists; the reporter is told its ID."""

    type: Literal["change_request_recorded"] = "change_request_recorded"
    change_request_id: str
    title: str
    reason: str


class DevTicketLinked(_Event):
    """The incident was linked to a development ticket (a bug found while resolving it)."""

    type: Literal["dev_ticket_linked"] = "dev_ticket_linked"
    dev_ticket_id: str
    title: str


class ReportAmended(_Event):
    """Report items were filled in or corrected; ``report`` is the report now."""

    type: Literal["report_amended"] = "report_amended"
    changes: ReportChanges
    report: IncidentReport
    source: str = ""


class CustomerMessageReceived(_Event):
    """The customer wrote about the incident (a reply to one of our mails)."""

    type: Literal["customer_message"] = "customer_message"
    message_id: str
    sender: str
    subject: str = ""
    text: str
    attachments: tuple[str, ...] = ()


class AlertNotified(_Event):
    """The monitoring system notified again about the alert group (firing or resolved)."""

    type: Literal["alert_notified"] = "alert_notified"
    status: Literal["firing", "resolved"]
    text: str


class FollowUpReminded(_Event):
    """The team was reminded of a next step that is still open."""

    type: Literal["follow_up_reminded"] = "follow_up_reminded"
    kind: FollowUp
    since: datetime  # when the step became due (the event that asked for it)


class ReestimateOverdue(_Event):
    """No new estimate within the policy time after a missed one."""

    type: Literal["reestimate_overdue"] = "reestimate_overdue"
    missed_at: datetime
    due: datetime


class DiscussionRecorded(_Event):
    """Stage 2: the further procedure was discussed with the customer (and experts)."""

    type: Literal["discussion_recorded"] = "discussion_recorded"
    note: str
    experts: tuple[str, ...] = ()


class LinkedAsDuplicate(_Event):
    """This report is a duplicate: it follows the master's estimate, status and resolution.

    It keeps its own SLA clock and outcome; its status-page entry, if it had
    one, is merged into the master's (``merged_status``).
    """

    type: Literal["linked_as_duplicate"] = "linked_as_duplicate"
    master_ticket_id: str
    merged_status: bool = False


class ReopenSource(StrEnum):
    """Who asked for a reopen."""

    OPERATOR = "operator"  # sla reopen
    CUSTOMER_REPLY = "customer_reply"  # a reply in the window, ``on_reply = "reopen"``


class IncidentReopened(_Event):
    """A resolved incident was reopened: a new period with a new reaction clock.

    The period's deadlines (every severity, so a reclassification needs no
    calendar) run from the reopen instant ``at``; breaches, warnings, estimates
    and escalation start fresh, and the earlier periods' events stay as they
    were (their figures are kept, see ``IncidentState.period_events``).
    """

    type: Literal["reopened"] = "reopened"
    reason: str
    by: str
    source: ReopenSource = ReopenSource.OPERATOR
    severity: Severity  # the incident's, under which the new period's clock runs
    deadlines: dict[Severity, Deadlines]
    next_opening_page: datetime | None = None


class DuplicateRegistered(_Event):
    """Another report of the same disturbance follows this one (its master)."""

    type: Literal["duplicate_registered"] = "duplicate_registered"
    ticket_id: str


Event = Annotated[
    IncidentReported
    | Acknowledged
    | Reclassified
    | EstimateExtended
    | EstimateMissed
    | Escalated
    | ResourcesDecided
    | DeadlineWarned
    | ReactionBreached
    | ResolutionBreached
    | OnDutyPaged
    | StatusPublished
    | StatusUpdated
    | StatusResolved
    | Resolved
    | DeliveryFailed
    | DeadlinesRecomputed
    | ClassifiedAsChangeRequest
    | ChangeRequestRecorded
    | DevTicketLinked
    | ReportAmended
    | CustomerMessageReceived
    | AlertNotified
    | FollowUpReminded
    | ReestimateOverdue
    | DiscussionRecorded
    | LinkedAsDuplicate
    | DuplicateRegistered
    | IncidentReopened,
    Field(discriminator="type"),
]
"""Any incident event (discriminated by ``type``)."""
