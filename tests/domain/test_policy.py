"""Tests for ``domain.sla.SlaPolicy`` and the duration values of ``domain.values``.

DESIGN §2 (the SLA contract) gives the numbers and rules, DESIGN §4 the policy
file format. Expected deadlines below were worked out by hand from the calendar
Mon–Fri 08:00–18:00 Europe/Berlin with the public holidays of Nordrhein-Westfalen.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.calendar import HolidaySource
from domain.sla import (
    Customer,
    CustomerRoles,
    Deadlines,
    Plan,
    PolicyError,
    Severity,
    SlaPolicy,
    StatusPagePolicy,
)
from domain.values import format_business_duration, parse_business_duration

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return SlaPolicy.default()


def shipped_mapping() -> dict[str, Any]:
    """The shipped policy file, parsed into plain TOML data (a fresh copy each call)."""
    text = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")
    return tomllib.loads(text)


# -- a tiny TOML writer, enough for policy data ----------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML: one line per top-level key, everything else inline."""
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in data.items())


def test_toml_writer_round_trips_the_shipped_policy() -> None:
    data = shipped_mapping()
    assert tomllib.loads(to_toml(data)) == data


# -- the shipped policy ------------------------------------------------------------


def test_default_policy_has_the_seed_numbers(policy: SlaPolicy) -> None:
    assert policy.name == "myconvento"
    expected = {
        Severity.CRITICAL: (1 * H, 4 * H),
        Severity.MAJOR: (1 * H, 140 * H),
        Severity.MINOR: (24 * H, 900 * H),
    }
    for severity, (reaction, resolution) in expected.items():
        targets = policy.targets(severity)
        assert targets.reaction == reaction
        assert targets.resolution == resolution
    # targets() also takes the plain string value
    assert policy.targets("major") == policy.targets(Severity.MAJOR)  # type: ignore[arg-type]


def test_default_policy_calendar(policy: SlaPolicy) -> None:
    spec = policy.calendar_spec
    assert spec.timezone == "Europe/Berlin"
    assert spec.weekdays == ("mon", "tue", "wed", "thu", "fri")
    assert (spec.opens, spec.closes) == ("08:00", "18:00")
    assert spec.holidays == HolidaySource(country="DE", subdivision="NW")
    assert spec.closed_dates == ()
    assert policy.calendar.spec == spec
    assert policy.calendar is policy.calendar  # built once


def test_default_policy_alerts(policy: SlaPolicy) -> None:
    assert policy.alerts.warn_at == 0.75
    assert policy.alerts.critical_reminder_every == timedelta(minutes=30)
    assert policy.alerts.critical_late_cutoff == H


def test_default_policy_contacts(policy: SlaPolicy) -> None:
    contacts = policy.contacts
    assert contacts.support_lead == "support@myconvento.com"
    assert contacts.on_duty == "bereitschaft@myconvento.com"
    assert contacts.experts == "experten@myconvento.com"
    assert contacts.management == "geschaeftsfuehrung@convento.de"


def test_default_policy_customer_directory(policy: SlaPolicy) -> None:
    assert policy.customers == (
        Customer(
            company="Beispiel Versand GmbH",
            customer_number="K-10001",
            plan=Plan.PREMIUM,
            domains=("beispiel-versand.de",),
            contacts=("it@beispiel-versand.de",),
            roles=CustomerRoles(
                it=("it@beispiel-versand.de",),
                management=("geschaeftsfuehrung@beispiel-versand.de",),
            ),
        ),
    )
    assert policy.support.hotline == "+49 (0)2131-200900"


@pytest.mark.parametrize(
    "spelling",
    [
        "Beispiel Versand GmbH",
        "beispiel versand gmbh",
        "BEISPIEL VERSAND GMBH",
        "  Beispiel Versand GmbH  ",
    ],
)
def test_customer_lookup_is_case_insensitive(policy: SlaPolicy, spelling: str) -> None:
    entry = policy.customer(spelling)
    assert entry is not None
    assert entry.company == "Beispiel Versand GmbH"


def test_unknown_company_is_not_in_the_directory(policy: SlaPolicy) -> None:
    assert policy.customer("Unbekannt AG") is None
    assert policy.customer("") is None


