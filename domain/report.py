"""Intake models: the disturbance report ("Störungsmeldung") and change requests.

The SLA *asks* for seven items ("bitten wir Sie um folgende Angaben"). A
support desk takes the report even when some are missing, starts the clock and
asks for the rest: the model refuses only what cannot be worked on — no
description, no way to reach the reporter (neither e-mail nor phone) — and
malformed values, naming every bad field at once. :attr:`IncidentReport.missing`
names the items still to ask for.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from domain.sla import Severity, SlaPolicy
from domain.values import (
    Attachments,
    AwareDatetime,
    CustomerNumber,
    Description,
    EmailAddress,
    NonEmptyLine,
    PhoneNumber,
    Reference,
    limit_violations,
)

__all__ = [
    "Attachments",
    "ChangeRequest",
    "Channel",
    "FullName",
    "IncidentReport",
    "PhoneNumber",
    "Reference",
    "ReportChanges",
    "ReportItem",
    "RequestId",
    "Scope",
    "check_limits",
]


class Channel(StrEnum):
    """How the report reached us."""

    CHAT = "chat"
    PHONE = "phone"  # premium subscriptions only
    EMAIL = "email"  # read in business hours only; same SLA clock
    MONITORING = "monitoring"


class Scope(StrEnum):
    """Whether the fault shows at all workstations or only at some."""

    ALL_WORKSTATIONS = "all_workstations"
    SOME_WORKSTATIONS = "some_workstations"


def _check_full_name(value: str) -> str:
    if len(value.split()) < 2:
        raise ValueError("give first and last name (Vor- und Nachname)")
    return value


FullName = Annotated[NonEmptyLine, AfterValidator(_check_full_name)]
"""First and last name: one line, at least two words."""
RequestId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w.:@/-]+$"),
]


class ReportItem(StrEnum):
    """The SLA's items of a report ("Notwendige Angaben") that may come later.

    The description is never among them: without it there is nothing to work on.
    """

    COMPANY = "company"
    FULL_NAME = "full_name"
    PHONE = "phone"
    EMAIL = "email"
    FIRST_NOTICED_AT = "first_noticed_at"
    SCOPE = "scope"
    REPRODUCIBLE = "reproducible"

    @property
    def label_de(self) -> str:
        """The item as the SLA asks for it (customer mails)."""
        return _ITEM_LABELS_DE[self]


_ITEM_LABELS_DE = {
    ReportItem.COMPANY: "Ihr Firmenname/Unternehmen",
    ReportItem.FULL_NAME: "Ihr vollständiger Name (Vor- und Nachname)",
    ReportItem.PHONE: "Ihre Telefonnummer",
    ReportItem.EMAIL: "Ihre E-Mail-Adresse",
    ReportItem.FIRST_NOTICED_AT: "Wann genau haben Sie den Fehler erstmalig festgestellt?",
    ReportItem.SCOPE: "Tritt der Fehler an allen Arbeitsplätzen auf oder nur vereinzelt?",
    ReportItem.REPRODUCIBLE: "Konnten Sie den Fehler reproduzieren, also mehrfach feststellen?",
}

SourceName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.:@/-]+$"),
]
"""The name of an intake system (an API token's name, ``cli``, ``mailbox``)."""


class IncidentReport(BaseModel):
    """A validated disturbance report (DESIGN §4 "Intake report").

    Every item but the description may be missing (``None``) as long as the
    reporter can be reached by e-mail or phone; :attr:`missing` lists what to
    ask for.

    Attributes:
        company: Firmenname.
        customer_number: The customer number ("Kundennummer"), if the reporter
            gave it; with the e-mail domain it proves the plan
            (:meth:`domain.sla.SlaPolicy.plan_for`), the typed company does not.
        full_name: First and last name of the reporter.
        phone: Phone number for call-backs.
        email: E-mail address for all customer messages.
        description: What goes wrong, as exactly as possible.
        attachments: References (URLs, file names) to screenshots and logs.
        first_noticed_at: When the fault was first noticed (aware).
        scope: All workstations or only some.
        reproducible: Whether the customer could reproduce it.
        channel: Chat, phone, e-mail or monitoring.
        request_id: The intake system's own ID; makes starts idempotent.
        source: Which intake system sent it (the HTTP API token's name, ``cli``,
            ``mailbox``, ``alertmanager``); set by the door, not by the sender.
        reported_severity: A severity the sender already knows (a monitoring
            rule's label); it overrides the facts' suggestion.
        login_impossible: No login to the system possible.
        shipping_module_affected: Shipping module not (properly) usable.
        workaround_available: An alternative function or use exists.
        customer_says_not_critical: The customer calls it "nicht kritisch".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine | None = None
    customer_number: CustomerNumber | None = None
    full_name: FullName | None = None
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    description: Description
    attachments: Attachments = ()
    first_noticed_at: AwareDatetime | None = None
    scope: Scope | None = None
    reproducible: bool | None = None
    channel: Channel
    request_id: RequestId | None = None
    source: SourceName | None = None
    reported_severity: Severity | None = None
    login_impossible: bool = False
    shipping_module_affected: bool = False
    workaround_available: bool = False
    customer_says_not_critical: bool = False

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.email is None and self.phone is None:
            raise PydanticCustomError(
                "unreachable",
                "give an e-mail address or a phone number: without either nobody can answer",
                {"field": "email"},
            )
        return self

    @property
    def missing(self) -> tuple[ReportItem, ...]:
        """The SLA's items this report lacks, in the SLA's order.

        Monitoring reports come from a machine: there is nobody to ask, so
        nothing counts as missing.
        """
        if self.channel is Channel.MONITORING:
            return ()
        return tuple(item for item in ReportItem if getattr(self, item.value) is None)

    @property
    def company_or_unknown(self) -> str:
        """The company for lists and mails; ``"(unbekannt)"`` until it is given."""
        return self.company or "(unbekannt)"

    @property
    def reporter_or_unknown(self) -> str:
        """The reporter's name, or how to address someone whose name is not known yet."""
        return self.full_name or "(Name unbekannt)"

    def suggested_severity(self) -> Severity:
        """The SLA's classification table applied to the reported facts.

        A severity the sender reported (a monitoring rule) wins. Otherwise:
        login impossible or shipping module affected → critical; the customer
        says "not critical" or a workaround exists → minor; otherwise major. An
        operator confirms or changes it at acknowledgement.
        """
        if self.reported_severity is not None:
            return self.reported_severity
        if self.login_impossible or self.shipping_module_affected:
            return Severity.CRITICAL
        if self.customer_says_not_critical or self.workaround_available:
            return Severity.MINOR
        return Severity.MAJOR

    @property
    def all_users_affected(self) -> bool:
        """Whether the report alone says all users are affected (monitoring reports)."""
        return self.channel is Channel.MONITORING


class ReportChanges(BaseModel):
    """Report items filled in (or corrected) after intake: ``sla amend``, ``PATCH …/report``.

    Only the SLA's seven items and attachments (added to the list); the
    description, channel and classification facts stay as reported.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine | None = None
    full_name: FullName | None = None
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    first_noticed_at: AwareDatetime | None = None
    scope: Scope | None = None
    reproducible: bool | None = None
    attachments: Attachments = ()

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.given():
            raise PydanticCustomError(
                "nothing_to_amend", "give at least one report item to fill in", {"field": "report"}
            )
        return self

    def given(self) -> dict[str, object]:
        """The items this change sets (attachments only when some are added)."""
        return {
            name: value
            for name, value in self
            if value is not None and not (name == "attachments" and not value)
        }

    def applied_to(self, report: IncidentReport) -> IncidentReport:
        """``report`` with these items set; attachments are added, not replaced."""
        update = self.given()
        if self.attachments:
            update["attachments"] = tuple(dict.fromkeys((*report.attachments, *self.attachments)))
        return report.model_copy(update=update)


class ChangeRequest(BaseModel):
    """A feature request ("Änderungswunsch"): no disturbance, no SLA clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine
    full_name: FullName
    email: EmailAddress
    phone: PhoneNumber | None = None
    title: NonEmptyLine
    description: Description
    attachments: Attachments = ()
    request_id: RequestId | None = None


def check_limits(model: BaseModel, policy: SlaPolicy) -> list[str]:
    """Where a validated report (or change request, or command) exceeds the policy.

    The model types enforce hard maxima (``domain.values``); the policy's
    ``[limits]`` may set lower ones, and its ``[mail] smtputf8`` says whether
    e-mail addresses with a non-ASCII local part can be sent to. Pure: intake
    (``service.intake.check_report``) turns the list into one refusal.

    Returns:
        One ``"field: message"`` per violation (e.g. ``description: at most 500
        characters here ([limits] description), got 812``); empty when all is well.
    """
    return limit_violations(model, policy.limits.as_mapping(), smtputf8=policy.mail.smtputf8)
