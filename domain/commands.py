"""Incident commands: what operators, timers and intake ask of an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.dev_ticket import DevTicketId
from domain.events import DeadlineKind, EscalatedBy, FollowUp, PageReason, ReopenSource
from domain.oncall import OnCallWindow
from domain.report import IncidentReport, ReportChanges, RequestId
from domain.sla import Deadlines, Severity
from domain.values import (
    Attachments,
    AwareDatetime,
    EmailAddress,
    FreeText,
    LongText,
    NonEmptyText,
    SingleLineText,
)

# -- commands ------------------------------------------------------------------


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenIncident(_Command):
    """Start the SLA clock for a validated report.

    ``deadlines`` holds the deadlines of *every* severity (computed once from
    the receipt instant), so reclassification needs no further calendar call.
    ``next_opening_page`` is set for a critical report received late or outside
    hours (see ``SlaPolicy.critical_pages``).
    """

    kind: Literal["open"] = "open"
    ticket_id: str
    report: IncidentReport
    received_at: datetime
    deadlines: dict[Severity, Deadlines]
    next_opening_page: datetime | None = None
    rules: int = 1
    # Monitoring reports go on the public status page at once only when the
    # policy says so; ``True`` for incidents started before the policy could.
    publish_unconfirmed: bool = True


class Acknowledge(_Command):
    """Confirm receipt with classification and estimated resolution time."""

    kind: Literal["acknowledge"] = "acknowledge"
    severity: Severity
    estimate: AwareDatetime
    all_users: bool = False
    status_message: FreeText | None = None
    # Required (rules 3) when the estimate lies after the resolution deadline:
    # the customer is told why the SLA's time will not be kept.
    estimate_reason: FreeText | None = None


class Reclassify(_Command):
    """Change the severity; deadlines are recomputed from receipt.

    When the new resolution deadline falls before the live estimate (rules 3),
    ``estimate`` is required: the customer must never hold an estimate later
    than the deadline without being told why (``estimate_reason``).
    """

    kind: Literal["reclassify"] = "reclassify"
    severity: Severity
    reason: FreeText
    estimate: AwareDatetime | None = None
    estimate_reason: FreeText | None = None


class ExtendEstimate(_Command):
    """Communicate a new, later estimate with a reason."""

    kind: Literal["extend"] = "extend"
    estimate: AwareDatetime
    reason: FreeText


class Escalate(_Command):
    """Raise the escalation to stage 3 (management) or the extended process."""

    kind: Literal["escalate"] = "escalate"
    stage: Literal[3, "extended"]
    reason: FreeText
    by: EscalatedBy = EscalatedBy.COMPANY


class DecideResources(_Command):
    """Record management's decision on a stage-3 escalation."""

    kind: Literal["decide_resources"] = "decide_resources"
    decision: FreeText


class PostStatusUpdate(_Command):
    """Post a message on the status page (publishing it if ``all_users``)."""

    kind: Literal["status_update"] = "status_update"
    message: FreeText
    all_users: bool = False


class Resolve(_Command):
    """Close the incident with a summary for the customer."""

    kind: Literal["resolve"] = "resolve"
    summary: FreeText
    # The public status page's resolution text (rules 3; else a neutral one):
    # the summary is written for the reporter.
    public_message: FreeText | None = None


class MissEstimate(_Command):
    """Timer: the estimate has passed.

    ``reestimate_due`` (rules 3) is when the new estimate is due; the workflow
    computes it (business time) before issuing the command.
    """

    kind: Literal["miss_estimate"] = "miss_estimate"
    reestimate_due: datetime | None = None


class BreachReaction(_Command):
    """Timer: the reaction deadline has passed."""

    kind: Literal["breach_reaction"] = "breach_reaction"


class BreachResolution(_Command):
    """Timer: the resolution deadline has passed."""

    kind: Literal["breach_resolution"] = "breach_resolution"


class WarnDeadline(_Command):
    """Timer: a deadline is near (``alerts.warn_at`` of its time has passed)."""

    kind: Literal["warn"] = "warn"
    deadline: DeadlineKind


class PageOnDuty(_Command):
    """Timer: page on-duty about a critical incident.

    ``next_reminder_at`` is when to remind again if still unacknowledged; the
    workflow computes it (business time) before issuing the command.
    """

    kind: Literal["page"] = "page"
    reason: PageReason
    next_reminder_at: datetime | None = None