def test_severity_labels() -> None:
    assert [s.label_de for s in Severity] == ["kritisch", "wesentlich", "geringfügig"]


# -- deadlines ---------------------------------------------------------------------


def test_critical_resolution_landing_on_closing_stays_there(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 23, 14)  # Monday
    assert policy.reaction_due(Severity.CRITICAL, received) == berlin(2026, 11, 23, 15)
    assert policy.resolution_due(Severity.CRITICAL, received) == berlin(2026, 11, 23, 18)


def test_major_resolution_is_140_business_hours(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 24, 10)  # Tuesday
    due = policy.resolution_due(Severity.MAJOR, received)
    # Tue 24 Nov 10–18: 8 h; Wed–Fri 25–27 Nov: 30 h (38); Mon–Fri 30 Nov–4 Dec: 50 h
    # (88); Mon–Fri 7–11 Dec: 50 h (138); Mon 14 Dec 08–10: 2 h (140). No NRW holiday
    # falls in between.
    assert due == berlin(2026, 12, 14, 10)
    assert due.utcoffset() == H
    assert policy.calendar.between(received, due) == 140 * H
    assert policy.reaction_due(Severity.MAJOR, received) == berlin(2026, 11, 24, 11)


def test_christmas_and_new_year(policy: SlaPolicy) -> None:
    calendar = policy.calendar
    # 24 and 31 December are business days, 25/26 December and 1 January are not.
    assert calendar.is_business_day(date(2026, 12, 24))  # Thursday
    assert calendar.is_business_day(date(2026, 12, 31))  # Thursday
    assert not calendar.is_business_day(date(2026, 12, 25))  # Friday, 1. Weihnachtstag
    assert not calendar.is_business_day(date(2027, 1, 1))  # Friday, Neujahr
    assert not calendar.is_business_day(date(2025, 12, 26))  # Friday, 2. Weihnachtstag
    assert calendar.is_open(berlin(2026, 12, 24, 17, 59))
    assert not calendar.is_open(berlin(2026, 12, 25, 10))
    # A major report received Mon 14 Dec 08:00: 14–18 Dec 50 h, 21–24 Dec 40 h (90),
    # 25 Dec holiday + weekend, 28–31 Dec 40 h (130), 1 Jan holiday + weekend,
    # Mon 4 Jan 10 h (140) -> lands on closing and stays there.
    received = berlin(2026, 12, 14, 8)
    due = policy.resolution_due(Severity.MAJOR, received)
    assert due == berlin(2027, 1, 4, 18)
    assert policy.calendar.between(received, due) == 140 * H


def test_minor_reaction_over_the_weekend(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 27, 17)  # Friday
    # Fri 1 h, Mon 10 h, Tue 10 h, Wed 08–11 3 h = 24 h
    assert policy.reaction_due(Severity.MINOR, received) == berlin(2026, 12, 2, 11)


def test_clock_starts_at_next_opening(policy: SlaPolicy) -> None:
    saturday = berlin(2026, 11, 28, 15)
    assert policy.reaction_due(Severity.CRITICAL, saturday) == berlin(2026, 11, 30, 9)
    early = berlin(2026, 11, 24, 6)
    assert policy.resolution_due(Severity.CRITICAL, early) == berlin(2026, 11, 24, 12)


def test_deadlines_accept_any_utc_offset(policy: SlaPolicy) -> None:
    received_utc = datetime(2026, 11, 23, 13, tzinfo=UTC)  # = Mon 14:00 in Berlin
    due = policy.resolution_due(Severity.CRITICAL, received_utc)
    assert due == berlin(2026, 11, 23, 18)
    assert due.utcoffset() == timedelta(hours=1)  # Berlin wall time, fixed offset


def test_naive_received_at_is_refused(policy: SlaPolicy) -> None:
    with pytest.raises(ValueError, match="naive"):
        policy.reaction_due(Severity.CRITICAL, datetime(2026, 11, 23, 14))


