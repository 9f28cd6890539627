"""Who is told what, for each incident event (pure rules).

The workflow hands every new event to :func:`notifications_for` and sends what
comes back through the notification activity; it holds no rule of its own
about recipients. Every notification carries a deterministic ``message_id``
derived from ticket, event position and message kind, so a retried activity
re-sends the *same* message rather than a second one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.dev_ticket import BUG_LINKED, BUG_MAIL_RULES, bug_message_id
from domain.incident import (
    Acknowledged,
    AlertNotified,
    ChangeRequestRecorded,
    CustomerMessageReceived,
    DeadlineWarned,
    DeliveryFailed,
    DevTicketLinked,
    Escalated,
    EscalationStage,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    FollowUp,
    FollowUpReminded,
    IncidentReopened,
    IncidentReported,
    IncidentState,
    OnDutyPaged,
    ReactionBreached,
    Reclassified,
    ReestimateOverdue,
    ResolutionBreached,
    Resolved,
    ResourcesDecided,
)
from domain.sla import Contacts, Customer, Severity, SlaPolicy


class MessageKind(StrEnum):
    """Kinds of e-mail; each has a German template of the same name."""

    RECEIPT = "receipt"
    ACKNOWLEDGEMENT = "acknowledgement"
    RECLASSIFICATION = "reclassification"
    EXTENSION = "extension"
    NEW_ESTIMATE_REQUIRED = "new_estimate_required"
    STAGE_2 = "stage_2"
    MANAGEMENT_ESCALATION = "management_escalation"
    EXTENDED_ESCALATION = "extended_escalation"
    RESOURCES_DECIDED = "resources_decided"
    DEADLINE_WARNING = "deadline_warning"
    REACTION_BREACH = "reaction_breach"
    RESOLUTION_BREACH = "resolution_breach"
    ON_DUTY_PAGE = "on_duty_page"
    RESOLUTION = "resolution"
    DELIVERY_FAILED = "delivery_failed"
    CLASSIFIED_AS_CHANGE_REQUEST = "classified_as_change_request"
    ESTIMATE_MISSED = "estimate_missed"
    CUSTOMER_MESSAGE = "customer_message"
    ALERT_RESOLVED = "alert_resolved"
    FOLLOW_UP_REMINDER = "follow_up_reminder"
    REESTIMATE_OVERDUE = "reestimate_overdue"
    BUG_LINKED = BUG_LINKED
    REOPENED = "reopened"
    REOPENED_TEAM = "reopened_team"


class IncidentFacts(BaseModel):
    """What every message about an incident may mention."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    company: str
    reporter: str
    reporter_email: str
    description: str
    # Defaults: facts computed before these existed travel in carried effects.
    reporter_name: str | None = None
    reporter_phone: str | None = None
    channel: str = "chat"
    missing: tuple[str, ...] = ()
    missing_labels: tuple[str, ...] = ()
    scope: str | None = None
    reproducible: bool | None = None
    first_noticed_at: datetime | None = None
    attachments: tuple[str, ...] = ()
    status_page_url: str | None = None
    # The premium phone support number; set only when the report proves a
    # premium customer, so a mail to a standard customer can never show it.
    support_hotline: str | None = None
    # A critical report received late or outside business hours (and outside a
    # booked on-call window) is worked on from this instant, not at once.
    next_opening_page: datetime | None = None
    severity: Severity
    classified: bool
    received_at: datetime
    reaction_due: datetime
    resolution_due: datetime
    estimate: datetime | None
    escalation_stage: EscalationStage
    all_users: bool
    timezone: str


class ParticipantRole(StrEnum):
    """Who takes part in the extended escalation, as its mail names them."""

    OUR_MANAGEMENT = "our_management"
    CUSTOMER_MANAGEMENT = "customer_management"
    CUSTOMER_IT = "customer_it"
    CUSTOMER_CONTACTS = "customer_contacts"
    REPORTER = "reporter"
    EXPERTS = "experts"
    SUPPORT_LEAD = "support_lead"

    @property
    def label_de(self) -> str:
        """The group as the mail names it."""
        return _PARTICIPANT_DE[self]


_PARTICIPANT_DE = {
    ParticipantRole.OUR_MANAGEMENT: "Geschäftsführung der Convento GmbH",
    ParticipantRole.CUSTOMER_MANAGEMENT: "Führungspersonen Ihres Unternehmens",
    ParticipantRole.CUSTOMER_IT: "IT-Fachkräfte Ihres Unternehmens",
    ParticipantRole.CUSTOMER_CONTACTS: "Ansprechpartner Ihres Unternehmens",
    ParticipantRole.REPORTER: "Meldende Person",
    ParticipantRole.EXPERTS: "Fachkräfte der Convento GmbH",
    ParticipantRole.SUPPORT_LEAD: "Support-Leitung der Convento GmbH",
}


