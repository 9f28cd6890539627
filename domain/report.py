"""Intake models: the disturbance report ("Störungsmeldung") and change requests.

The SLA lists what a report must contain ("Notwendige Angaben"); the model
refuses a report that lacks any of it, naming every bad field at once.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.sla import Severity
from domain.values import AwareDatetime, EmailAddress, NonEmptyText


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


_PHONE = re.compile(r"^\+?[0-9 ()/\-.]+$")


def _check_full_name(value: str) -> str:
    if len(value.split()) < 2:
        raise ValueError("give first and last name (Vor- und Nachname)")
    return value


def _check_phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE.match(value) or not 6 <= digits <= 20:
        raise ValueError(f"not a phone number: {value!r}")
    return value


FullName = Annotated[NonEmptyText, AfterValidator(_check_full_name)]
PhoneNumber = Annotated[NonEmptyText, AfterValidator(_check_phone)]
RequestId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w.:@/-]+$"),
]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


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

    company: NonEmptyText = Field(max_length=200)
    full_name: FullName = Field(max_length=200)
    phone: PhoneNumber
    email: EmailAddress
    description: NonEmptyText = Field(max_length=20_000)
    attachments: tuple[Reference, ...] = Field(default=(), max_length=50)
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

    company: NonEmptyText = Field(max_length=200)
    full_name: FullName = Field(max_length=200)
    email: EmailAddress
    phone: PhoneNumber | None = None
    title: NonEmptyText = Field(max_length=200)
    description: NonEmptyText = Field(max_length=20_000)
    attachments: tuple[Reference, ...] = Field(default=(), max_length=50)
    request_id: RequestId | None = None