def test_deadlines_warn_at_75_percent(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 24, 10)  # Tuesday
    deadlines = policy.deadlines(Severity.CRITICAL, received)
    assert deadlines == Deadlines(
        reaction_due=berlin(2026, 11, 24, 11),
        resolution_due=berlin(2026, 11, 24, 14),
        reaction_warning=berlin(2026, 11, 24, 10, 45),
        resolution_warning=berlin(2026, 11, 24, 13),
    )
    major = policy.deadlines(Severity.MAJOR, received)
    assert major.resolution_due == berlin(2026, 12, 14, 10)
    # 105 h: 8 + 30 + 50 = 88 by Fri 4 Dec, 17 h more -> Tue 8 Dec 15:00
    assert major.resolution_warning == berlin(2026, 12, 8, 15)


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize(
    "received",
    [
        berlin(2026, 11, 24, 10),
        berlin(2026, 11, 27, 17, 30),
        berlin(2026, 11, 28, 12),
        berlin(2026, 12, 23, 16, 7, 30),
        berlin(2026, 3, 27, 17),  # DST starts on Sunday 29 March
    ],
)
def test_warnings_are_warn_at_of_the_business_time(
    policy: SlaPolicy, severity: Severity, received: datetime
) -> None:
    deadlines = policy.deadlines(severity, received)
    targets = policy.targets(severity)
    between = policy.calendar.between
    assert between(received, deadlines.reaction_due) == targets.reaction
    assert between(received, deadlines.resolution_due) == targets.resolution
    assert between(received, deadlines.reaction_warning) == targets.reaction * 0.75
    assert between(received, deadlines.resolution_warning) == targets.resolution * 0.75
    assert deadlines.reaction_due == policy.reaction_due(severity, received)
    assert deadlines.resolution_due == policy.resolution_due(severity, received)
    assert received < deadlines.reaction_warning < deadlines.reaction_due
    assert deadlines.resolution_warning < deadlines.resolution_due


def test_all_deadlines_covers_every_severity(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 24, 10)
    everything = policy.all_deadlines(received)
    assert set(everything) == set(Severity)
    for severity in Severity:
        assert everything[severity] == policy.deadlines(severity, received)
    assert everything[Severity.MINOR].reaction_due == berlin(2026, 11, 26, 14)


# -- critical pages ----------------------------------------------------------------


def test_critical_page_during_business_hours_is_once(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 24, 10)  # Tuesday
    assert policy.critical_pages(received) == [received]


def test_critical_page_late_on_friday_repeats_on_monday(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 27, 17, 30)  # Friday, 30 min before closing
    assert policy.critical_pages(received) == [received, berlin(2026, 11, 30, 8)]


def test_critical_page_exactly_one_hour_before_closing_is_once(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 27, 17)
    assert policy.critical_pages(received) == [received]
    just_later = received + timedelta(microseconds=1)
    assert policy.critical_pages(just_later) == [just_later, berlin(2026, 11, 30, 8)]


def test_critical_page_on_saturday_repeats_on_monday(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 28, 11)
    assert policy.critical_pages(received) == [received, berlin(2026, 11, 30, 8)]


def test_critical_page_before_opening_repeats_at_opening(policy: SlaPolicy) -> None:
    received = berlin(2026, 11, 24, 6)  # Tuesday
    assert policy.critical_pages(received) == [received, berlin(2026, 11, 24, 8)]


def test_critical_page_at_closing_repeats_next_business_day(policy: SlaPolicy) -> None:
    received = berlin(2026, 12, 24, 18)  # Thursday closing; Fri 25 Dec is a holiday
    assert policy.critical_pages(received) == [received, berlin(2026, 12, 28, 8)]


def test_critical_page_with_utc_input(policy: SlaPolicy) -> None:
    received = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # Fri 17:30 in Berlin
    pages = policy.critical_pages(received)
    assert pages == [received, berlin(2026, 11, 30, 8)]


# -- loading from a file, round trip -----------------------------------------------

ALWAYS_ON = """\
name = "always-on"

[calendar]
timezone = "Europe/Berlin"
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = "00:00"
closes = "24:00"

[severity.critical]
reaction = "PT5S"
resolution = "PT10S"

[severity.major]
reaction = "PT5S"
resolution = "PT1M"

[severity.minor]
reaction = "PT30S"
resolution = "PT1H"

[contacts]
support_lead = "lead@example.org"
on_duty = "duty@example.org"
experts = "experts@example.org"
management = "boss@example.org"
"""


