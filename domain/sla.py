"""Severities, the SLA policy file and the deadlines it defines.

The policy is data: every number of the SLA (reaction and resolution times,
warning share, reminder interval) comes from a TOML file, see DESIGN §4 and the
shipped ``domain/policies/myconvento.toml``.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.calendar import BusinessCalendar, CalendarSpec, Weekday, parse_clock
from domain.errors import describe_validation_error
from domain.values import (
    ATTACHMENTS_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    PHONE_MAX,
    TEXT_MAX,
    BusinessDuration,
    CustomerNumber,
    EmailAddress,
    MailDomain,
    NonEmptyLine,
    PhoneNumber,
    customer_number_key,
    limit_violations,
    mail_domain_of,
)


class Severity(StrEnum):
    """Classification of a disturbance (SLA "Klassifizierung")."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def label_de(self) -> str:
        """The SLA's German word for this severity."""
        return _SEVERITY_DE[self]


_SEVERITY_DE = {
    Severity.CRITICAL: "kritisch",
    Severity.MAJOR: "wesentlich",
    Severity.MINOR: "geringfügig",
}


class Plan(StrEnum):
    """Subscription plan; only premium includes phone support."""

    STANDARD = "standard"
    PREMIUM = "premium"


class SeverityTargets(BaseModel):
    """Reaction and resolution time of one severity, in business time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reaction: BusinessDuration
    resolution: BusinessDuration

    @model_validator(mode="after")
    def _reaction_first(self) -> SeverityTargets:
        if self.reaction > self.resolution:
            raise ValueError("reaction must not be longer than resolution")
        return self


class SeverityTable(BaseModel):
    """The ``[severity.*]`` sections: one entry per severity, all required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    critical: SeverityTargets
    major: SeverityTargets
    minor: SeverityTargets

    def __getitem__(self, severity: Severity) -> SeverityTargets:
        """Targets of ``severity``."""
        targets: SeverityTargets = getattr(self, Severity(severity).value)
        return targets


class AlertPolicy(BaseModel):
    """When operators are warned and on-duty is paged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warn_at: float = Field(default=0.75, gt=0, lt=1, description="share of a deadline's time")
    critical_reminder_every: BusinessDuration = timedelta(minutes=30)
    critical_late_cutoff: BusinessDuration = timedelta(hours=1)


class MaintenanceWindow(BaseModel):
    """The usual maintenance slot, in the calendar's time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekday: Weekday = "fri"
    start: str = "18:00"
    end: str = "22:00"

    @model_validator(mode="after")
    def _start_before_end(self) -> MaintenanceWindow:
        if parse_clock(self.start) >= parse_clock(self.end):
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self


class MaintenancePolicy(BaseModel):
    """Planned maintenance: notice period (calendar time) and the usual window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notice: BusinessDuration = Field(
        default=timedelta(hours=48),
        description="calendar (not business) time between announcement and start",
    )
    window: MaintenanceWindow = MaintenanceWindow()
    overrun_severity: Severity = Field(
        default=Severity.CRITICAL,
        description=(
            "severity of the incident opened when a running window reaches business hours "
            "(myconvento is locked while a window runs: no login possible)"
        ),
    )


class OnCallPolicy(BaseModel):
    """Extended on-call ("erweiterte Bereitschaft"): lead time, price and cancellation terms.

    These are contractual terms: a booking keeps the ones in force when it was
    made (``domain.oncall.OnCallTerms``) and its confirmation states them, so
    the templates hold no number or condition of their own. The defaults are
    the SLA's reading: 3 business days' notice, billed per started hour
    outside the regular business time, free cancellation until the start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_business_days: int = Field(
        default=3,
        ge=0,
        le=60,
        description="booking day + this many business days <= start day",
    )
    hourly_rate: Decimal = Field(default=Decimal("95.00"), ge=0, decimal_places=2)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    bill_business_hours: bool = Field(
        default=False,
        description="bill the hours of a window inside the regular business time, which the "
        "standard support already covers",
    )
    free_cancellation_business_days: int = Field(
        default=0,
        ge=0,
        le=60,
        description="with a cancellation fee: cancelling is free while cancellation day + this "
        "many business days <= start day; 0: free until the start",
    )
    cancellation_fee: Decimal = Field(
        default=Decimal("0.00"),
        ge=0,
        decimal_places=2,
        description="charged for a cancellation after the free period and before the start",
    )