class RecordDeliveryFailure(_Command):
    """A notification failed permanently; recorded so that someone follows up."""

    kind: Literal["delivery_failure"] = "delivery_failure"
    message_kind: str
    to: tuple[str, ...]
    error: str


class RecomputeDeadlines(_Command):
    """The business calendar changed (booked extended on-call): replace the deadlines.

    ``deadlines`` holds the deadlines of every severity from receipt under the
    new calendar (computed by a local activity); ``windows`` are the on-call
    windows that calendar includes, kept for the record.
    """

    kind: Literal["recompute_deadlines"] = "recompute_deadlines"
    deadlines: dict[Severity, Deadlines]
    windows: tuple[OnCallWindow, ...] = ()


class ClassifyAsChangeRequest(_Command):
    """The report is no disturbance but a change request.

    New or acknowledged (work on it may show a missing feature): the incident
    is closed and a change request built from the report is started (it gets
    its own development ticket).
    ``title`` is the change request's title; ``reason`` tells the reporter why
    this is not a disturbance.
    """

    kind: Literal["classify_as_change_request"] = "classify_as_change_request"
    title: SingleLineText
    reason: FreeText


class RecordChangeRequest(_Command):
    """The change request of a classified report was started (its ID is known now).

    Allowed after resolution: the classification closes the incident at once,
    the change request ID only comes back from the intake activity.
    """

    kind: Literal["record_change_request"] = "record_change_request"
    change_request_id: str


class LinkDevTicket(_Command):
    """Link the incident to a bug ticket: a named one, or a new one titled ``title``.

    Not folded by ``decide`` itself: the workflow first asks the tracker
    (``link_incident``), then records the answer with :class:`RecordDevTicketLink`.
    """

    kind: Literal["link_dev_ticket"] = "link_dev_ticket"
    title: SingleLineText | None = None
    dev_ticket_id: DevTicketId | None = None
    description: LongText = ""

    @model_validator(mode="after")
    def _title_for_new_tickets(self) -> Self:
        if self.dev_ticket_id is None and not (self.title or "").strip():
            raise ValueError("a title is required to create a bug ticket (or name the ticket)")
        return self


class RecordDevTicketLink(_Command):
    """The tracker linked the incident to development ticket ``dev_ticket_id``.

    Allowed in any status: the incident may be resolved while the tracker answers.
    """

    kind: Literal["record_dev_ticket_link"] = "record_dev_ticket_link"
    dev_ticket_id: str
    title: str


class AmendReport(_Command):
    """Fill in report items that were missing at intake (or correct them)."""

    kind: Literal["amend_report"] = "amend_report"
    changes: ReportChanges
    source: SingleLineText = ""


class RecordCustomerMessage(_Command):
    """A message from the customer about the incident (a reply to one of our mails).

    ``message_id`` (the mail's Message-ID) makes it idempotent: a mail fetched
    twice is recorded once.
    """

    kind: Literal["customer_message"] = "customer_message"
    message_id: SingleLineText
    sender: EmailAddress
    subject: SingleLineText = ""
    text: FreeText
    attachments: Attachments = ()


class Reopen(_Command):
    """Reopen a resolved incident within the policy's window (``[reopen]``).

    ``deadlines`` (every severity) and ``next_opening_page`` are the clock of
    the new period, computed from the reopen instant like a receipt's;
    ``window_end`` is when the window closes (``domain.reopen.window_end``);
    ``erased`` says the reporter's personal data was erased (then nobody can be
    told, so nothing reopens).
    """

    kind: Literal["reopen"] = "reopen"
    reason: NonEmptyText
    by: SingleLineText
    source: ReopenSource = ReopenSource.OPERATOR
    deadlines: dict[Severity, Deadlines]
    next_opening_page: datetime | None = None
    window_end: AwareDatetime
    erased: bool = False