@pytest.fixture()
def always_on(tmp_path: Path) -> SlaPolicy:
    path = tmp_path / "always-on.toml"
    path.write_text(ALWAYS_ON, encoding="utf-8")
    return SlaPolicy.from_file(path)


def test_from_file_reads_a_24_7_policy(always_on: SlaPolicy) -> None:
    assert always_on.name == "always-on"
    assert always_on.calendar_spec.holidays is None
    assert always_on.customers == ()
    assert always_on.alerts.warn_at == 0.75  # defaults apply
    assert always_on.targets(Severity.CRITICAL).reaction == timedelta(seconds=5)
    assert always_on.targets(Severity.MINOR).resolution == H
    assert always_on.customer("Beispiel Versand GmbH") is None
    sunday_night = berlin(2026, 11, 29, 23, 59, 58)
    assert always_on.reaction_due(Severity.CRITICAL, sunday_night) == berlin(2026, 11, 30, 0, 0, 3)
    assert always_on.critical_pages(sunday_night) == [sunday_night]
    deadlines = always_on.deadlines(Severity.CRITICAL, sunday_night)
    assert deadlines.reaction_warning == sunday_night + timedelta(seconds=3.75)


@pytest.mark.parametrize(
    ("received_utc", "expected_utc"),
    [
        # 29 March 2026: 02:00 CET jumps to 03:00 CEST
        (datetime(2026, 3, 29, 0, 59, 58, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, 3, tzinfo=UTC)),
        # 25 October 2026: 03:00 CEST falls back to 02:00 CET
        (
            datetime(2026, 10, 25, 0, 59, 58, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 0, 3, tzinfo=UTC),
        ),
    ],
)
def test_24_7_policy_counts_real_seconds_across_dst(
    always_on: SlaPolicy, received_utc: datetime, expected_utc: datetime
) -> None:
    due = always_on.reaction_due(Severity.CRITICAL, received_utc.astimezone(BERLIN))
    assert due.astimezone(UTC) == expected_utc


def test_from_file_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(ALWAYS_ON, encoding="utf-8")
    assert SlaPolicy.from_file(str(path)).name == "always-on"


@pytest.mark.parametrize("which", ["default", "always_on"])
def test_json_round_trip(request: pytest.FixtureRequest, which: str) -> None:
    p = SlaPolicy.default() if which == "default" else request.getfixturevalue("always_on")
    _ = p.calendar  # a cached calendar must not get in the way of equality or dumping
    text = p.model_dump_json()
    again = SlaPolicy.model_validate_json(text)
    assert again == p
    assert again.model_dump_json() == text
    assert SlaPolicy.from_mapping(json.loads(text)) == p


def test_json_form(policy: SlaPolicy) -> None:
    data = json.loads(policy.model_dump_json())
    assert "calendar" in data
    assert "calendar_spec" not in data
    assert data["calendar"]["holidays"] == {"country": "DE", "subdivision": "NW"}
    assert data["severity"]["major"] == {"reaction": "PT1H", "resolution": "PT140H"}
    assert data["severity"]["minor"] == {"reaction": "PT24H", "resolution": "PT900H"}
    assert data["alerts"]["critical_reminder_every"] == "PT30M"
    assert data["customers"][0]["plan"] == "premium"


def test_json_form_with_seconds(always_on: SlaPolicy) -> None:
    data = json.loads(always_on.model_dump_json())
    assert data["severity"]["critical"] == {"reaction": "PT5S", "resolution": "PT10S"}
    assert data["calendar"]["holidays"] is None


def test_policy_is_frozen(policy: SlaPolicy) -> None:
    with pytest.raises(ValueError):
        policy.name = "other"  # type: ignore[misc]


# -- errors ------------------------------------------------------------------------


