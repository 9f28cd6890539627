"""Business-time calculations for workflows, run as local activities.

Workflow code must not run calendar arithmetic (DESIGN §3): ``holidays`` cannot
run in the sandbox, and a changed holiday table would shift timers on replay.
These activities do it instead; their results are recorded in history.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from domain.calendar import OutsideSupportedYearsError
from domain.incident import IncidentOutcome, IncidentState, outcome
from domain.oncall import OnCallWindow, with_oncall_windows
from domain.sla import IncidentClock, SlaPolicy


class ClockRequest(BaseModel):
    """Input of :meth:`CalendarActivities.compute_incident_clock`.

    ``windows`` are booked extended on-call windows of the incident's company:
    they count as business time.
    """

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    received_at: datetime
    windows: tuple[OnCallWindow, ...] = ()


class ReminderRequest(BaseModel):
    """Input of :meth:`CalendarActivities.compute_next_reminder`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    after: datetime
    windows: tuple[OnCallWindow, ...] = ()


class BusinessSpan(BaseModel):
    """``every`` of business time after ``after``."""

    model_config = ConfigDict(frozen=True)

    after: datetime
    every: timedelta


class BusinessTimeRequest(BaseModel):
    """Input of :meth:`CalendarActivities.add_business_time`: ``every`` after ``after``, each."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    spans: tuple[BusinessSpan, ...]
    windows: tuple[OnCallWindow, ...] = ()


class OpeningRequest(BaseModel):
    """Input of :meth:`CalendarActivities.compute_business_opening`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    at: datetime


class OutcomeRequest(BaseModel):
    """Input of :meth:`CalendarActivities.compute_outcome`."""

    model_config = ConfigDict(frozen=True)

    policy: SlaPolicy
    state: IncidentState
    windows: tuple[OnCallWindow, ...] = ()


class CalendarActivities:
    """Local activities answering business-time questions for a policy snapshot."""

    def __init__(self) -> None:
        """Create the activities with an empty policy cache."""
        # Building a calendar index costs milliseconds; keep one per policy
        # snapshot and set of on-call windows (workflows send the same snapshot
        # over and over, and a company's incidents share its windows).
        self._policies: dict[str, SlaPolicy] = {}
        self._lock = threading.Lock()

    def _policy(self, policy: SlaPolicy, windows: tuple[OnCallWindow, ...] = ()) -> SlaPolicy:
        key = policy.model_dump_json() + "".join(
            f"|{w.start.timestamp()}-{w.end.timestamp()}" for w in windows
        )
        with self._lock:
            cached = self._policies.get(key)
            if cached is None:
                if len(self._policies) > 64:
                    self._policies.clear()
                cached = self._policies[key] = with_oncall_windows(policy, windows)
            return cached

    @activity.defn
    async def compute_incident_clock(self, request: ClockRequest) -> IncidentClock:
        """Deadlines of every severity from the receipt instant, and the late page."""
        return self._policy(request.policy, request.windows).incident_clock(request.received_at)

    @activity.defn
    async def compute_next_reminder(self, request: ReminderRequest) -> datetime:
        """When to remind on-duty again: ``critical_reminder_every`` of business time later."""
        policy = self._policy(request.policy, request.windows)
        return policy.calendar.add(request.after, policy.alerts.critical_reminder_every)

    @activity.defn
    async def add_business_time(self, request: BusinessTimeRequest) -> tuple[datetime, ...]:
        """For each span, the instant ``every`` of business time after ``after``."""
        calendar = self._policy(request.policy, request.windows).calendar
        return tuple(calendar.add(span.after, span.every) for span in request.spans)

    @activity.defn
    async def compute_outcome(self, request: OutcomeRequest) -> IncidentOutcome:
        """The incident's SLA outcome with business times to react and resolve."""
        return outcome(request.state, self._policy(request.policy, request.windows).calendar)

    @activity.defn
    async def compute_business_opening(self, request: OpeningRequest) -> datetime | None:
        """``at`` itself if business hours run then, else the next opening after it.

        ``None`` when the calendar cannot tell (outside its supported years):
        then nothing is watched, rather than a maintenance failing for it.
        """
        try:
            return self._policy(request.policy).calendar.next_open(request.at)
        except OutsideSupportedYearsError:
            return None
