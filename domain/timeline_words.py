"""Incident words for people: event labels and one-line timeline sentences, German and English.

Why this lives in ``domain/`` although it is presentation: two layers need the
same words and may not import each other's code. The operator CLI
(``sla show``, ``sla list``) prints the timeline in words, and the e-mails to
management and to the leaders of the extended escalation (``activities/``)
quote the same timeline in German. ``activities`` must not import ``cli``
(``tests/architecture``), so the lowest layer both may use holds the words
once. The module is as pure as the rest of ``domain/``: no I/O, no clock, no
rich markup, no ``temporalio``; instants are shown in the zone the caller
passes (the policy's).

The sentences are plain text and carry customer and operator text (reasons,
summaries, names) as it was recorded: a terminal front end must neutralise
them (``cli.terminal.safe``), as it does any untrusted text.

Automatic events carry German reasons written by the decider (mails quote
them); the English sentences name the trigger instead of quoting those.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import TypeAlias, assert_never, get_args

from domain.events import (
    Acknowledged,
    AlertNotified,
    ChangeRequestRecorded,
    ClassifiedAsChangeRequest,
    CustomerMessageReceived,
    DeadlineKind,
    DeadlinesRecomputed,
    DeadlineWarned,
    DeliveryFailed,
    DevTicketLinked,
    DiscussionRecorded,
    DuplicateRegistered,
    Escalated,
    EscalatedBy,
    EscalationStage,
    EscalationTrigger,
    EstimateExtended,
    EstimateMissed,
    Event,
    FollowUp,
    FollowUpReminded,
    IncidentReopened,
    IncidentReported,
    IncidentStatus,
    LinkedAsDuplicate,
    OnDutyPaged,
    PageReason,
    ReactionBreached,
    Reclassified,
    ReestimateOverdue,
    ReopenSource,
    ReportAmended,
    ResolutionBreached,
    Resolved,
    ResourcesDecided,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
)
from domain.report import Channel, ReportItem, Scope
from domain.sla import Severity

__all__ = [
    "Language",
    "channel_word",
    "describe",
    "event_label",
    "event_types",
    "item_word",
    "long_time",
    "scope_word",
    "severity_word",
    "short_time",
    "stage_word",
    "status_word",
    "yes_no",
]


class Language(StrEnum):
    """The languages the words exist in."""

    DE = "de"
    EN = "en"


DE, EN = Language.DE, Language.EN

_Clock: TypeAlias = Callable[[datetime], str]
"""Shows an instant as :func:`short_time` does, in the caller's language and zone."""


def event_types() -> frozenset[str]:
    """The ``type`` of every incident event (the members of :data:`domain.events.Event`)."""
    union = get_args(Event)[0]
    return frozenset(model.model_fields["type"].default for model in get_args(union))


# -- labels: a headline per event type ------------------------------------------------

