"""Alertmanager webhook payloads (version 4): bounded at the door, turned into reports."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.report import RequestId
from domain.values import AwareDatetime, Description, FreeText
from service.alertmanager import (
    DESCRIPTION_LIMIT,
    TIMELINE_LIMIT,
    AlertmanagerPayload,
    MonitoringIntake,
    group_request_id,
    report_fields,
    reported_severity,
    timeline_text,
)

REQUEST_ID = re.compile(r"^[\w.:@/-]+$")
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def alert(
    name: str = "HighErrorRate",
    *,
    status: str = "firing",
    severity: str | None = "critical",
    starts_at: str = "2026-11-24T08:12:00.123456789Z",
    ends_at: str = GO_ZERO_TIME,
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": name, "job": "api", **labels}
    if severity is not None:
        all_labels["severity"] = severity
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {
            "summary": f"{name} auf {labels.get('instance', 'api')}",
            "description": "Fehlerquote über 5 %\n\tseit 10 Minuten",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=rate%28x%29",
        "fingerprint": "d5e08c84ef09a8b8",
    }


def payload(*alerts: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A v4 notification as Alertmanager 0.25 sends it (shape captured from the real one)."""
    alerts = alerts or (alert(instance="app-1"), alert(instance="app-2"))
    firing = any(a["status"] == "firing" for a in alerts)
    data = {
        "receiver": "sla-engine",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "job": "api", "severity": "critical"},
        "commonAnnotations": {"description": "Fehlerquote über 5 %\n\tseit 10 Minuten"},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": '{}/{team="shop"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
    }
    return {**data, **changes}


def parse(data: dict[str, Any]) -> AlertmanagerPayload:
    return AlertmanagerPayload.model_validate(data)


def refused_fields(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        parse(data)
    return [".".join(str(part) for part in error["loc"]) for error in caught.value.errors()]


# -- the model -----------------------------------------------------------------------


def test_a_realistic_notification_parses_with_unknown_fields_ignored() -> None:
    data = payload(someFutureField={"x": 1})
    data["alerts"][0]["someFutureAlertField"] = "y"

    parsed = AlertmanagerPayload.model_validate_json(json.dumps(data))

    assert parsed.version == "4"
    assert parsed.group_key == '{}/{team="shop"}:{alertname="HighErrorRate"}'
    assert parsed.status == "firing"
    assert parsed.receiver == "sla-engine"
    assert parsed.external_url == "http://alertmanager.example:9093"
    assert len(parsed.alerts) == 2
    first = parsed.alerts[0]
    assert first.alertname == "HighErrorRate"
    assert first.labels["instance"] == "app-1"
    # Nanoseconds from Go: cut to microseconds, the offset kept.
    assert first.starts_at == datetime(2026, 11, 24, 8, 12, 0, 123456, tzinfo=UTC)
    assert first.fingerprint == "d5e08c84ef09a8b8"
    assert parsed.model_dump(by_alias=True)["groupKey"] == parsed.group_key


def test_the_go_zero_time_as_end_of_a_firing_alert_means_none() -> None:
    parsed = parse(
        payload(
            alert(instance="a"),
            alert(instance="b", status="resolved", ends_at="2026-11-24T09:00:00+01:00"),
        )
    )

    assert parsed.alerts[0].ends_at is None
    assert parsed.alerts[1].ends_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert [a.status for a in parsed.firing] == ["firing"]
    assert [a.status for a in parsed.resolved] == ["resolved"]


def test_a_missing_start_is_refused() -> None:
    assert refused_fields(payload(alert(starts_at=GO_ZERO_TIME))) == ["alerts.0.startsAt"]


def test_a_naive_timestamp_is_refused() -> None:
    assert refused_fields(payload(alert(starts_at="2026-11-24T08:12:00"))) == ["alerts.0.startsAt"]


@pytest.mark.parametrize("version", ["3", "5", 4, ""])
def test_only_version_4_is_accepted(version: object) -> None:
    assert refused_fields(payload(version=version)) == ["version"]


def test_up_to_1000_alerts_are_accepted_and_more_refused() -> None:
    one = alert()
    assert len(parse(payload(*[one] * 1000)).alerts) == 1000
    assert refused_fields(payload(*[one] * 1001)) == ["alerts"]


def test_a_notification_without_alerts_is_refused() -> None:
    assert refused_fields(payload(alerts=[])) == ["alerts"]


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("label", "app\x07"),
        ("label", "line\nbreak"),
        ("annotation", "\x1b[31mrot"),
        ("annotation", "nul\x00"),
        ("annotation", "bidi \u202e"),
    ],
)
def test_control_characters_are_refused(where: str, text: str) -> None:
    data = payload(alert(instance="a"))
    if where == "label":
        data["alerts"][0]["labels"]["instance"] = text
        assert refused_fields(data) == ["alerts.0.labels.instance"]
    else:
        data["alerts"][0]["annotations"]["summary"] = text
        assert refused_fields(data) == ["alerts.0.annotations.summary"]