class Participant(BaseModel):
    """One group of recipients of a message, named in its text."""

    model_config = ConfigDict(frozen=True)

    role: ParticipantRole
    addresses: tuple[str, ...]


class Notification(BaseModel):
    """One e-mail to send: template kind, recipients, facts and the triggering event.

    ``participants`` names the recipients by group where the text says who was
    included (the extended escalation); ``to`` is the same addresses.
    """

    model_config = ConfigDict(frozen=True)

    kind: MessageKind
    message_id: str
    to: tuple[str, ...]
    facts: IncidentFacts
    event: Event
    timeline: tuple[Event, ...] = ()
    participants: tuple[Participant, ...] = ()


def message_id(ticket_id: str, sequence: int, kind: MessageKind, domain: str) -> str:
    """Deterministic RFC 5322 Message-ID for the ``sequence``-th event of a ticket."""
    return f"<{ticket_id}.{sequence}.{kind.value}@{domain}>"


def thread_root_id(ticket_id: str, domain: str) -> str:
    """The Message-ID every mail of a ticket refers to, so mail clients thread them.

    It is the receipt's: the report is always the ticket's event 0, and the
    receipt its first customer mail. Derived, not stored, so no workflow has to
    remember it. A ticket without a receipt (a phone report without an e-mail
    address) still threads: clients group by the ID even when they never saw it.
    """
    return message_id(ticket_id, 0, MessageKind.RECEIPT, domain)


def facts_of(
    state: IncidentState,
    timezone: str,
    status_page_url: str | None = None,
    *,
    support_hotline: str | None = None,
) -> IncidentFacts:
    """The :class:`IncidentFacts` of ``state``.

    Args:
        state: The incident.
        timezone: Zone for times shown in German texts.
        status_page_url: The policy's public status page.
        support_hotline: The premium hotline, for a report that proves a
            premium customer only (:meth:`SlaPolicy.hotline_for`).
    """
    return IncidentFacts(
        ticket_id=state.ticket_id,
        company=state.report.company_or_unknown,
        reporter=state.report.reporter_or_unknown,
        reporter_email=state.report.email or "(keine E-Mail)",
        description=state.report.description,
        reporter_name=state.report.full_name,
        reporter_phone=state.report.phone,
        channel=state.report.channel.value,
        missing=tuple(item.value for item in state.report.missing),
        missing_labels=tuple(item.label_de for item in state.report.missing),
        scope=state.report.scope.value if state.report.scope else None,
        reproducible=state.report.reproducible,
        first_noticed_at=state.report.first_noticed_at,
        attachments=state.report.attachments,
        status_page_url=status_page_url,
        support_hotline=support_hotline,
        next_opening_page=state.next_opening_page,
        severity=state.severity,
        classified=state.classified,
        received_at=state.received_at,
        reaction_due=state.reaction_due,
        resolution_due=state.resolution_due,
        estimate=state.estimate,
        escalation_stage=state.escalation_stage,
        all_users=state.all_users,
        timezone=timezone,
    )


def _directory_entry(state: IncidentState, policy: SlaPolicy) -> Customer | None:
    """The reporting customer's entry: by customer number, e-mail domain, then typed name.

    The name counts here: it says whom to tell, not what the customer may use.
    """
    return policy.customer_for(state.report)


def _customer_contacts(state: IncidentState, policy: SlaPolicy) -> tuple[str, ...]:
    """The reporter plus the company's directory contacts, without repeats."""
    entry = _directory_entry(state, policy)
    addresses = [*_reporter(state), *(entry.contacts if entry else ())]
    return tuple(dict.fromkeys(a.lower() for a in addresses))


def extended_escalation_participants(
    state: IncidentState, policy: SlaPolicy
) -> tuple[Participant, ...]:
    """Everyone the extended escalation includes, by group; each address once.

    The SLA: "An diesem Prozess beteiligen sich Führungspersonen beider
    Unternehmen sowie die betroffenen Fachkräfte" — our management and
    experts, the customer's leadership and IT from the directory
    (``[customers.roles]``), its general contacts and the reporter; the
    support lead keeps the case. Groups without an address are left out.
    """
    contacts: Contacts = policy.contacts
    entry = _directory_entry(state, policy)
    groups: list[tuple[ParticipantRole, tuple[str, ...]]] = [
        (ParticipantRole.OUR_MANAGEMENT, (contacts.management,)),
        (ParticipantRole.CUSTOMER_MANAGEMENT, entry.roles.management if entry else ()),
        (ParticipantRole.CUSTOMER_IT, entry.roles.it if entry else ()),
        (ParticipantRole.CUSTOMER_CONTACTS, entry.contacts if entry else ()),
        (ParticipantRole.REPORTER, _reporter(state)),
        (ParticipantRole.EXPERTS, (contacts.experts,)),
        (ParticipantRole.SUPPORT_LEAD, (contacts.support_lead,)),
    ]
    seen: set[str] = set()
    participants = []
    for role, addresses in groups:
        fresh = []
        for address in addresses:
            # Customer addresses compare lower-cased, as _customer_contacts does.
            key = address.lower()
            if key not in seen:
                seen.add(key)
                fresh.append(address if role in _OURS else key)
        if fresh:
            participants.append(Participant(role=role, addresses=tuple(fresh)))
    return tuple(participants)