def _reestimate_defaults() -> dict[Severity, timedelta]:
    return {
        Severity.CRITICAL: timedelta(hours=1),
        Severity.MAJOR: timedelta(hours=4),
        Severity.MINOR: timedelta(hours=10),
    }


class FollowUpPolicy(BaseModel):
    """How long the next step the SLA expects may take, and how often it is asked for.

    Incidents opened under rule set 3 (``domain.events.RULES``) are watched
    for these steps until each is done; every interval is business time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reestimate_within: dict[Severity, BusinessDuration] = Field(
        default_factory=_reestimate_defaults,
        description="after a missed estimate, the new estimate is due this much later",
    )
    reestimate_reminder_every: BusinessDuration = timedelta(minutes=30)
    status_update_every: BusinessDuration = Field(
        default=timedelta(hours=2),
        description="a public disturbance without a status post this long prompts one",
    )
    discussion_reminder_every: BusinessDuration = timedelta(hours=2)
    decision_reminder_every: BusinessDuration = timedelta(hours=2)
    critical_open_reminder_every: BusinessDuration = Field(
        default=timedelta(hours=1),
        description="an acknowledged critical incident still open is brought up again",
    )

    @field_validator("reestimate_within")
    @classmethod
    def _every_severity(cls, value: dict[Severity, timedelta]) -> dict[Severity, timedelta]:
        missing = [s.value for s in Severity if s not in value]
        if missing:
            raise ValueError(f"a re-estimate time is needed for: {', '.join(missing)}")
        return value


class AuditPolicy(BaseModel):
    """Ticket monitoring: what counts as stale or close to a deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stale_after_business_days: int = Field(default=2, ge=1, le=60)
    near_deadline: BusinessDuration = timedelta(hours=2)
    dev_stalled_after_business_days: int = Field(
        default=5,
        ge=1,
        le=120,
        description="a development ticket without progress this long is flagged weekly",
    )


PERSONAL_DATA_DAYS_MAX = 3650
"""The longest ``[archive] personal_data_days``: ten years (the longest German retention duty)."""


class ArchivePolicy(BaseModel):
    """The ``[archive]`` section: how long the archive keeps a reporter's personal data.

    ``personal_data_days`` after an incident (any archived stream) was
    resolved, a Temporal Schedule erases its personal data (names, phone,
    e-mail, free texts, attachment references) and keeps the SLA figures, as
    ``sla erase`` does by hand. ``0`` (or no ``[archive]`` section) never
    erases automatically: a policy that does not say so keeps everything,
    rather than erasing what an operator may still need.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    personal_data_days: int = Field(
        default=0,
        ge=0,
        le=PERSONAL_DATA_DAYS_MAX,
        description=(
            "calendar days after resolution when personal data is erased automatically (0: never)"
        ),
    )


REOPEN_WINDOW_BUSINESS_DAYS_MAX = 260
"""The longest ``[reopen] window_business_days``: about a year of business days."""


class ReplyHandling(StrEnum):
    """What a customer's reply within the reopen window does (``[reopen] on_reply``)."""

    NOTE = "note"  # recorded on the closed ticket's timeline, the team told; nothing reopens
    REOPEN = "reopen"  # reopens the ticket, naming the reply as the reason