def test_control_characters_are_refused_in_the_group_key_and_label_names() -> None:
    assert refused_fields(payload(groupKey='{}:{a="\x1b"}')) == ["groupKey"]
    data = payload(alert())
    data["alerts"][0]["labels"]["bad\tname"] = "x"
    assert refused_fields(data) == ["alerts.0.labels.bad\tname.[key]"]


def test_annotations_keep_line_breaks_and_tabs_and_crlf_becomes_lf() -> None:
    data = payload(alert())
    data["alerts"][0]["annotations"]["description"] = "eins\r\nzwei\tdrei\rvier"

    parsed = parse(data)

    assert parsed.alerts[0].annotations["description"] == "eins\nzwei\tdrei\nvier"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"groupKey": "k" * 4001}, "groupKey"),
        ({"groupKey": ""}, "groupKey"),
        ({"commonLabels": {f"l{i}": "v" for i in range(101)}}, "commonLabels"),
        ({"truncatedAlerts": -1}, "truncatedAlerts"),
        ({"status": "pending"}, "status"),
    ],
)
def test_group_fields_are_bounded(change: dict[str, Any], field: str) -> None:
    assert refused_fields(payload(**change)) == [field]


def test_labels_are_bounded_in_number_name_and_value() -> None:
    many = payload(alert(**{f"l{i}": "v" for i in range(99)}))
    assert refused_fields(many) == ["alerts.0.labels"]
    exactly = payload(alert(**{f"l{i}": "v" for i in range(97)}))  # + alertname, job, severity
    assert len(parse(exactly).alerts[0].labels) == 100

    long_name = payload(alert(**{"n" * 201: "v"}))
    assert refused_fields(long_name) == [f"alerts.0.labels.{'n' * 201}.[key]"]
    long_value = payload(alert(pod="v" * 4001))
    assert refused_fields(long_value) == ["alerts.0.labels.pod"]
    assert parse(payload(alert(pod="v" * 4000))).alerts[0].labels["pod"] == "v" * 4000


def test_null_label_maps_read_as_empty() -> None:
    parsed = parse(payload(alert(), commonAnnotations=None, groupLabels=None))
    assert parsed.common_annotations == {}
    assert parsed.group_labels == {}


# -- request IDs ---------------------------------------------------------------------


def test_the_request_id_is_stable_and_valid_for_a_long_group_key() -> None:
    key = '{}/{team=~"shop|lager"}:{alertname="HighErrorRate", instance="app-1:8080"}' * 60

    request_id = group_request_id(key)

    assert request_id == group_request_id(key)
    assert request_id.startswith("am-")
    assert len(request_id) == 43
    assert REQUEST_ID.fullmatch(request_id)
    assert TypeAdapter(RequestId).validate_python(request_id) == request_id
    assert group_request_id(key + " ") != request_id


@given(st.text())
def test_any_group_key_gives_a_valid_request_id(key: str) -> None:
    request_id = group_request_id(key)
    assert REQUEST_ID.fullmatch(request_id)
    assert len(request_id) <= 128
    assert group_request_id(key) == request_id


# -- severity ------------------------------------------------------------------------


def test_the_highest_mapped_severity_of_the_firing_alerts_wins() -> None:
    config = MonitoringIntake()
    mixed = parse(
        payload(alert(severity="info"), alert(severity="page"), alert(severity="warning"))
    )
    assert reported_severity(mixed, config) == "critical"
    assert reported_severity(parse(payload(alert(severity="info"))), config) == "minor"
    assert reported_severity(parse(payload(alert(severity="error"))), config) == "major"


def test_a_resolved_alert_does_not_raise_the_severity() -> None:
    data = payload(
        alert(severity="info"),
        alert(severity="critical", status="resolved", ends_at="2026-11-24T09:00:00Z"),
    )
    assert reported_severity(parse(data), MonitoringIntake()) == "minor"


@pytest.mark.parametrize("severity", ["disaster", None, ""])
def test_an_unmapped_or_missing_severity_label_gives_the_default(severity: str | None) -> None:
    data = payload(alert(severity="info"), alert(severity=severity))
    assert reported_severity(parse(data), MonitoringIntake()) == "major"
    lenient = MonitoringIntake(default_severity="minor")
    assert reported_severity(parse(data), lenient) == "minor"


def test_severity_values_match_case_insensitively_and_the_label_is_configurable() -> None:
    assert reported_severity(parse(payload(alert(severity="Critical"))), MonitoringIntake()) == (
        "critical"
    )
    config = MonitoringIntake(severity_label="priority", severity_map={"P1": "critical"})
    assert reported_severity(parse(payload(alert(priority="P1"))), config) == "critical"
    assert reported_severity(parse(payload(alert(priority="P3"))), config) == "major"