def load_mutated(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> tuple[str, str]:
    """Write the shipped policy changed by ``mutate``; return (path, PolicyError message)."""
    data = shipped_mapping()
    mutate(data)
    path = tmp_path / "broken-policy.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_file(path)
    return str(path), str(info.value)


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_unchanged_shipped_policy_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(to_toml(shipped_mapping()), encoding="utf-8")
    assert SlaPolicy.from_file(path) == SlaPolicy.default()


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "policy.toml"
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_file(path)
    assert str(path) in str(info.value)
    assert "cannot read" in str(info.value)


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('name = "myconvento\n[calendar\n', encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_file(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _drop(*keys: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def _add_duplicate_customer(data: dict[str, Any]) -> None:
    data["customers"].append({"company": " beispiel VERSAND gmbh", "plan": "standard"})


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        pytest.param(_drop("name"), "name", ["required"], id="missing-name"),
        pytest.param(_set("prio", value=1), "prio", ["unknown field"], id="unknown-top-level"),
        pytest.param(_set("name", value="  "), "name", [], id="blank-name"),
        pytest.param(
            _drop("severity", "major", "reaction"),
            "severity.major.reaction",
            ["required"],
            id="missing-reaction",
        ),
        pytest.param(
            _set("severity", "major", "reaction", value="P14D"),
            "severity.major.reaction",
            ["P14D", "hours"],
            id="days-duration",
        ),
        pytest.param(
            _set("severity", "major", "reaction", value="PT0H"),
            "severity.major.reaction",
            ["positive"],
            id="zero-duration",
        ),
        pytest.param(
            _set("severity", "minor", "resolution", value="-PT1H"),
            "severity.minor.resolution",
            ["-PT1H"],
            id="negative-duration",
        ),
        pytest.param(
            _set("severity", "minor", "resolution", value=900),
            "severity.minor.resolution",
            ["PT4H"],
            id="number-duration",
        ),
        pytest.param(
            _set("severity", "critical", "reaction", value="PT5H"),
            "severity.critical",
            ["reaction", "resolution"],
            id="reaction-longer-than-resolution",
        ),
        pytest.param(
            _set("severity", "blocker", value={"reaction": "PT1H", "resolution": "PT2H"}),
            "severity.blocker",
            [],
            id="unknown-severity",
        ),
        pytest.param(
            _set("severity", "major", "escalate", value="PT1H"),
            "severity.major.escalate",
            ["unknown field"],
            id="unknown-severity-key",
        ),
        pytest.param(
            _set("calendar", "timezone", value="Mars/Base"),
            "calendar.timezone",
            ["Mars/Base"],
            id="bad-zone",
        ),
        pytest.param(
            _set("calendar", "opens", value="25:00"), "calendar.opens", ["25:00"], id="opens-25"
        ),
        pytest.param(
            _set("calendar", "opens", value="8:00"), "calendar.opens", ["HH:MM"], id="opens-8"
        ),
        pytest.param(
            _set("calendar", "closes", value="18:60"), "calendar.closes", ["18:60"], id="closes-60"
        ),
        pytest.param(
            _set("calendar", "opens", value="19:00"),
            "calendar",
            ["opens", "before", "closes"],
            id="opens-after-closes",
        ),
        pytest.param(
            _set("calendar", "closes", value="08:00"),
            "calendar",
            ["opens", "before", "closes"],
            id="opens-equals-closes",
        ),
        pytest.param(
            _set("calendar", "weekdays", value=[]),
            "calendar.weekdays",
            ["weekday"],
            id="no-weekdays",
        ),
        pytest.param(
            _set("calendar", "weekdays", value=["monday"]),
            "calendar.weekdays.0",
            ["mon"],
            id="weekday-monday",
        ),
        pytest.param(
            _set("calendar", "weekdays", value="monday"),
            "calendar.weekdays",
            [],
            id="weekdays-string",
        ),
        pytest.param(
            _set("calendar", "weekdays", value=["mon", "mon"]),
            "calendar.weekdays",
            ["repeat"],
            id="weekdays-repeat",
        ),
        pytest.param(
            _set("calendar", "holidays", value={"country": "XX"}),
            "calendar.holidays",
            ["XX"],
            id="holiday-country",
        ),
        pytest.param(
            _set("calendar", "closed_dates", value=["2026-02-30"]),
            "calendar.closed_dates.0",
            [],
            id="closed-date",
        ),
        pytest.param(
            _set("contacts", "on_duty", value="bereitschaft@"),
            "contacts.on_duty",
            ["e-mail", "bereitschaft@"],
            id="bad-contact",
        ),
        pytest.param(
            _drop("contacts", "experts"), "contacts.experts", ["required"], id="missing-contact"
        ),
        pytest.param(
            _set("customers", value=[{"company": "X AG", "plan": "gold"}]),
            "customers.0.plan",
            ["premium"],
            id="plan-gold",
        ),
        pytest.param(
            _set("customers", value=[{"company": "X AG", "contacts": ["x.ag"]}]),
            "customers.0.contacts.0",
            ["e-mail"],
            id="bad-customer-contact",
        ),
        pytest.param(
            _set("alerts", "warn_at", value=1.5), "alerts.warn_at", ["less than 1"], id="warn-at"
        ),
        pytest.param(
            _set("alerts", "warn_at", value=0), "alerts.warn_at", ["greater than 0"], id="warn-0"
        ),
        pytest.param(
            _set("alerts", "critical_late_cutoff", value="1h"),
            "alerts.critical_late_cutoff",
            ["PT4H"],
            id="cutoff",
        ),
    ],
)
def test_policy_errors_name_file_and_key(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], key: str, words: list[str]
) -> None:
    path, message = load_mutated(tmp_path, mutate)
    assert message.startswith(f"{path}: ")
    assert f"{key}:" in message or f"{key}." in message
    for word in words:
        assert word in message


def test_duplicate_customers_are_named(tmp_path: Path) -> None:
    path, message = load_mutated(tmp_path, _add_duplicate_customer)
    assert message.startswith(f"{path}: ")
    assert "customers: listed twice: beispiel versand gmbh" in message


def test_missing_severity_is_named(tmp_path: Path) -> None:
    path, message = load_mutated(tmp_path, _drop("severity", "major"))
    assert message.startswith(f"{path}: ")
    assert "severity" in message
    assert "major" in message
    assert "critical" not in message


def test_missing_severity_is_named_by_dotted_key(tmp_path: Path) -> None:
    _, message = load_mutated(tmp_path, _drop("severity", "major"))
    assert "severity.major" in message


def test_unknown_holiday_subdivision_is_named(tmp_path: Path) -> None:
    _, message = load_mutated(
        tmp_path, _set("calendar", "holidays", value={"country": "DE", "subdivision": "ZZ"})
    )
    assert "calendar.holidays" in message
    assert "ZZ" in message


def test_several_errors_in_one_message(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        del data["name"]
        data["severity"]["major"]["reaction"] = "P14D"
        data["calendar"]["timezone"] = "Mars/Base"
        data["calendar"]["opens"] = "8:00"
        data["contacts"]["on_duty"] = "bereitschaft@"
        data["customers"][0]["plan"] = "gold"
        data["alerts"]["warn_at"] = 1.5

    path, message = load_mutated(tmp_path, mutate)
    assert message.startswith(f"{path}: ")
    keys = [
        "name",
        "severity.major.reaction",
        "calendar.timezone",
        "calendar.opens",
        "contacts.on_duty",
        "customers.0.plan",
        "alerts.warn_at",
    ]
    for key in keys:
        assert f"{key}: " in message
    assert message.count("; ") == len(keys) - 1
    assert "\n" not in message


def test_missing_severity_reported_together_with_field_errors(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        del data["severity"]["major"]
        data["contacts"]["on_duty"] = "bereitschaft@"

    _, message = load_mutated(tmp_path, mutate)
    assert "contacts.on_duty" in message
    assert "major" in message


def test_from_toml_and_from_mapping_use_the_source(policy: SlaPolicy) -> None:
    with pytest.raises(PolicyError, match=r"^inline: not valid TOML"):
        SlaPolicy.from_toml("= 1", source="inline")
    with pytest.raises(PolicyError, match=r"^<policy>: name: required"):
        SlaPolicy.from_mapping({k: v for k, v in shipped_mapping().items() if k != "name"})
    assert SlaPolicy.from_toml(to_toml(shipped_mapping())) == policy


# -- business durations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("pt2h", timedelta(hours=2)),
        ("  PT4H  ", timedelta(hours=4)),
        ("PT140H", timedelta(hours=140)),
        ("PT90M", timedelta(minutes=90)),
        ("PT1H2M3.000004S", timedelta(hours=1, minutes=2, seconds=3, microseconds=4)),
        ("PT0.000001S", timedelta(microseconds=1)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_parse_business_duration_accepts(text: object, expected: timedelta) -> None:
    assert parse_business_duration(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "P1D",
        "P14D",
        "PT1D",
        "P1W",
        "P1Y",
        "",
        "PT",
        "1h",
        "PT1.5H",
        "PT1H ago",
        "-PT1H",
        "PT0H",
        "PT0S",
        "PT0.0000001S",
        5,
        5.0,
        None,
        timedelta(0),
        timedelta(hours=-1),
    ],
)
def test_parse_business_duration_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        parse_business_duration(value)


def test_day_durations_get_a_hint() -> None:
    with pytest.raises(ValueError, match="hours"):
        parse_business_duration("P14D")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=140), "PT140H"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(minutes=30), "PT30M"),
        (timedelta(seconds=5), "PT5S"),
        (timedelta(milliseconds=500), "PT0.500000S"),
        (timedelta(days=2), "PT48H"),
        (timedelta(0), "PT0S"),
        (timedelta(hours=1, microseconds=1), "PT1H0.000001S"),
    ],
)
def test_format_business_duration(value: timedelta, text: str) -> None:
    assert format_business_duration(value) == text


