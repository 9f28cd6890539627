"""Intake models: the disturbance report ("Störungsmeldung") and change requests.

The SLA lists what a report must contain ("Notwendige Angaben"); the model
refuses a report that lacks any of it, naming every bad field at once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from domain.sla import Severity, SlaPolicy
from domain.values import (
    Attachments,
    AwareDatetime,
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


class IncidentReport(BaseModel):
    """A validated disturbance report (DESIGN §4 "Intake report").

    Attributes:
        company: Firmenname.
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
        login_impossible: No login to the system possible.
        shipping_module_affected: Shipping module not (properly) usable.
        workaround_available: An alternative function or use exists.
        customer_says_not_critical: The customer calls it "nicht kritisch".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine
    full_name: FullName
    phone: PhoneNumber
    email: EmailAddress
    description: Description
    attachments: Attachments = ()
    first_noticed_at: AwareDatetime
    scope: Scope
    reproducible: bool
    channel: Channel
    request_id: RequestId | None = None
    login_impossible: bool = False
    shipping_module_affected: bool = False
    workaround_available: bool = False
    customer_says_not_critical: bool = False

    def suggested_severity(self) -> Severity:
        """The SLA's classification table applied to the reported facts.

        Login impossible or shipping module affected → critical; otherwise the
        customer says "not critical" or a workaround exists → minor; otherwise
        major. An operator confirms or changes it at acknowledgement.
        """
        if self.login_impossible or self.shipping_module_affected:
            return Severity.CRITICAL
        if self.customer_says_not_critical or self.workaround_available:
            return Severity.MINOR
        return Severity.MAJOR

    @property
    def all_users_affected(self) -> bool:
        """Whether the report alone says all users are affected (monitoring reports)."""
        return self.channel is Channel.MONITORING


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