class ReopenPolicy(BaseModel):
    """The ``[reopen]`` section: how long after resolution a ticket can be reopened.

    ``window_business_days`` business days of the policy's calendar after the
    day of resolution (weekends, NRW holidays and ``closed_dates`` do not
    count); the window lasts to the end of the last of them (Berlin midnight).
    ``0`` (or no ``[reopen]`` section) turns reopening off: a policy that does
    not say so keeps today's behaviour, where a later message opens a new
    report. ``on_reply`` decides what a customer's reply within the window does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_business_days: int = Field(
        default=0,
        ge=0,
        le=REOPEN_WINDOW_BUSINESS_DAYS_MAX,
        description="business days after resolution a ticket can be reopened (0: never)",
    )
    on_reply: ReplyHandling = Field(
        default=ReplyHandling.NOTE,
        description="a reply within the window: 'note' (timeline + team told) or 'reopen'",
    )


class LimitsPolicy(BaseModel):
    """The ``[limits]`` section: maximum sizes of what intake accepts.

    Each is at most the hard maximum of its field type (``domain.values``); a
    policy may only lower them. ``name`` covers every single-line text
    (company, person names, titles), ``text`` every free text but
    descriptions (reasons, summaries, messages, notes), ``attachments`` counts
    references.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: int = Field(default=DESCRIPTION_MAX, ge=1)
    text: int = Field(default=TEXT_MAX, ge=1)
    name: int = Field(default=NAME_MAX, ge=1)
    phone: int = Field(default=PHONE_MAX, ge=6)  # a phone number has at least 6 digits
    attachments: int = Field(default=ATTACHMENTS_MAX, ge=0)

    @field_validator("description", "text", "name", "phone", "attachments")
    @classmethod
    def _within_hard_cap(cls, value: int, info: ValidationInfo) -> int:
        cap = _HARD_CAPS[str(info.field_name)]
        if value > cap:
            raise ValueError(f"at most {cap} (the hard maximum of the field type), got {value}")
        return value

    def as_mapping(self) -> dict[str, int]:
        """Key → maximum, as :func:`domain.values.limit_violations` takes it."""
        return self.model_dump()


_HARD_CAPS = {
    "description": DESCRIPTION_MAX,
    "text": TEXT_MAX,
    "name": NAME_MAX,
    "phone": PHONE_MAX,
    "attachments": ATTACHMENTS_MAX,
}


class MailPolicy(BaseModel):
    """The ``[mail]`` section: what the outgoing mail relay supports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    smtputf8: bool = Field(
        default=False,
        description="the relay takes addresses with a non-ASCII local part (RFC 6531)",
    )


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[\w./~%-]*)?", text):
        raise ValueError(f"a public http(s) URL without query or spaces, got {text[:80]!r}")
    return text.rstrip("/")


class StatusPagePolicy(BaseModel):
    """The ``[status_page]`` section: where customers find the public status page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: Annotated[str | None, AfterValidator(_public_url)] = Field(
        default=None,
        max_length=200,
        description="the page's public address, named in every customer mail that mentions it",
    )
    show_ticket_ids: bool = Field(
        default=False,
        description="show reporters' ticket IDs on the public page (else a neutral reference)",
    )


class EffectsPolicy(BaseModel):
    """The ``[effects]`` section: how long a side effect is retried before it is given up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    give_up_after: BusinessDuration = Field(
        default=timedelta(hours=24),
        description=(
            "calendar (not business) time an e-mail, status post or tracker update is "
            "retried through an outage; then it is recorded as not delivered"
        ),
    )


class MonitoringIntakePolicy(BaseModel):
    """The ``[intake.monitoring]`` section: monitoring alerts (Alertmanager) as reports.

    One incident per alert group; the company and contact are the vendor's own
    (the monitoring system watches the service every customer uses). The
    severity comes from one alert label through ``severity_map`` (values
    matched exactly, then ignoring case); an alert without the label or with
    an unmapped value counts as ``default_severity``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine = "myconvento (Monitoring)"
    email: EmailAddress = "support@myconvento.com"
    full_name: NonEmptyLine | None = Field(
        default=None, description="the reporter's name on monitoring incidents (none: left out)"
    )
    severity_label: NonEmptyLine = "severity"
    severity_map: dict[str, Severity] = Field(
        default_factory=lambda: {
            "critical": Severity.CRITICAL,
            "page": Severity.CRITICAL,
            "error": Severity.MAJOR,
            "warning": Severity.MAJOR,
            "info": Severity.MINOR,
        }
    )
    default_severity: Severity = Severity.MAJOR
    publish_unconfirmed: bool = Field(
        default=False,
        description=(
            "publish a monitoring alert on the public status page before an operator "
            "confirmed it (ack --all-users)"
        ),
    )


class IntakePolicy(BaseModel):
    """The ``[intake]`` section: limits of the HTTP API and the mailbox, monitoring alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1_500_000)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    max_attachments: int = Field(default=20, ge=0, le=100)
    monitoring: MonitoringIntakePolicy = MonitoringIntakePolicy()


class Contacts(BaseModel):
    """Internal addresses notified by the engine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    support_lead: EmailAddress
    on_duty: EmailAddress
    experts: EmailAddress
    management: EmailAddress