@given(
    st.timedeltas(
        min_value=timedelta(microseconds=1),
        max_value=timedelta(hours=1000),
    )
)
def test_format_then_parse_is_identity(value: timedelta) -> None:
    text = format_business_duration(value)
    assert text.startswith("PT")
    assert parse_business_duration(text) == value
    assert parse_business_duration(text.lower()) == value


@given(
    hours=st.integers(min_value=0, max_value=1000),
    minutes=st.integers(min_value=0, max_value=59),
    micros=st.integers(min_value=0, max_value=59_999_999),
)
def test_parse_then_format_is_canonical(hours: int, minutes: int, micros: int) -> None:
    value = timedelta(hours=hours, minutes=minutes, microseconds=micros)
    assume(value > timedelta(0))
    text = format_business_duration(value)
    assert format_business_duration(parse_business_duration(text)) == text


def test_midnight_closing_is_end_of_day(always_on: SlaPolicy) -> None:
    spec = always_on.calendar_spec
    assert (spec.opens, spec.closes) == ("00:00", "24:00")
    assert always_on.calendar.is_open(datetime.combine(date(2026, 11, 29), time(23, 59), BERLIN))


# -- [limits] and [mail] (issue 14) -------------------------------------------------


def test_shipped_policy_limits_are_the_hard_maxima(policy: SlaPolicy) -> None:
    assert policy.limits.as_mapping() == {
        "description": 20_000,
        "text": 5_000,
        "name": 200,
        "phone": 50,
        "attachments": 20,
    }
    assert policy.mail.smtputf8 is False