_OURS = frozenset(
    {ParticipantRole.OUR_MANAGEMENT, ParticipantRole.EXPERTS, ParticipantRole.SUPPORT_LEAD}
)


def _reporter(state: IncidentState) -> tuple[str, ...]:
    """The reporter's address; none when the report came by phone without one."""
    return (state.report.email,) if state.report.email else ()


def _recipients(
    event: Event, state: IncidentState, policy: SlaPolicy
) -> tuple[MessageKind, tuple[str, ...]] | None:
    contacts: Contacts = policy.contacts
    reporter = _reporter(state)
    match event:
        case IncidentReported():
            return MessageKind.RECEIPT, reporter
        case Acknowledged():
            return MessageKind.ACKNOWLEDGEMENT, reporter
        case Reclassified(at_acknowledgement=False) if state.acknowledged_at is not None:
            return MessageKind.RECLASSIFICATION, reporter
        case EstimateExtended():
            return MessageKind.EXTENSION, reporter
        case Escalated(stage=1, trigger=EscalationTrigger.ESTIMATE_MISSED):
            return MessageKind.NEW_ESTIMATE_REQUIRED, (contacts.support_lead,)
        case Escalated(stage=2):
            # "… mit dem Kunden besprochen … weitere Fachpersonen": the customer's
            # IT specialists from the directory too, not only its general contacts.
            entry = _directory_entry(state, policy)
            return MessageKind.STAGE_2, (
                *_customer_contacts(state, policy),
                *(entry.roles.it if entry else ()),
                contacts.experts,
                contacts.support_lead,
            )
        case Escalated(stage=3):
            return MessageKind.MANAGEMENT_ESCALATION, (contacts.management, contacts.support_lead)
        case Escalated(stage="extended"):
            # One message with more recipients (not one per group): a recorded
            # history schedules exactly one send for this event.
            participants = extended_escalation_participants(state, policy)
            return MessageKind.EXTENDED_ESCALATION, tuple(
                address for group in participants for address in group.addresses
            )
        case ResourcesDecided():
            return MessageKind.RESOURCES_DECIDED, (contacts.support_lead, contacts.experts)
        case DeadlineWarned():
            return MessageKind.DEADLINE_WARNING, (contacts.support_lead,)
        case ReactionBreached():
            return MessageKind.REACTION_BREACH, (contacts.support_lead,)
        case ResolutionBreached(customer_informed=True):
            # The customer had a reasoned extension in time: the SLA's word is
            # kept, the target missed. Management hears of broken obligations.
            return MessageKind.RESOLUTION_BREACH, (contacts.support_lead,)
        case ResolutionBreached():
            return MessageKind.RESOLUTION_BREACH, (contacts.support_lead, contacts.management)
        case OnDutyPaged():
            return MessageKind.ON_DUTY_PAGE, (contacts.on_duty,)
        case Resolved():
            return MessageKind.RESOLUTION, reporter
        case IncidentReopened():
            # The customer's mail; the team's notice comes beside it (_TEAM_NOTICES).
            return MessageKind.REOPENED, reporter
        case ChangeRequestRecorded():
            # Sent once the change request ID is known, not at classification.
            return MessageKind.CLASSIFIED_AS_CHANGE_REQUEST, reporter
        case EstimateMissed(followed_up=True):
            # The SLA: "schätzen wir die Störungsbehebungszeit neu und informieren
            # anschließend die betroffenen Anwender" — every miss, at any stage.
            return MessageKind.ESTIMATE_MISSED, _customer_contacts(state, policy)
        case CustomerMessageReceived():
            return MessageKind.CUSTOMER_MESSAGE, (contacts.support_lead,)
        case AlertNotified(status="resolved"):
            # Told, not resolved: a person confirms the disturbance is gone.
            return MessageKind.ALERT_RESOLVED, (contacts.support_lead, contacts.on_duty)
        case FollowUpReminded():
            return MessageKind.FOLLOW_UP_REMINDER, _follow_up_recipients(event.kind, contacts)
        case ReestimateOverdue():
            return MessageKind.REESTIMATE_OVERDUE, (contacts.support_lead,)
        case DevTicketLinked() if state.rules >= BUG_MAIL_RULES:
            # The SLA: the customer can follow the development through the
            # ticket's own ID. Rules 4: older incidents replay without this mail.
            return MessageKind.BUG_LINKED, reporter
        case DeliveryFailed() if contacts.support_lead not in event.to:
            # Not when the support lead's own mail bounced: that would loop.
            return MessageKind.DELIVERY_FAILED, (contacts.support_lead,)
    return None