class SupportPolicy(BaseModel):
    """The ``[support]`` section: how premium customers reach the support team.

    The SLA: "Falls Sie mit Ihrem Abonnement den Premium-Support gebucht haben,
    so rufen Sie bitte die Convento Zentrale unter +49(0)2131-200900 an." The
    number is named only in mails to premium customers (see
    :meth:`SlaPolicy.hotline_for`); without it no mail names a phone number.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hotline: PhoneNumber | None = Field(
        default=None, description="the premium phone support number, shown to premium customers"
    )


class CustomerRoles(BaseModel):
    """A customer's contacts by role (``[customers.roles]``).

    The extended escalation ("Führungspersonen beider Unternehmen sowie die
    betroffenen Fachkräfte") goes to both lists.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    it: tuple[EmailAddress, ...] = Field(default=(), description="IT specialists")
    management: tuple[EmailAddress, ...] = Field(default=(), description="leadership")


class Customer(BaseModel):
    """One entry of the customer directory.

    Attributes:
        company: The company as the directory spells it.
        customer_number: The customer number ("Kundennummer"); a report that
            gives it proves who reports.
        plan: Standard or premium (phone support).
        domains: The customer's own mail domains (lower-cased, IDNA form); a
            reporter writing from one of them is this customer.
        contacts: General contacts: told of missed estimates, stage 2, the
            extended escalation, maintenance, on-call bookings, change requests.
        roles: Contacts by role, added where the SLA names them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: NonEmptyLine
    customer_number: CustomerNumber | None = None
    plan: Plan = Plan.STANDARD
    domains: tuple[MailDomain, ...] = ()
    contacts: tuple[EmailAddress, ...] = ()
    roles: CustomerRoles = CustomerRoles()

    @field_validator("domains")
    @classmethod
    def _domains_once(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(domains))

    @property
    def all_contacts(self) -> tuple[str, ...]:
        """Every address of the customer, general and by role, lower-cased, without repeats."""
        addresses = (*self.contacts, *self.roles.it, *self.roles.management)
        return tuple(dict.fromkeys(a.lower() for a in addresses))

    @property
    def leaders_and_specialists(self) -> tuple[str, ...]:
        """The role contacts of an extended escalation: management, then IT."""
        addresses = (*self.roles.management, *self.roles.it)
        return tuple(dict.fromkeys(a.lower() for a in addresses))


class CustomerClaim(Protocol):
    """What a report says about who sends it (an ``IncidentReport`` is one)."""

    @property
    def customer_number(self) -> str | None:
        """The customer number the reporter gave."""

    @property
    def email(self) -> str | None:
        """The reporter's address; its domain may be a customer's."""

    @property
    def company(self) -> str | None:
        """The company as typed: names a customer, proves nothing."""


# Public mail services: listed as a customer's domain, anyone could claim premium.
_PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "freenet.de",
        "gmail.com",
        "gmx.at",
        "gmx.ch",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "hotmail.de",
        "icloud.com",
        "live.com",
        "live.de",
        "mail.de",
        "me.com",
        "outlook.com",
        "outlook.de",
        "posteo.de",
        "proton.me",
        "protonmail.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yahoo.de",
    }
)


class Deadlines(BaseModel):
    """The deadlines of one incident under one severity (aware instants).

    Attributes:
        reaction_due: Acknowledgement due.
        resolution_due: Resolution (or extension) due.
        reaction_warning: When the support lead is warned about ``reaction_due``.
        resolution_warning: When the support lead is warned about ``resolution_due``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reaction_due: datetime
    resolution_due: datetime
    reaction_warning: datetime
    resolution_warning: datetime


class IncidentClock(BaseModel):
    """An incident's clock at receipt: deadlines of every severity, and the late page.

    Attributes:
        deadlines: :meth:`SlaPolicy.all_deadlines` (any later reclassification
            picks its severity's entry).
        next_opening_page: The second on-duty page of a critical report
            received late or outside business time (``None``: paged once).
    """

    model_config = ConfigDict(frozen=True)

    deadlines: dict[Severity, Deadlines]
    next_opening_page: datetime | None


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names file and key."""


class SlaPolicy(BaseModel):
    """An SLA policy: calendar, targets per severity, alerts, contacts, customers.

    ``SlaPolicy`` is a pydantic model so that a snapshot of it can travel with
    every incident workflow; :attr:`calendar` is derived from the ``[calendar]``
    section and is not part of the serialized form.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    name: NonEmptyLine
    calendar_spec: CalendarSpec = Field(alias="calendar")
    severity: SeverityTable
    alerts: AlertPolicy = AlertPolicy()
    maintenance: MaintenancePolicy = MaintenancePolicy()
    oncall: OnCallPolicy = OnCallPolicy()
    audit: AuditPolicy = AuditPolicy()
    archive: ArchivePolicy = ArchivePolicy()
    reopen: ReopenPolicy = ReopenPolicy()
    follow_up: FollowUpPolicy = FollowUpPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    mail: MailPolicy = MailPolicy()
    effects: EffectsPolicy = EffectsPolicy()
    intake: IntakePolicy = IntakePolicy()
    status_page: StatusPagePolicy = StatusPagePolicy()
    support: SupportPolicy = SupportPolicy()
    contacts: Contacts
    customers: tuple[Customer, ...] = ()

    @field_validator("customers")
    @classmethod
    def _customers_once(cls, customers: tuple[Customer, ...]) -> tuple[Customer, ...]:
        # A number or domain of two customers would make the lookup (and the
        # plan it grants) depend on the order of the file.
        for what, keys in (
            ("listed twice", [c.company.casefold() for c in customers]),
            (
                "customer number listed twice",
                [customer_number_key(c.customer_number) for c in customers if c.customer_number],
            ),
            ("domain listed for two customers", [d for c in customers for d in c.domains]),
        ):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates:
                raise ValueError(f"{what}: {', '.join(duplicates)}")
        return customers

    # -- loading ------------------------------------------------------------

    @classmethod
    def default(cls) -> SlaPolicy:
        """The shipped myconvento policy (package data)."""
        text = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")
        return cls.from_toml(text, source="myconvento.toml (shipped)")

    @classmethod
    def from_file(cls, path: str | Path) -> SlaPolicy:
        """Load a policy TOML file.

        Raises:
            PolicyError: The file is missing, not TOML, or a key is wrong; the
                message names the file and every offending key.
        """
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise PolicyError(
                f"{path}: not UTF-8 text (byte {exc.start}); save the policy file as UTF-8"
            ) from exc
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<policy>") -> SlaPolicy:
        """Parse policy TOML text; see :meth:`from_file`."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "<policy>") -> SlaPolicy:
        """Validate an already parsed policy mapping; see :meth:`from_file`."""
        try:
            policy = cls.model_validate(data)
        except ValidationError as exc:
            raise PolicyError(f"{source}: {describe_validation_error(exc)}") from exc
        # Here, not in a validator: a snapshot read back from a workflow history
        # must load whatever the file said when it was started.
        problems = limit_violations(policy, {}, smtputf8=policy.mail.smtputf8)
        problems += [
            f"customers.{index}.domains: {domain} is a public mail service: anyone can have an "
            "address there, so it cannot identify a customer"
            for index, customer in enumerate(policy.customers)
            for domain in customer.domains
            if domain in _PUBLIC_MAIL_DOMAINS
        ]
        if problems:
            raise PolicyError(f"{source}: {'; '.join(problems)}")
        return policy

    # -- derived ------------------------------------------------------------

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """The business calendar of the ``[calendar]`` section."""
        return BusinessCalendar(self.calendar_spec)

    def targets(self, severity: Severity) -> SeverityTargets:
        """Reaction and resolution time for ``severity``."""
        return self.severity[severity]

    def reaction_due(self, severity: Severity, received_at: datetime) -> datetime:
        """Deadline for the acknowledgement of a report received at ``received_at``."""
        return self.calendar.add(received_at, self.targets(severity).reaction)

    def resolution_due(self, severity: Severity, received_at: datetime) -> datetime:
        """Deadline for resolution (or an extension) of a report received at ``received_at``."""
        return self.calendar.add(received_at, self.targets(severity).resolution)

    def deadlines(self, severity: Severity, received_at: datetime) -> Deadlines:
        """Deadlines and warning instants for ``severity``.

        See :meth:`reaction_due` and :meth:`resolution_due`; the warnings fall
        after ``alerts.warn_at`` of each deadline's business time.
        """
        targets = self.targets(severity)
        return Deadlines(
            reaction_due=self.calendar.add(received_at, targets.reaction),
            resolution_due=self.calendar.add(received_at, targets.resolution),
            reaction_warning=self.calendar.add(received_at, targets.reaction * self.alerts.warn_at),
            resolution_warning=self.calendar.add(
                received_at, targets.resolution * self.alerts.warn_at
            ),
        )

    def all_deadlines(self, received_at: datetime) -> dict[Severity, Deadlines]:
        """:meth:`deadlines` for every severity: one call serves any reclassification."""
        return {severity: self.deadlines(severity, received_at) for severity in Severity}

    def incident_clock(self, received_at: datetime) -> IncidentClock:
        """The clock of an incident received at ``received_at`` (see :class:`IncidentClock`)."""
        pages = self.critical_pages(received_at)
        return IncidentClock(
            deadlines=self.all_deadlines(received_at),
            next_opening_page=pages[1] if len(pages) > 1 else None,
        )

    def critical_pages(self, received_at: datetime) -> list[datetime]:
        """Instants at which on-duty is paged for a critical report.

        At once always. A report received while the team is on duty with at
        least ``critical_late_cutoff`` left before closing is worked on at once
        ("beginnen sofort"); any other is paged again at the next opening.
        """
        window = self.calendar.open_window(received_at)
        if window is not None and window[1] - received_at >= self.alerts.critical_late_cutoff:
            return [received_at]
        reopening = self.calendar.next_open(window[1] if window else received_at)
        return [received_at, reopening]

    def customer(self, company: str) -> Customer | None:
        """The directory entry named ``company`` (case-insensitive), if any.

        A name identifies a customer for an operator (on-call bookings) and for
        whom to tell; it never proves a plan (see :meth:`plan_for`).
        """
        key = company.strip().casefold()
        return next((c for c in self.customers if c.company.casefold() == key), None)

    def customer_by_number(self, number: str | None) -> Customer | None:
        """The directory entry with customer number ``number`` (see ``customer_number_key``)."""
        if not number:
            return None
        key = customer_number_key(number)
        return next(
            (
                c
                for c in self.customers
                if c.customer_number and customer_number_key(c.customer_number) == key
            ),
            None,
        )

    def customer_by_email(self, address: str | None) -> Customer | None:
        """The directory entry whose ``domains`` hold ``address``'s domain (case-insensitive)."""
        if not address or "@" not in address:
            return None
        domain = mail_domain_of(address)
        return next((c for c in self.customers if domain in c.domains), None)

    def verified_customer(self, claim: CustomerClaim) -> Customer | None:
        """The entry a report proves: by its customer number, else by the reporter's domain."""
        return self.customer_by_number(claim.customer_number) or self.customer_by_email(claim.email)

    def customer_for(self, claim: CustomerClaim) -> Customer | None:
        """The entry a report is about: :meth:`verified_customer`, else by the typed name.

        For whom to tell (directory contacts), never for the plan.
        """
        verified = self.verified_customer(claim)
        if verified is not None or not claim.company:
            return verified
        return self.customer(claim.company)

    def plan_for(self, claim: CustomerClaim) -> Plan:
        """The plan a report is entitled to.

        Premium when its customer number is a premium entry's, or the
        reporter's e-mail domain is in a premium entry's ``domains``. The typed
        company name alone never grants it: anyone can type a name.
        """
        proofs = (
            self.customer_by_number(claim.customer_number),
            self.customer_by_email(claim.email),
        )
        if any(entry is not None and entry.plan is Plan.PREMIUM for entry in proofs):
            return Plan.PREMIUM
        return Plan.STANDARD

    def hotline_for(self, claim: CustomerClaim) -> str | None:
        """The support hotline to name in mails about this report: premium customers only."""
        return self.support.hotline if self.plan_for(claim) is Plan.PREMIUM else None