def test_limits_and_mail_default_when_the_sections_are_missing() -> None:
    data = shipped_mapping()
    del data["limits"], data["mail"]
    assert SlaPolicy.from_mapping(data) == SlaPolicy.default()


def test_a_policy_may_lower_the_limits_and_enable_smtputf8(tmp_path: Path) -> None:
    data = shipped_mapping()
    data["limits"] = {"description": 500, "name": 80, "attachments": 0}
    data["mail"] = {"smtputf8": True}
    data["customers"][0]["contacts"] = ["müller@beispiel-versand.de"]
    path = tmp_path / "lowered.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    policy = SlaPolicy.from_file(path)
    assert policy.limits.as_mapping() == {
        "description": 500,
        "text": 5_000,
        "name": 80,
        "phone": 50,
        "attachments": 0,
    }
    assert policy.mail.smtputf8 is True
    assert policy.customers[0].contacts == ("müller@beispiel-versand.de",)
    assert SlaPolicy.model_validate_json(policy.model_dump_json()) == policy


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        pytest.param(
            _set("limits", value={"description": 20_001}),
            "limits.description",
            ["at most 20000", "hard maximum"],
            id="description-above-cap",
        ),
        pytest.param(
            _set("limits", value={"text": 1_000_000}),
            "limits.text",
            ["at most 5000"],
            id="text-above-cap",
        ),
        pytest.param(
            _set("limits", value={"attachments": 21}),
            "limits.attachments",
            ["at most 20"],
            id="attachments-above-cap",
        ),
        pytest.param(
            _set("limits", value={"name": 0}), "limits.name", ["greater than"], id="name-zero"
        ),
        pytest.param(
            _set("limits", value={"phone": 5}), "limits.phone", ["greater than"], id="phone-5"
        ),
        pytest.param(
            _set("limits", value={"subject": 80}),
            "limits.subject",
            ["unknown field"],
            id="unknown-limit",
        ),
        pytest.param(
            _set("mail", value={"smtputf8": "maybe"}),
            "mail.smtputf8",
            ["bool"],
            id="smtputf8-maybe",
        ),
        pytest.param(
            _set("contacts", "on_duty", value="=?utf-8?q?x=0D=0A?=@myconvento.com"),
            "contacts.on_duty",
            ["e-mail", "encoded-word"],
            id="encoded-word-contact",
        ),
        pytest.param(
            _set("customers", value=[{"company": "X AG", "contacts": ["müller@x-ag.de"]}]),
            "customers.0.contacts.0",
            ["SMTPUTF8", "[mail] smtputf8 = false"],
            id="non-ascii-contact-without-smtputf8",
        ),
        pytest.param(
            _set("customers", value=[{"company": "X AG\n---\nY"}]),
            "customers.0.company",
            ["U+000A"],
            id="company-with-newline",
        ),
    ],
)
def test_limits_and_mail_errors_name_the_dotted_key(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], key: str, words: list[str]
) -> None:
    path, message = load_mutated(tmp_path, mutate)
    assert message.startswith(f"{path}: ")
    assert f"{key}:" in message
    for word in words:
        assert word in message


