"""Fuzzing the intake path: every invalid report is refused with field names, nothing starts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starter import IntakeError, report_incident
from tests.conftest import EXAMPLE_REPORT
from tests.intake.fakes import RecordingClient

# What a report cannot do without; the SLA's other items may come later.
REQUIRED = ("description", "channel")
ITEMS = ("company", "full_name", "phone", "email", "first_noticed_at", "scope", "reproducible")


junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def mutated_reports(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    data = dict(EXAMPLE_REPORT)
    dropped = set(draw(st.lists(st.sampled_from(REQUIRED + ITEMS), unique=True, max_size=4)))
    for key in dropped:
        del data[key]
    for key in draw(st.lists(st.sampled_from(sorted(data)), unique=True, max_size=3)):
        data[key] = draw(junk)
    if draw(st.booleans()):
        data[draw(st.text(min_size=1, max_size=8))] = draw(junk)
    return data, dropped


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_reports())
async def test_invalid_reports_are_refused_by_name_and_start_nothing(
    case: tuple[dict[str, Any], set[str]],
) -> None:
    data, dropped = case
    client = RecordingClient()
    try:
        ticket = await report_incident(client, json.dumps(data))  # type: ignore[arg-type]
    except IntakeError as error:
        assert client.calls == [], "nothing may reach Temporal for a refused report"
        for name in dropped & set(REQUIRED):
            assert f"{name}: required" in str(error)
        assert "\n" not in str(error)
    else:
        assert not dropped & set(REQUIRED)
        assert not {"email", "phone"} <= dropped  # nobody could answer: refused
        assert ticket.startswith("INC-")
        assert [c for c in client.calls if c.startswith("start")] == [f"start {ticket}"]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
async def test_arbitrary_text_is_refused_as_json_or_fields(text: str) -> None:
    client = RecordingClient()
    try:
        await report_incident(client, text)  # type: ignore[arg-type]
    except IntakeError as error:
        assert str(error).startswith(("report is not valid JSON", "report refused"))
    assert not [c for c in client.calls if c.startswith("start")]


async def test_phone_report_of_a_standard_customer_is_refused_before_any_call() -> None:
    client = RecordingClient()
    data = {
        **EXAMPLE_REPORT,
        "company": "Unbekannt GmbH",
        "email": "info@unbekannt.example",
        "channel": "phone",
    }
    try:
        await report_incident(client, data)  # type: ignore[arg-type]
    except IntakeError as error:
        assert "premium" in str(error)
    else:
        raise AssertionError("phone report on the standard plan was accepted")
    assert client.calls == []