# The German labels are the ones the management mails have always shown.
_LABELS: dict[Language, dict[str, str]] = {
    DE: {
        "reported": "Störungsmeldung eingegangen",
        "acknowledged": "Bestätigt mit Klassifizierung und Schätzung",
        "reclassified": "Neu klassifiziert",
        "estimate_extended": "Störungsbehebungszeit verlängert",
        "estimate_missed": "Geschätzte Störungsbehebungszeit verpasst",
        "escalated": "Eskaliert",
        "resources_decided": "Entscheidung der Geschäftsführung",
        "deadline_warned": "Warnung: Frist bald erreicht",
        "reaction_breached": "Reaktionszeit überschritten",
        "resolution_breached": "Störungsbehebungszeit überschritten",
        "on_duty_paged": "Bereitschaft alarmiert",
        "status_published": "Auf der Störungsseite veröffentlicht",
        "status_updated": "Störungsseite aktualisiert",
        "status_resolved": "Störungsseite: behoben",
        "resolved": "Störung behoben",
        "delivery_failed": "Benachrichtigung nicht zustellbar",
        "deadlines_recomputed": "Fristen neu berechnet (erweiterte Bereitschaft)",
        "classified_as_change_request": "Als Änderungswunsch eingestuft (keine Störung)",
        "change_request_recorded": "Änderungswunsch erfasst",
        "dev_ticket_linked": "Mit Entwicklungs-Ticket verknüpft",
        "report_amended": "Angaben zur Meldung ergänzt",
        "customer_message": "Nachricht des Kunden",
        "alert_notified": "Erneute Meldung des Monitorings",
        "follow_up_reminded": "Erinnerung an offenen Schritt",
        "reestimate_overdue": "Neue Zeitabschätzung überfällig",
        "discussion_recorded": "Vorgehen mit dem Kunden besprochen (Stufe 2)",
        "linked_as_duplicate": "Als weitere Meldung einer bekannten Störung zugeordnet",
        "duplicate_registered": "Weitere Meldung derselben Störung zugeordnet",
        "reopened": "Wieder eröffnet",
    },
    EN: {
        "reported": "Report received",
        "acknowledged": "Acknowledged with classification and estimate",
        "reclassified": "Reclassified",
        "estimate_extended": "Estimate extended",
        "estimate_missed": "Estimate missed",
        "escalated": "Escalated",
        "resources_decided": "Management decided",
        "deadline_warned": "Warning: deadline near",
        "reaction_breached": "Reaction deadline breached",
        "resolution_breached": "Resolution deadline breached",
        "on_duty_paged": "On-duty paged",
        "status_published": "Published on the status page",
        "status_updated": "Status page updated",
        "status_resolved": "Status page: resolved",
        "resolved": "Resolved",
        "delivery_failed": "Notification not delivered",
        "deadlines_recomputed": "Deadlines recomputed (extended on-call)",
        "classified_as_change_request": "Classified as a change request (no disturbance)",
        "change_request_recorded": "Change request recorded",
        "dev_ticket_linked": "Linked to a development ticket",
        "report_amended": "Report amended",
        "customer_message": "Message from the customer",
        "alert_notified": "Monitoring notified again",
        "follow_up_reminded": "Reminder of an open step",
        "reestimate_overdue": "New estimate overdue",
        "discussion_recorded": "Next steps discussed with the customer (stage 2)",
        "linked_as_duplicate": "Linked as another report of a known disturbance",
        "duplicate_registered": "Another report of this disturbance linked",
        "reopened": "Reopened",
    },
}


def event_label(event_type: str, lang: Language = DE) -> str:
    """The headline of an event type (mails list the timeline by these).

    Args:
        event_type: An event's ``type``.
        lang: The language.

    Returns:
        The label; the type itself for a type without one (a history recorded
        by an older version may hold types that no longer exist).
    """
    return _LABELS[lang].get(event_type, event_type)


# -- vocabulary ---------------------------------------------------------------------