class NoteReply(_Command):
    """Keep a customer's reply to a resolved incident on its timeline (nothing reopens).

    ``[reopen] on_reply = "note"``: the reply within the window is recorded as
    a customer message, the team is told; idempotent by ``message_id``.
    """

    kind: Literal["note_reply"] = "note_reply"
    message_id: SingleLineText
    sender: EmailAddress
    subject: SingleLineText = ""
    text: FreeText
    attachments: Attachments = ()

    def as_message(self) -> RecordCustomerMessage:
        """The same reply as a customer message on an open incident (after a reopen)."""
        return RecordCustomerMessage(
            message_id=self.message_id,
            sender=self.sender,
            subject=self.subject,
            text=self.text,
            attachments=self.attachments,
        )


class RecordAlert(_Command):
    """Another notification of the monitoring alert group this incident was opened for.

    ``firing`` adds to the timeline; ``resolved`` is recorded and the operator
    told — the ticket stays open until a person confirms the resolution.
    """

    kind: Literal["alert"] = "alert"
    status: Literal["firing", "resolved"]
    text: NonEmptyText


class RemindFollowUp(_Command):
    """Timer: a follow-up is due; ``after``/``due`` as the workflow computed them."""

    kind: Literal["remind_follow_up"] = "remind_follow_up"
    follow_up: FollowUp
    after: datetime
    due: datetime


class RecordReestimateOverdue(_Command):
    """Timer: the new estimate after a miss did not come by ``EstimateMissed.reestimate_due``."""

    kind: Literal["reestimate_overdue"] = "reestimate_overdue"


class RecordDiscussion(_Command):
    """Stage 2: the further procedure was discussed with the customer."""

    kind: Literal["record_discussion"] = "record_discussion"
    note: FreeText
    experts: tuple[SingleLineText, ...] = Field(default=(), max_length=20)


class MasterFacts(BaseModel):
    """What a duplicate follows of its master: sent by the master after each change.

    Attributes:
        master_ticket_id: The master's ticket ID.
        acknowledged: Whether the master was acknowledged.
        estimate: The master's estimate (``None`` before its acknowledgement).
        estimate_failed: The estimate passed without resolution; a new one follows.
        reason: Why the estimate is what it is (the last extension's reason, or
            the acknowledgement's reason for an estimate after the deadline).
        resolved: Whether the master was resolved.
        summary: The master's resolution summary, once resolved.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    master_ticket_id: RequestId
    acknowledged: bool = False
    estimate: datetime | None = None
    estimate_failed: bool = False
    reason: FreeText | None = None
    resolved: bool = False
    summary: FreeText | None = None


class LinkAsDuplicate(_Command):
    """Mark this report as a duplicate of ``master_ticket_id`` (same disturbance).

    ``facts``: the master's state as the linking operator's tool read it; the
    master sends its own once it has registered the duplicate.
    """

    kind: Literal["link_as_duplicate"] = "link_as_duplicate"
    master_ticket_id: RequestId
    facts: MasterFacts | None = None


class RegisterDuplicate(_Command):
    """The master learns of a duplicate; it sends its facts to it from now on.

    ``public_message``: the duplicate's public status text when it was on the
    status page (the master publishes it unless it is on the page itself).
    """

    kind: Literal["register_duplicate"] = "register_duplicate"
    ticket_id: RequestId
    on_status_page: bool = False
    public_message: FreeText | None = None


class FollowMaster(_Command):
    """The master changed (acknowledged, new estimate, resolved): the duplicate follows."""

    kind: Literal["follow_master"] = "follow_master"
    facts: MasterFacts


Command = (
    OpenIncident
    | Acknowledge
    | Reclassify
    | ExtendEstimate
    | Escalate
    | DecideResources
    | PostStatusUpdate
    | Resolve
    | MissEstimate
    | BreachReaction
    | BreachResolution
    | WarnDeadline
    | PageOnDuty
    | RecordDeliveryFailure
    | RecomputeDeadlines
    | ClassifyAsChangeRequest
    | RecordChangeRequest
    | RecordDevTicketLink
    | AmendReport
    | RecordCustomerMessage
    | RecordAlert
    | RemindFollowUp
    | RecordReestimateOverdue
    | RecordDiscussion
    | LinkAsDuplicate
    | RegisterDuplicate
    | FollowMaster
    | Reopen
    | NoteReply
)
"""Any incident command."""

TimerCommand = (
    MissEstimate
    | BreachReaction
    | BreachResolution
    | WarnDeadline
    | PageOnDuty
    | RemindFollowUp
    | RecordReestimateOverdue
)