_TEAM_NOTICES: dict[str, MessageKind] = {"reopened": MessageKind.REOPENED_TEAM}
"""Events that tell the team as well as the customer, in a notice of their own."""


def _follow_up_recipients(kind: FollowUp, contacts: Contacts) -> tuple[str, ...]:
    """Who owns a follow-up: management decides at stage 3; on-duty works the rest."""
    if kind is FollowUp.DECISION:
        return (contacts.management, contacts.support_lead)
    return (contacts.on_duty, contacts.support_lead)


_WITH_TIMELINE = {MessageKind.MANAGEMENT_ESCALATION, MessageKind.EXTENDED_ESCALATION}

CUSTOMER_VISIBLE_EVENTS = frozenset(
    {
        "reported",
        "acknowledged",
        "reclassified",
        "estimate_extended",
        "estimate_missed",
        "escalated",
        "resources_decided",
        "status_published",
        "status_updated",
        "status_resolved",
        "resolved",
        "report_amended",
        "customer_message",
        "reopened",
    }
)
"""Event types a customer may read in a mail's timeline; the rest are the team's own
(pages, warnings, breaches, delivery failures, alerts, deadline recomputations)."""

_TO_CUSTOMERS = {MessageKind.EXTENDED_ESCALATION}


def _timeline(state: IncidentState, kind: MessageKind) -> tuple[Event, ...]:
    if kind not in _WITH_TIMELINE:
        return ()
    if kind in _TO_CUSTOMERS:
        return tuple(e for e in state.events if e.type in CUSTOMER_VISIBLE_EVENTS)
    return state.events


def notifications_for(
    state: IncidentState,
    sequence: int,
    policy: SlaPolicy,
    *,
    mail_domain: str = "sla.myconvento.com",
) -> list[Notification]:
    """The e-mails caused by the ``sequence``-th event of ``state.events``.

    ``state`` is the state after the command that caused the event, so the
    message shows the incident as it now is (new estimate, new stage).

    Args:
        state: The incident including the event.
        sequence: Index of the event in ``state.events``.
        policy: Contacts and customer directory.
        mail_domain: Right-hand side of generated Message-IDs.

    Returns:
        Zero or one notification; two for a reopen (the customer's mail
        and the team's notice).
    """
    event = state.events[sequence]
    routes = [_recipients(event, state, policy)]
    team_notice = _TEAM_NOTICES.get(event.type)
    if team_notice is not None:
        routes.append((team_notice, (policy.contacts.support_lead, policy.contacts.on_duty)))
    return [
        notification
        for routed in routes
        if routed is not None
        for notification in _notification(state, sequence, event, routed, policy, mail_domain)
    ]


def _notification(
    state: IncidentState,
    sequence: int,
    event: Event,
    routed: tuple[MessageKind, tuple[str, ...]],
    policy: SlaPolicy,
    mail_domain: str,
) -> list[Notification]:
    kind, to = routed
    if not to:
        return []  # a customer message, and the reporter left no e-mail address
    if isinstance(event, DevTicketLinked):
        # One ID per (incident, dev ticket), the same LinkBugWorkflow uses for a
        # resolved incident: linking again never tells the reporter twice.
        mail_id = bug_message_id(
            state.ticket_id, event.dev_ticket_id, kind.value, domain=mail_domain
        )
    else:
        mail_id = message_id(state.ticket_id, sequence, kind, mail_domain)
    return [
        Notification(
            kind=kind,
            message_id=mail_id,
            to=tuple(dict.fromkeys(to)),
            facts=facts_of(
                state,
                policy.calendar_spec.timezone,
                policy.status_page.url,
                support_hotline=policy.hotline_for(state.report),
            ),
            event=event,
            timeline=_timeline(state, kind),
            participants=(
                extended_escalation_participants(state, policy)
                if kind is MessageKind.EXTENDED_ESCALATION
                else ()
            ),
        )
    ]