def test_an_idna_contact_is_stored_in_its_ascii_form() -> None:
    data = shipped_mapping()
    data["contacts"]["management"] = "gf@bücher.de"
    assert SlaPolicy.from_mapping(data).contacts.management == "gf@xn--bcher-kva.de"


@pytest.mark.parametrize(
    "url", ["ftp://stoerung.example", "http://a b", "javascript:alert(1)", "http://x/?q=1", ""]
)
def test_the_status_page_url_must_be_a_plain_public_address(url: str) -> None:
    with pytest.raises(ValueError, match="public http"):
        StatusPagePolicy(url=url)


def test_the_shipped_policy_names_the_status_page(policy: SlaPolicy) -> None:
    assert policy.status_page.url == "http://stoerung.convento.de"
    assert StatusPagePolicy(url="https://status.example.de/").url == "https://status.example.de"


# -- [archive] personal_data_days (issue 17, GDPR) ------------------------------------


def test_the_shipped_policy_erases_personal_data_after_two_years(policy: SlaPolicy) -> None:
    assert policy.archive.personal_data_days == 730


def test_without_an_archive_section_nothing_is_erased_automatically() -> None:
    data = shipped_mapping()
    del data["archive"]
    assert SlaPolicy.from_mapping(data).archive.personal_data_days == 0


@pytest.mark.parametrize("days", [0, 1, 3650])
def test_personal_data_days_within_the_bounds_load(days: int) -> None:
    data = shipped_mapping()
    data["archive"] = {"personal_data_days": days}
    assert SlaPolicy.from_mapping(data).archive.personal_data_days == days


@pytest.mark.parametrize(
    ("value", "word"),
    [(-1, "greater than or equal to 0"), (3651, "less than or equal to 3650"), ("P2Y", "integer")],
)
def test_personal_data_days_out_of_bounds_is_named(tmp_path: Path, value: Any, word: str) -> None:
    path, message = load_mutated(tmp_path, _set("archive", "personal_data_days", value=value))
    assert message.startswith(f"{path}: ")
    assert "archive.personal_data_days:" in message
    assert word in message


def test_an_unknown_archive_key_is_refused(tmp_path: Path) -> None:
    _, message = load_mutated(tmp_path, _set("archive", "personal_data_years", value=2))
    assert "archive.personal_data_years" in message