_WEEKDAYS = {
    DE: ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    EN: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

# German: the SLA's words (Severity.label_de), kept there for the mails.
_SEVERITIES_EN = {Severity.CRITICAL: "critical", Severity.MAJOR: "major", Severity.MINOR: "minor"}

_STAGES: dict[Language, dict[EscalationStage, str]] = {
    DE: {
        0: "keine",
        1: "Stufe 1",
        2: "Stufe 2",
        3: "Stufe 3 (Geschäftsführung)",
        "extended": "erweiterter Eskalationsprozess",
    },
    EN: {
        0: "none",
        1: "stage 1",
        2: "stage 2",
        3: "stage 3 (management)",
        "extended": "extended escalation",
    },
}

_STATUSES = {
    DE: {
        IncidentStatus.NEW: "neu",
        IncidentStatus.ACKNOWLEDGED: "bestätigt",
        IncidentStatus.RESOLVED: "behoben",
    },
    EN: {
        IncidentStatus.NEW: "new",
        IncidentStatus.ACKNOWLEDGED: "acknowledged",
        IncidentStatus.RESOLVED: "resolved",
    },
}

_ITEMS = {
    DE: {
        ReportItem.COMPANY: "Firma",
        ReportItem.FULL_NAME: "Name",
        ReportItem.PHONE: "Telefon",
        ReportItem.EMAIL: "E-Mail",
        ReportItem.FIRST_NOTICED_AT: "erstmals bemerkt",
        ReportItem.SCOPE: "Umfang",
        ReportItem.REPRODUCIBLE: "reproduzierbar",
    },
    EN: {
        ReportItem.COMPANY: "company",
        ReportItem.FULL_NAME: "name",
        ReportItem.PHONE: "phone",
        ReportItem.EMAIL: "e-mail",
        ReportItem.FIRST_NOTICED_AT: "first noticed",
        ReportItem.SCOPE: "scope",
        ReportItem.REPRODUCIBLE: "reproducible",
    },
}

_CHANNELS = {
    DE: {
        Channel.CHAT: "Chat",
        Channel.PHONE: "Telefon",
        Channel.EMAIL: "E-Mail",
        Channel.MONITORING: "Monitoring",
    },
    EN: {
        Channel.CHAT: "chat",
        Channel.PHONE: "phone",
        Channel.EMAIL: "e-mail",
        Channel.MONITORING: "monitoring",
    },
}

_SCOPES = {
    DE: {
        Scope.ALL_WORKSTATIONS: "alle Arbeitsplätze",
        Scope.SOME_WORKSTATIONS: "einzelne Arbeitsplätze",
    },
    EN: {Scope.ALL_WORKSTATIONS: "all workstations", Scope.SOME_WORKSTATIONS: "some workstations"},
}

_DEADLINES = {
    DE: {DeadlineKind.REACTION: "Reaktionsfrist", DeadlineKind.RESOLUTION: "Behebungsfrist"},
    EN: {
        DeadlineKind.REACTION: "reaction deadline",
        DeadlineKind.RESOLUTION: "resolution deadline",
    },
}

_FOLLOW_UPS = {
    DE: {
        FollowUp.REESTIMATE: "neue Zeitabschätzung",
        FollowUp.STATUS_UPDATE: "Zwischenstand auf der Störungsseite",
        FollowUp.DISCUSSION: "Abstimmung mit dem Kunden (Stufe 2)",
        FollowUp.DECISION: "Entscheidung der Geschäftsführung (Stufe 3)",
        FollowUp.CRITICAL_OPEN: "kritische Störung noch offen",
    },
    EN: {
        FollowUp.REESTIMATE: "new estimate",
        FollowUp.STATUS_UPDATE: "interim status page update",
        FollowUp.DISCUSSION: "discussion with the customer (stage 2)",
        FollowUp.DECISION: "management's decision (stage 3)",
        FollowUp.CRITICAL_OPEN: "critical incident still open",
    },
}

# ReportChanges fields beyond the seven report items.
_ATTACHMENTS = {DE: "Anhänge", EN: "attachments"}


def severity_word(severity: Severity, lang: Language) -> str:
    """The severity's word: ``critical`` / ``kritisch``."""
    return severity.label_de if lang is DE else _SEVERITIES_EN[severity]


def stage_word(stage: EscalationStage, lang: Language) -> str:
    """The stage's name: ``stage 3 (management)`` / ``Stufe 3 (Geschäftsführung)``."""
    return _STAGES[lang][stage]


def status_word(status: IncidentStatus, lang: Language) -> str:
    """The status's word: ``acknowledged`` / ``bestätigt``."""
    return _STATUSES[lang][status]


def item_word(item: ReportItem | str, lang: Language) -> str:
    """A report item in a few words (``first noticed`` / ``erstmals bemerkt``)."""
    if item == "attachments":
        return _ATTACHMENTS[lang]
    return _ITEMS[lang][ReportItem(item)]


def channel_word(channel: Channel, lang: Language) -> str:
    """The channel's word: ``chat`` / ``Chat``."""
    return _CHANNELS[lang][channel]


def scope_word(scope: Scope, lang: Language) -> str:
    """The scope in words: ``all workstations`` / ``alle Arbeitsplätze``."""
    return _SCOPES[lang][scope]


def yes_no(value: bool, lang: Language) -> str:
    """``yes``/``no`` or ``ja``/``nein``."""
    if lang is DE:
        return "ja" if value else "nein"
    return "yes" if value else "no"


def short_time(instant: datetime, lang: Language, zone: tzinfo) -> str:
    """``Mi 02.12. 11:00`` / ``Wed 02.12. 11:00``: wall-clock time in ``zone``.

    Without the year: a timeline and a deadline list read as a calendar does,
    and the weekday is what an operator plans by. :func:`long_time` adds it.
    """
    local = instant.astimezone(zone)
    return f"{_WEEKDAYS[lang][local.weekday()]} {local:%d.%m. %H:%M}"


def long_time(instant: datetime, lang: Language, zone: tzinfo) -> str:
    """``Mi 02.12.2026 11:00``: :func:`short_time` with the year (receipt, deadlines)."""
    local = instant.astimezone(zone)
    return f"{_WEEKDAYS[lang][local.weekday()]} {local:%d.%m.%Y %H:%M}"


# -- sentences: one line per event ------------------------------------------------------


def _quote(text: str, lang: Language) -> str:
    return f"„{text}“" if lang is DE else f"“{text}”"


def _first_line(text: str, limit: int = 80) -> str:
    """The first line of a long text, shortened: one line per event."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def describe(event: Event, lang: Language, zone: tzinfo) -> str:
    """One line in words for ``event``, without its time (the caller shows ``event.at``).

    Args:
        event: Any incident event.
        lang: The language of the sentence.
        zone: The zone instants are shown in (the policy's, Europe/Berlin).

    Returns:
        E.g. ``Bestätigt als kritisch, Schätzung Mi 02.12. 11:00`` or
        ``Acknowledged as critical, estimate Wed 02.12. 11:00``.
    """
    de = lang is DE

    def t(instant: datetime) -> str:
        return short_time(instant, lang, zone)

    def sev(severity: Severity) -> str:
        return severity_word(severity, lang)

    match event:
        case IncidentReported():
            report = event.report
            who = report.full_name or ("unbekannt" if de else "unknown reporter")
            if report.company:
                who = f"{who}, {report.company}"
            due = event.deadlines[event.severity].reaction_due
            via = channel_word(report.channel, lang)
            if de:
                text = (
                    f"Störungsmeldung eingegangen per {via} von {who} – "
                    f"Vorschlag {sev(event.severity)}, Reaktion bis {t(due)}"
                )
            else:
                text = (
                    f"Report received by {via} from {who} — "
                    f"suggested {sev(event.severity)}, reaction due {t(due)}"
                )
            if event.all_users:
                text += ", alle Benutzer betroffen" if de else ", all users affected"
            return text
        case Acknowledged():
            if de:
                text = f"Bestätigt als {sev(event.severity)}, Schätzung {t(event.estimate)}"
            else:
                text = f"Acknowledged as {sev(event.severity)}, estimate {t(event.estimate)}"
            if event.all_users:
                text += ", alle Benutzer betroffen" if de else ", all users affected"
            if not event.on_time:
                text += " (nach der Reaktionsfrist)" if de else " (after the reaction deadline)"
            if event.estimate_reason:
                reason = event.estimate_reason
                text += f" – Begründung: {reason}" if de else f" — reason: {reason}"
            return text
        case Reclassified():
            change = (
                f"von {sev(event.previous)} zu {sev(event.severity)}"
                if de
                else f"from {sev(event.previous)} to {sev(event.severity)}"
            )
            if event.at_acknowledgement:
                # The decider's reason is a German stock phrase: say what it means.
                why = " bei der Bestätigung" if de else " at acknowledgement"
            else:
                why = f": {event.reason}"
            if de:
                text = (
                    f"Neu klassifiziert {change}{why}; Reaktion bis {t(event.reaction_due)}, "
                    f"Behebung bis {t(event.resolution_due)}"
                )
            else:
                text = (
                    f"Reclassified {change}{why}; reaction due {t(event.reaction_due)}, "
                    f"resolution due {t(event.resolution_due)}"
                )
            if event.estimate is not None:
                text += (
                    f"; neue Schätzung {t(event.estimate)}"
                    if de
                    else f"; new estimate {t(event.estimate)}"
                )
                if event.estimate_reason:
                    text += f" ({event.estimate_reason})"
            return text
        case EstimateExtended():
            if de:
                text = (
                    f"Schätzung verlängert von {t(event.previous)} auf {t(event.estimate)}: "
                    f"{event.reason}"
                )
                return text + (" (vor Ablauf ersetzt)" if event.replaced_live else "")
            text = (
                f"Estimate extended from {t(event.previous)} to {t(event.estimate)}: {event.reason}"
            )
            return text + (" (replaced before it expired)" if event.replaced_live else "")
        case EstimateMissed():
            text = (
                f"Schätzung {t(event.estimate)} verpasst"
                if de
                else f"Estimate {t(event.estimate)} missed"
            )
            if event.followed_up:
                text += ", Kunde informiert" if de else ", customer told"
            if event.reestimate_due is not None:
                text += (
                    f"; neue Schätzung fällig bis {t(event.reestimate_due)}"
                    if de
                    else f"; new estimate due by {t(event.reestimate_due)}"
                )
            return text
        case Escalated():
            return _escalated(event, lang)
        case ResourcesDecided():
            prefix = "Entscheidung der Geschäftsführung" if de else "Management decided"
            return f"{prefix}: {event.decision}"
        case DeadlineWarned():
            deadline = _DEADLINES[lang][event.kind]
            if de:
                return f"Supportleitung gewarnt: {deadline} {t(event.due)} naht"
            return f"Support lead warned: {deadline} {t(event.due)} is near"
        case ReactionBreached():
            if de:
                return f"Reaktionszeit überschritten (Frist {t(event.due)})"
            return f"Reaction deadline {t(event.due)} breached"
        case ResolutionBreached():
            if de:
                text = f"Störungsbehebungszeit überschritten (Frist {t(event.due)})"
                informed = {
                    True: "; der Kunde hatte eine neue Zeit mit Begründung",
                    False: "; der Kunde hatte keine neue Zeit mit Begründung",
                }
            else:
                text = f"Resolution deadline {t(event.due)} breached"
                informed = {
                    True: "; the customer had a new time with a reason",
                    False: "; the customer had no new time with a reason",
                }
            return text + (
                "" if event.customer_informed is None else informed[event.customer_informed]
            )
        case OnDutyPaged():
            return _paged(event, lang, t)
        case StatusPublished():
            text = "Auf der Störungsseite veröffentlicht" if de else "Published on the status page"
            return text + _status_details(event.message, event.expected_resolution, lang, t)
        case StatusUpdated():
            text = "Störungsseite aktualisiert" if de else "Status page updated"
            text += _status_details(event.message, event.expected_resolution, lang, t)
            if event.estimate_withdrawn:
                text += (
                    "; abgelaufene Schätzung entfernt, neue folgt"
                    if de
                    else "; expired estimate withdrawn, a new one follows"
                )
            return text
        case StatusResolved():
            prefix = "Störungsseite: behoben" if de else "Status page: resolved"
            return f"{prefix} – {event.message}" if de else f"{prefix} — {event.message}"
        case Resolved():
            return _resolved(event.summary, event.reaction_met, event.resolution_met, lang)
        case DeliveryFailed():
            to = ", ".join(event.to)
            if de:
                return (
                    f"Benachrichtigung ({event.message_kind}) an {to} nicht zustellbar: "
                    f"{event.error}"
                )
            return f"Could not deliver the {event.message_kind} message to {to}: {event.error}"
        case DeadlinesRecomputed():
            if de:
                return (
                    f"Fristen neu berechnet (erweiterte Bereitschaft): Reaktion bis "
                    f"{t(event.reaction_due)}, Behebung bis {t(event.resolution_due)}"
                )
            return (
                f"Deadlines recomputed (extended on-call): reaction due {t(event.reaction_due)}, "
                f"resolution due {t(event.resolution_due)}"
            )
        case ClassifiedAsChangeRequest():
            if de:
                return (
                    f"Als Änderungswunsch eingestuft (keine Störung): "
                    f"{_quote(event.title, lang)} – {event.reason}"
                )
            return (
                f"Classified as a change request, not a disturbance: "
                f"{_quote(event.title, lang)} — {event.reason}"
            )
        case ChangeRequestRecorded():
            if de:
                title = _quote(event.title, lang)
                return f"Änderungswunsch {event.change_request_id} erfasst: {title}"
            return f"Change request {event.change_request_id} recorded: {_quote(event.title, lang)}"
        case DevTicketLinked():
            if de:
                return (
                    f"Mit Entwicklungs-Ticket {event.dev_ticket_id} verknüpft: "
                    f"{_quote(event.title, lang)}"
                )
            return (
                f"Linked to development ticket {event.dev_ticket_id}: {_quote(event.title, lang)}"
            )
        case ReportAmended():
            items = ", ".join(item_word(name, lang) for name in event.changes.given())
            text = f"Angaben zur Meldung ergänzt: {items}" if de else f"Report amended: {items}"
            if event.source:
                text += f" (über {event.source})" if de else f" (via {event.source})"
            return text
        case CustomerMessageReceived():
            about = event.subject or _first_line(event.text)
            text = (
                f"Nachricht des Kunden von {event.sender}: {_quote(about, lang)}"
                if de
                else f"Message from the customer, {event.sender}: {_quote(about, lang)}"
            )
            if event.attachments:
                n = len(event.attachments)
                if de:
                    text += " (1 Anhang)" if n == 1 else f" ({n} Anhänge)"
                else:
                    text += " (1 attachment)" if n == 1 else f" ({n} attachments)"
            return text
        case AlertNotified():
            if de:
                state = "aktiv" if event.status == "firing" else "aufgehoben"
                return f"Erneute Meldung des Monitorings ({state}): {_first_line(event.text)}"
            return f"Monitoring notified again ({event.status}): {_first_line(event.text)}"
        case FollowUpReminded():
            step = _FOLLOW_UPS[lang][event.kind]
            if de:
                return f"Erinnerung: {step}, offen seit {t(event.since)}"
            return f"Reminder: {step}, open since {t(event.since)}"
        case ReestimateOverdue():
            if de:
                return (
                    f"Neue Zeitabschätzung überfällig (fällig {t(event.due)}, "
                    f"Schätzung verpasst {t(event.missed_at)})"
                )
            return (
                f"New estimate overdue (due {t(event.due)}, estimate missed {t(event.missed_at)})"
            )
        case DiscussionRecorded():
            text = (
                f"Vorgehen mit dem Kunden besprochen: {event.note}"
                if de
                else f"Next steps discussed with the customer: {event.note}"
            )
            if event.experts:
                experts = ", ".join(event.experts)
                text += f" (Experten: {experts})" if de else f" (experts: {experts})"
            return text
        case LinkedAsDuplicate():
            text = (
                f"Als weitere Meldung der Störung {event.master_ticket_id} zugeordnet; "
                "folgt deren Schätzung und Behebung"
                if de
                else f"Linked as a duplicate of {event.master_ticket_id}; follows its estimate "
                "and resolution"
            )
            if event.merged_status:
                text += (
                    " (Eintrag auf der Störungsseite zusammengeführt)"
                    if de
                    else " (status-page entry merged)"
                )
            return text
        case DuplicateRegistered():
            if de:
                return f"Weitere Meldung derselben Störung: {event.ticket_id}"
            return f"Another report of this disturbance: {event.ticket_id}"
        case IncidentReopened():
            reaction = t(event.deadlines[event.severity].reaction_due)
            who = (
                ("vom Kunden per Antwort" if de else "by the customer's reply")
                if event.source is ReopenSource.CUSTOMER_REPLY
                else (f"von {event.by}" if de else f"by {event.by}")
            )
            if de:
                return (
                    f"Wieder eröffnet {who}: {_quote(event.reason, lang)} – Reaktion bis {reaction}"
                )
            return f"Reopened {who}: {_quote(event.reason, lang)} — reaction due {reaction}"
        case _:
            assert_never(event)


def _escalated(event: Escalated, lang: Language) -> str:
    de = lang is DE
    stage = stage_word(event.stage, lang)
    if event.stage == "extended":
        text = "Erweiterter Eskalationsprozess ausgelöst" if de else "Extended escalation triggered"
    else:
        text = f"Eskaliert auf {stage}" if de else f"Escalated to {stage}"
    match event.trigger:
        case EscalationTrigger.ESTIMATE_MISSED:
            return text + (" (Schätzung ohne Behebung verstrichen)" if de else " (estimate missed)")
        case EscalationTrigger.ESTIMATE_REPLACED:
            return text + (
                " (Schätzung vor Ablauf verlängert)"
                if de
                else " (estimate extended before it expired)"
            )
        case EscalationTrigger.OPERATOR:
            if event.by is EscalatedBy.CUSTOMER:
                text += " vom Kunden" if de else " by the customer"
            elif event.by is EscalatedBy.COMPANY:
                text += " von uns" if de else " by us"
            return f"{text}: {event.reason}"
        case _:
            assert_never(event.trigger)


def _paged(event: OnDutyPaged, lang: Language, t: _Clock) -> str:
    de = lang is DE
    match event.reason:
        case PageReason.RECEIVED:
            text = "Bereitschaft alarmiert" if de else "On-duty paged"
        case PageReason.NEXT_OPENING:
            text = (
                "Bereitschaft zum Arbeitsbeginn erneut alarmiert"
                if de
                else "On-duty paged again at opening"
            )
        case PageReason.REMINDER:
            text = (
                "Bereitschaft erinnert (noch unbestätigt)"
                if de
                else "On-duty reminded (still unacknowledged)"
            )
        case _:
            assert_never(event.reason)
    if event.next_reminder_at is not None:
        text += (
            f", nächste Erinnerung {t(event.next_reminder_at)}"
            if de
            else f", next reminder {t(event.next_reminder_at)}"
        )
    return text


def _status_details(
    message: str | None, expected: datetime | None, lang: Language, t: _Clock
) -> str:
    de = lang is DE
    text = f": {message}" if message else ""
    if expected is not None:
        text += (
            f" (erwartete Behebung {t(expected)})"
            if de
            else f" (expected resolution {t(expected)})"
        )
    return text


def _resolved(summary: str, reaction_met: bool, resolution_met: bool, lang: Language) -> str:
    if lang is DE:
        met = {True: "fristgerecht", False: "nicht fristgerecht"}
        return (
            f"Störung behoben: {summary} – Reaktion {met[reaction_met]}, "
            f"Behebung {met[resolution_met]}"
        )
    met = {True: "in time", False: "late"}
    return f"Resolved: {summary} — reaction {met[reaction_met]}, resolution {met[resolution_met]}"
