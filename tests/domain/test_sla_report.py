"""The monthly SLA report's figures (``domain.sla_report``): worked examples and properties.

Incidents are driven through the real decider (``domain.incident``) with the
shipped policy, so the views carry the same recorded facts the workflows record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.incident import (
    Acknowledge,
    BreachReaction,
    BreachResolution,
    ClassifyAsChangeRequest,
    Command,
    Escalate,
    ExtendEstimate,
    IncidentState,
    MissEstimate,
    OpenIncident,
    Resolve,
    execute,
    pending_timers,
)
from domain.oncall import BillingRecord, BookingStatus, OnCallBooking
from domain.read_model import IncidentView, build_view
from domain.report import Channel, IncidentReport, Scope
from domain.sla import Deadlines, Severity, SlaPolicy
from domain.sla_report import (
    PERCENTILE_METHOD,
    ReportMonth,
    ReportMonthError,
    SeverityFigures,
    SlaReport,
    Verdict,
    build_report,
    nearest_rank,
    oncall_figures,
    reaction_due_window,
)

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = SlaPolicy.default()
NOVEMBER = ReportMonth(year=2026, month=11)
FACTS = {
    Severity.CRITICAL: {"login_impossible": True},
    Severity.MAJOR: {},
    Severity.MINOR: {"workaround_available": True},
}


def berlin(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


@lru_cache(maxsize=4096)
def deadlines_at(received_at: datetime) -> dict[Severity, Deadlines]:
    return POLICY.all_deadlines(received_at)


class Incident:
    """An incident driven through ``decide``/``fold``, commands at given instants."""

    counter = 0

    def __init__(self, received_at: datetime, suggested: Severity = Severity.CRITICAL) -> None:
        Incident.counter += 1
        report = IncidentReport(
            company="Beispiel Versand GmbH",
            full_name="Erika Mustermann",
            phone="+49 2131 123456",
            email="erika.mustermann@beispiel-versand.de",
            description="Versandmodul druckt keine Etiketten.",
            first_noticed_at=received_at,
            scope=Scope.SOME_WORKSTATIONS,
            reproducible=True,
            channel=Channel.CHAT,
            **FACTS[suggested],
        )
        opened = OpenIncident(
            ticket_id=f"INC-{Incident.counter:05d}",
            report=report,
            received_at=received_at,
            deadlines=deadlines_at(received_at),
        )
        self.state: IncidentState = execute(None, opened, received_at)[0]

    def do(self, command: Command, at: datetime) -> Incident:
        self.state = execute(self.state, command, at)[0]
        return self

    def ack(self, at: datetime, severity: Severity | None = None) -> Incident:
        estimate = at + timedelta(days=2)
        return self.do(Acknowledge(severity=severity or self.state.severity, estimate=estimate), at)

    def resolve(self, at: datetime) -> Incident:
        return self.do(Resolve(summary="Index neu aufgebaut"), at)

    def fire_timers(self, until: datetime) -> Incident:
        """Fire the recorded-fact timers due up to ``until``, as the workflow would."""
        while True:
            due = [
                t
                for t in pending_timers(self.state)
                if t.at <= until
                and isinstance(t.command, BreachReaction | BreachResolution | MissEstimate)
            ]
            if not due:
                return self
            self.do(due[0].command, due[0].at)

    @property
    def view(self) -> IncidentView:
        return build_view(self.state)


def figures(report: SlaReport, severity: Severity) -> SeverityFigures:
    return next(f for f in report.severities if f.severity is severity)


# -- month --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-11", " 2026-11 ", "1999-01", "2030-12"])
def test_a_month_is_yyyy_mm(text: str) -> None:
    month = ReportMonth.parse(text)
    assert str(month) == text.strip()


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "11/2026", "2026-11-01", "", "November", "0000-01"]
)
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ReportMonthError, match="YYYY-MM"):
        ReportMonth.parse(text)


def test_month_bounds_are_berlin_midnights_across_dst() -> None:
    assert NOVEMBER.bounds("Europe/Berlin") == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
    )
    # October 2026 starts in summer time and ends in winter time.
    assert ReportMonth(year=2026, month=10).bounds("Europe/Berlin") == (
        datetime(2026, 9, 30, 22, tzinfo=UTC),
        datetime(2026, 10, 31, 23, tzinfo=UTC),
    )
    assert ReportMonth(year=2026, month=12).next_first_day == date(2027, 1, 1)


def test_reaction_due_window_covers_every_receipt_of_the_month() -> None:
    low, high = reaction_due_window(POLICY, NOVEMBER)
    last = datetime(2026, 11, 30, 23, 0, tzinfo=UTC) - timedelta(microseconds=1)
    for severity in Severity:
        for received in (datetime(2026, 10, 31, 23, tzinfo=UTC), last):
            due = POLICY.reaction_due(severity, received)
            assert low <= due <= high


# -- nearest rank --------------------------------------------------------------------


def test_nearest_rank_picks_an_observation() -> None:
    ten = [float(v) for v in range(10, 0, -1)]  # order does not matter
    assert nearest_rank(ten, 50) == 5.0
    assert nearest_rank(ten, 90) == 9.0
    assert nearest_rank(ten, 100) == 10.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # lower middle value
    assert nearest_rank([7.0], 90) == 7.0
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError):
        nearest_rank([1.0], 0)


# -- a worked month ------------------------------------------------------------------


def worked_month() -> tuple[list[IncidentView], datetime]:
    as_of = berlin(30, 12)
    incidents = [
        # critical, on time: 30 min to react, 3 h to resolve.
        Incident(berlin(2, 9)).ack(berlin(2, 9, 30)).resolve(berlin(2, 12)),
        # critical, received 17:30: reaction due Tue 08:30; acked 08:45 (1 h 15 min).
        Incident(berlin(2, 17, 30)).ack(berlin(3, 8, 45)).resolve(berlin(3, 10, 30)),
        # major, acked in 20 min, still unresolved with 140 h to go: resolution open.
        Incident(berlin(23, 10), Severity.MAJOR).ack(berlin(23, 10, 20)),
        # major suggested, nobody reacted, the reaction timer never fired: breached by as_of.
        Incident(berlin(24, 10), Severity.MAJOR),
        # minor received this morning: both open.
        Incident(berlin(30, 9), Severity.MINOR),
        # suggested minor, classified critical at acknowledgement after 5 h: the
        # suggested severity's clock (24 h) judged it, so the reaction was on time.
        Incident(berlin(9, 9), Severity.MINOR).ack(berlin(9, 14), Severity.CRITICAL),
        # resolved without an acknowledgement: the resolution is the reaction (45 min).
        Incident(berlin(10, 9), Severity.MAJOR).resolve(berlin(10, 9, 45)),
    ]
    # Outside November in Berlin (31 Oct 23:30 and 1 Dec 00:30 local).
    incidents.append(Incident(datetime(2026, 10, 31, 22, 30, tzinfo=UTC)))
    incidents.append(Incident(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)))
    return [i.view for i in incidents], as_of


def test_worked_month_counts_met_breached_and_open_per_severity() -> None:
    views, as_of = worked_month()
    report = build_report(views, POLICY, NOVEMBER, as_of)

    critical = figures(report, Severity.CRITICAL)
    assert critical.incidents == 3
    assert (critical.reaction.met, critical.reaction.breached, critical.reaction.open) == (2, 1, 0)
    assert critical.reaction.met_pct == pytest.approx(66.7)
    assert critical.reaction.breached_pct == pytest.approx(33.3)
    # The reclassified one: critical resolution was due 4 h after receipt, long passed.
    assert (critical.resolution.met, critical.resolution.breached) == (2, 1)

    major = figures(report, Severity.MAJOR)
    assert major.incidents == 3
    assert (major.reaction.met, major.reaction.breached, major.reaction.open) == (2, 1, 0)
    assert (major.resolution.met, major.resolution.breached, major.resolution.open) == (1, 0, 2)

    minor = figures(report, Severity.MINOR)
    assert (minor.incidents, minor.reaction.open, minor.resolution.open) == (1, 1, 1)
    assert minor.reaction.open_pct == 100.0
    assert minor.time_to_react.count == 0
    assert minor.time_to_react.median_seconds is None

    assert report.total.incidents == 7
    assert report.month == "2026-11"
    assert report.method == PERCENTILE_METHOD


def test_worked_month_business_times_use_nearest_rank() -> None:
    views, as_of = worked_month()
    critical = figures(build_report(views, POLICY, NOVEMBER, as_of), Severity.CRITICAL)

    # Reactions: 30 min, 1 h 15 min (17:30–18:00 + 08:00–08:45), 5 h.
    assert critical.time_to_react.values_seconds == (1800.0, 4500.0, 18000.0)
    assert critical.time_to_react.median_seconds == 4500.0
    assert critical.time_to_react.p90_seconds == 18000.0
    # Resolutions: 3 h and 3 h (17:30–18:00 + 08:00–10:30).
    assert critical.time_to_resolve.values_seconds == (10800.0, 10800.0)
    assert critical.time_to_resolve.median_seconds == 10800.0


def test_breaches_are_counted_and_listed() -> None:
    views, as_of = worked_month()
    report = build_report(views, POLICY, NOVEMBER, as_of)

    assert report.total.breaches.reaction == 2
    assert report.total.breaches.resolution == 1
    assert report.total.breaches.incidents == 3
    listed = {row.ticket_id: row for row in report.breached_incidents}
    assert len(listed) == 3
    assert [r.received_at for r in report.breached_incidents] == sorted(
        r.received_at for r in report.breached_incidents
    )
    late = next(r for r in report.breached_incidents if r.received_at == berlin(2, 17, 30))
    assert (late.reaction, late.resolution) == (Verdict.BREACHED, Verdict.MET)


def test_a_recorded_breach_counts_even_after_the_incident_was_resolved() -> None:
    incident = Incident(berlin(4, 9)).fire_timers(berlin(4, 16))  # both deadlines passed
    incident.ack(berlin(4, 16)).resolve(berlin(4, 17))

    report = build_report([incident.view], POLICY, NOVEMBER, berlin(30, 12))
    row = figures(report, Severity.CRITICAL)

    assert (row.reaction.breached, row.resolution.breached) == (1, 1)
    assert row.breaches.incidents == 1


def test_weekly_volume_covers_the_iso_weeks_of_the_month() -> None:
    views, as_of = worked_month()
    weeks = build_report(views, POLICY, NOVEMBER, as_of).weeks

    assert [w.week for w in weeks] == [f"2026-W{n}" for n in range(44, 50)]
    assert weeks[0].label_de == "KW 44"
    assert (weeks[0].first_day, weeks[0].last_day) == (date(2026, 11, 1), date(2026, 11, 1))
    assert (weeks[-1].first_day, weeks[-1].last_day) == (date(2026, 11, 30), date(2026, 11, 30))
    totals = {w.week: w.total for w in weeks}
    assert totals == {
        "2026-W44": 0,
        "2026-W45": 2,
        "2026-W46": 2,
        "2026-W47": 0,
        "2026-W48": 2,
        "2026-W49": 1,
    }
    assert weeks[1].counts[Severity.CRITICAL] == 2


def test_escalations_count_incidents_per_stage_reached() -> None:
    at = berlin(16, 9)
    estimate = at + timedelta(hours=1)
    replaced = (
        Incident(at)
        .do(Acknowledge(severity=Severity.CRITICAL, estimate=estimate), at + timedelta(minutes=5))
        .do(
            ExtendEstimate(estimate=estimate + timedelta(hours=1), reason="Failover"),
            at + timedelta(minutes=10),
        )  # stage 1
        .do(Escalate(stage=3, reason="Hersteller"), at + timedelta(minutes=20))  # stage 3
    )
    jumped = Incident(berlin(17, 9)).do(Escalate(stage=3, reason="Hersteller"), berlin(17, 9, 5))
    quiet = Incident(berlin(18, 9))

    views = [replaced.view, jumped.view, quiet.view]
    report = build_report(views, POLICY, NOVEMBER, berlin(30, 12))

    escalations = report.total.escalations
    assert (escalations.stage_1, escalations.stage_2, escalations.stage_3) == (1, 0, 2)
    assert escalations.extended == 0


def test_change_requests_are_counted_apart() -> None:
    incident = Incident(berlin(5, 9), Severity.MINOR).do(
        ClassifyAsChangeRequest(title="Neuer Export", reason="Funktioniert wie vorgesehen"),
        berlin(5, 10),
    )
    disturbance = Incident(berlin(5, 11))

    report = build_report([incident.view, disturbance.view], POLICY, NOVEMBER, berlin(30, 12))

    assert report.change_requests == 1
    assert report.total.incidents == 1


def test_a_ticket_passed_twice_counts_once() -> None:
    incident = Incident(berlin(5, 9)).view
    assert build_report([incident, incident], POLICY, NOVEMBER, berlin(6, 9)).total.incidents == 1


def test_as_of_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_report([], POLICY, NOVEMBER, datetime(2026, 11, 30, 12))


def test_an_empty_month_has_no_percentages() -> None:
    report = build_report([], POLICY, NOVEMBER, berlin(30, 12))
    assert report.total.incidents == 0
    assert report.total.reaction.met_pct is None
    assert report.oncall.hours == 0
    assert report.oncall.currency == "EUR"


# -- extended on-call ------------------------------------------------------------------


def booking(booking_id: str, company: str, start: datetime, hours: int | None) -> OnCallBooking:
    end = start + timedelta(hours=hours or 2)
    billing = (
        BillingRecord(
            booking_id=booking_id,
            company=company,
            start=start,
            end=end,
            hours=hours,
            rate=Decimal("95.00"),
            amount=Decimal("95.00") * hours,
            currency="EUR",
        )
        if hours is not None
        else None
    )
    return OnCallBooking(
        booking_id=booking_id,
        company=company,
        start=start,
        end=end,
        reason="Migration",
        booked_at=start - timedelta(days=7),
        status=BookingStatus.COMPLETED if billing else BookingStatus.BOOKED,
        billing=billing,
    )


def test_oncall_hours_billed_in_the_month_by_company() -> None:
    bookings = [
        booking("ONC-1", "Beispiel Versand GmbH", berlin(7, 18), 4),
        booking("ONC-2", "Beispiel Versand GmbH", berlin(21, 6), 2),
        booking("ONC-3", "Alpha Logistik AG", berlin(14, 20), 3),
        booking("ONC-3", "Alpha Logistik AG", berlin(14, 20), 3),  # the same booking again
        booking("ONC-4", "Alpha Logistik AG", berlin(28, 8), None),  # not billed (yet)
        booking("ONC-5", "Beispiel Versand GmbH", berlin(31, 22, month=10), 5),  # October
        booking("ONC-6", "Beispiel Versand GmbH", datetime(2026, 11, 30, 23, tzinfo=UTC), 1),
    ]

    figures_ = oncall_figures(bookings, NOVEMBER, POLICY)

    assert (figures_.bookings, figures_.hours, figures_.amount) == (3, 9, Decimal("855.00"))
    assert [(c.company, c.bookings, c.hours) for c in figures_.by_company] == [
        ("Alpha Logistik AG", 1, 3),
        ("Beispiel Versand GmbH", 2, 6),
    ]


# -- properties -------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    received_at: datetime
    suggested: Severity
    ack_after: timedelta | None
    classify_as: Severity | None
    resolve_after: timedelta | None
    escalate: bool
    timers_until: timedelta | None  # fire the breach timers due this long after receipt


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    # A little around November, so the month filter has something to drop.
    minutes = draw(st.integers(min_value=-3 * 24 * 60, max_value=33 * 24 * 60))
    received = datetime(2026, 11, 1, tzinfo=BERLIN).astimezone(UTC) + timedelta(minutes=minutes)
    # Quick reactions (met) as well as slow ones (breached, in business time too).
    delay = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(hours=2)) | (
        st.timedeltas(min_value=timedelta(hours=2), max_value=timedelta(days=20))
    )
    return Plan(
        received_at=received,
        suggested=draw(st.sampled_from(list(Severity))),
        ack_after=draw(st.none() | delay),
        classify_as=draw(st.none() | st.sampled_from(list(Severity))),
        resolve_after=draw(st.none() | delay),
        escalate=draw(st.booleans()),
        timers_until=draw(
            st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))
        ),
    )


def realize(plan: Plan) -> IncidentView:
    incident = Incident(plan.received_at, plan.suggested)
    at = plan.received_at
    if plan.timers_until is not None:
        incident.fire_timers(at + plan.timers_until)
        at = max(at, incident.state.events[-1].at)
    if plan.ack_after is not None:
        at += plan.ack_after
        incident.ack(at, plan.classify_as)
    if plan.escalate:
        at += timedelta(minutes=1)
        incident.do(Escalate(stage=3, reason="Hersteller"), at)
    if plan.resolve_after is not None:
        at += plan.resolve_after
        incident.resolve(at)
    return incident.view


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    st.lists(plans(), max_size=8),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
)
def test_every_incident_is_met_breached_or_open_exactly_once(
    plan_list: list[Plan], as_of_offset: timedelta
) -> None:
    views = [realize(p) for p in plan_list]
    as_of = datetime(2026, 11, 1, tzinfo=UTC) + as_of_offset
    report = build_report(views, POLICY, NOVEMBER, as_of)

    rows = [*report.severities, report.total]
    for row in rows:
        for compliance in (row.reaction, row.resolution):
            assert compliance.met + compliance.breached + compliance.open == row.incidents
            for pct in (compliance.met_pct, compliance.breached_pct, compliance.open_pct):
                assert (pct is None) == (row.incidents == 0)
                assert pct is None or 0 <= pct <= 100
        for durations in (row.time_to_react, row.time_to_resolve):
            assert durations.count == len(durations.values_seconds) <= row.incidents
            if durations.count:
                assert durations.median_seconds is not None
                assert durations.p90_seconds is not None
                assert 0 <= durations.median_seconds <= durations.p90_seconds
                assert durations.p90_seconds <= durations.values_seconds[-1]
            else:
                assert durations.median_seconds is durations.p90_seconds is None
        assert row.breaches.incidents <= row.breaches.reaction + row.breaches.resolution
        assert row.breaches.incidents <= row.incidents
        assert row.escalations.stage_3 <= row.incidents

    in_month = [v for v in views if NOVEMBER.contains(v.received_at, "Europe/Berlin")]
    assert report.total.incidents == len(in_month)
    assert sum(r.incidents for r in report.severities) == report.total.incidents
    assert sum(w.total for w in report.weeks) == report.total.incidents
    assert len(report.breached_incidents) == report.total.breaches.incidents
    # The JSON form round-trips (what `sla sla-report --json` prints).
    assert SlaReport.model_validate_json(report.model_dump_json()) == report


def test_the_sla_s_word_is_counted_beside_the_resolution_target() -> None:
    # Issue 16: a reasoned extension before the deadline keeps the obligation
    # although the target is missed; silence past the deadline breaks both.
    received = berlin(10, 9, 30)  # Tuesday: critical, resolution due 13:30
    extended = Incident(received).do(
        Acknowledge(severity=Severity.CRITICAL, estimate=berlin(10, 12)), berlin(10, 9, 45)
    )
    extended.do(
        ExtendEstimate(estimate=berlin(10, 16), reason="Ersatzteil kommt um 15 Uhr"),
        berlin(10, 11),
    )
    extended.fire_timers(berlin(10, 14)).resolve(berlin(10, 15, 30))
    silent = Incident(berlin(11, 9, 30)).ack(berlin(11, 9, 45)).fire_timers(berlin(11, 14))
    in_time = Incident(berlin(12, 9, 30)).ack(berlin(12, 9, 45)).resolve(berlin(12, 11))
    report = build_report(
        [extended.view, silent.view, in_time.view], POLICY, NOVEMBER, berlin(30, 12)
    )
    critical = figures(report, Severity.CRITICAL)
    assert (critical.resolution.met, critical.resolution.breached) == (1, 2)
    assert (critical.obligation.met, critical.obligation.breached, critical.obligation.open) == (
        2,
        1,
        0,
    )