def test_the_monitoring_section_refuses_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        MonitoringIntake.model_validate({"company": "X", "colour": "red"})
    with pytest.raises(ValidationError):
        MonitoringIntake.model_validate({"email": "not an address"})
    with pytest.raises(ValidationError):
        MonitoringIntake.model_validate({"severity_map": {"critical": "urgent"}})
    config = MonitoringIntake()
    with pytest.raises(ValidationError):
        config.company = "Y"  # type: ignore[misc]


# -- report and timeline -------------------------------------------------------------


def test_the_report_carries_the_group_and_leaves_unknowns_missing() -> None:
    data = payload(
        alert(instance="app-2", starts_at="2026-11-24T08:15:00Z"),
        alert(instance="app-1", starts_at="2026-11-24T09:10:00+01:00"),
    )
    parsed = parse(data)

    fields = report_fields(parsed, MonitoringIntake())

    assert set(fields) == {
        "channel",
        "company",
        "email",
        "description",
        "first_noticed_at",
        "request_id",
        "reported_severity",
    }
    assert fields["channel"] == "monitoring"
    assert fields["company"] == "myconvento (Monitoring)"
    assert fields["email"] == "support@myconvento.com"
    assert fields["request_id"] == group_request_id(parsed.group_key)
    assert fields["reported_severity"] == "critical"
    # The earliest start, aware: 09:10+01:00 is 08:10Z, before 08:15Z.
    assert fields["first_noticed_at"] == "2026-11-24T09:10:00+01:00"
    TypeAdapter(AwareDatetime).validate_python(fields["first_noticed_at"])

    description = str(fields["description"])
    for expected in (
        "HighErrorRate",
        "HighErrorRate auf app-1",
        "HighErrorRate auf app-2",
        "Fehlerquote über 5 %",
        "alertname=HighErrorRate, job=api, severity=critical",
        "2 Alarme (2 aktiv, 0 behoben)",
        "http://prometheus.example:9090/graph",
        "http://alertmanager.example:9093",
    ):
        assert expected in description
    assert TypeAdapter(Description).validate_python(description)


def test_a_configured_reporter_name_is_included() -> None:
    config = MonitoringIntake(company="Convento Betrieb", full_name="Nora Nachtdienst")
    fields = report_fields(parse(payload()), config)
    assert fields["full_name"] == "Nora Nachtdienst"
    assert fields["company"] == "Convento Betrieb"


def test_the_description_is_bounded_with_a_marker() -> None:
    big = alert(instance="x" * 4000)
    big["annotations"]["summary"] = "s" * 4000
    data = payload(*[copy.deepcopy(big) for _ in range(1000)], truncatedAlerts=250)

    description = str(report_fields(parse(data), MonitoringIntake())["description"])

    assert len(description) <= DESCRIPTION_LIMIT
    assert description.endswith("[… gekürzt]")
    assert "250 weitere von Alertmanager nicht übermittelt" in description
    assert TypeAdapter(Description).validate_python(description)


def test_the_timeline_text_of_a_resolved_notification() -> None:
    resolved = payload(
        alert(instance="app-1", status="resolved", ends_at="2026-11-24T09:30:00Z"),
        alert("DiskFull", instance="db-1", status="resolved", ends_at="2026-11-24T09:31:00Z"),
    )
    text = timeline_text(parse(resolved))

    assert text.startswith("Alertmanager meldet behoben: 0 Alarme aktiv, 2 behoben.")
    assert "Behoben: HighErrorRate: HighErrorRate auf app-1; DiskFull: DiskFull auf db-1." in text
    assert "Aktiv:" not in text
    assert "\n" not in text


def test_the_timeline_text_of_a_changed_group_names_both_sides() -> None:
    changed = payload(
        alert(instance="app-1"),
        alert(instance="app-2", status="resolved", ends_at="2026-11-24T09:30:00Z"),
    )
    text = timeline_text(parse(changed))
    assert text.startswith("Alertmanager meldet aktiv: 1 Alarm aktiv, 1 behoben.")
    assert "Aktiv: HighErrorRate: HighErrorRate auf app-1." in text
    assert "Behoben: HighErrorRate: HighErrorRate auf app-2." in text


def test_the_timeline_text_is_one_bounded_paragraph() -> None:
    big = alert()
    big["annotations"]["summary"] = "Zeile\n\t" * 500
    text = timeline_text(parse(payload(*[copy.deepcopy(big) for _ in range(1000)])))

    assert len(text) <= TIMELINE_LIMIT
    assert text.endswith("[…]")
    assert "\n" not in text
    assert "\t" not in text
    assert TypeAdapter(FreeText).validate_python(text)
