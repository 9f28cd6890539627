"""Prometheus Alertmanager webhooks (payload version 4) as incident reports.

Pure: models and text, no Temporal, no I/O, no clock. The HTTP door
(``POST /v1/alerts/alertmanager``) validates the body as
:class:`AlertmanagerPayload` and keeps one incident per alert group:

* the group's first notification becomes an intake report
  (:func:`report_fields`, DESIGN §4 keys, ``channel = "monitoring"``) whose
  ``request_id`` (:func:`group_request_id`) is derived from the ``groupKey``,
  so every later notification of the group, and every replica of an HA pair
  sending the same one, finds the same incident;
* later notifications (more alerts, some resolved, all resolved) become one
  paragraph on that incident's timeline (:func:`timeline_text`).

The payload is bounded at the door (counts, lengths, characters) because its
text ends up in e-mails and on the status page; fields Alertmanager may add in
later versions are ignored, not refused, since a refused webhook (4xx) is
dropped by Alertmanager without retry.

Alertmanager quirks handled here:

* a firing alert's ``endsAt`` is Go's zero time ``0001-01-01T00:00:00Z``
  (Alertmanager hides the resolve-timeout it keeps internally): read as ``None``;
* the ``groupKey`` is the route's matcher path and the group labels
  (``{}:{alertname="DiskFull"}``): it contains characters a request ID may not,
  and it changes when the routing tree changes (then a new incident starts).
  After a group resolved, the same alert firing again carries the same
  ``groupKey`` (hence the same request ID): the caller decides whether that
  reopens the incident or starts a new one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from domain.sla import MonitoringIntakePolicy as MonitoringIntake
from domain.sla import Severity

__all__ = [
    "DESCRIPTION_LIMIT",
    "GROUP_KEY_MAX",
    "KEY_MAX",
    "MAX_ALERTS",
    "MAX_LABELS",
    "REQUEST_ID_PREFIX",
    "TIMELINE_LIMIT",
    "VALUE_MAX",
    "AlertStatus",
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "MonitoringIntake",
    "group_request_id",
    "report_fields",
    "reported_severity",
    "timeline_text",
]

MAX_ALERTS = 1000
"""Alerts per notification (Alertmanager's ``max_alerts`` should be at most this)."""
MAX_LABELS = 100
"""Labels (and annotations) per alert, and entries of the group-wide label maps."""
KEY_MAX = 200
"""Characters of a label or annotation name."""
VALUE_MAX = 4000
"""Characters of a label or annotation value, of a URL, of the receiver name."""
GROUP_KEY_MAX = 4000
"""Characters of the ``groupKey``."""
DESCRIPTION_LIMIT = 5000
"""Characters of the report description built by :func:`report_fields`."""
TIMELINE_LIMIT = 2000
"""Characters of the timeline paragraph built by :func:`timeline_text`."""
REQUEST_ID_PREFIX = "am-"
"""Prefix of the request IDs of alert groups (:func:`group_request_id`)."""

AlertStatus = Literal["firing", "resolved"]
"""The status of an alert, or of a whole notification (firing while any alert fires)."""
"""A severity of ``domain.sla.Severity``, spelled as in the policy file."""

# -- bounded text ------------------------------------------------------------------

# C0 controls (CR, LF, TAB included), DEL, C1 controls, the line and paragraph
# separators, the bidirectional embeddings/overrides/isolates and lone
# surrogates: the same set domain.values refuses in a single line, so that what
# passes here also passes the report's own checks later.
_NOT_IN_A_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Annotations are free text (multi-line descriptions, runbook snippets): the same
# set without LF and TAB, once other line breaks became LF.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n?|[\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")

# Go's zero time.Time: what Alertmanager writes as the endsAt of a firing alert.
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _refuse(value: str, forbidden: re.Pattern[str], where: str) -> None:
    found = forbidden.search(value)
    if found is not None:
        raise ValueError(
            f"control character U+{ord(found.group()):04X} not allowed in {where} "
            f"(character {found.start() + 1})"
        )


def _single_line(where: str) -> AfterValidator:
    def check(value: str) -> str:
        _refuse(value, _NOT_IN_A_LINE, where)
        return value

    return AfterValidator(check)


def _annotation_text(value: str) -> str:
    # Templates written on Windows end lines in CRLF; one line-break form (as
    # domain.values does for free text) rather than refusing the whole group.
    value = _LINE_BREAK.sub("\n", value)
    _refuse(value, _NOT_IN_TEXT, "an annotation value")
    return value


def _none_as_empty(value: object) -> object:
    # Go encodes a nil map as null; other Alertmanager-compatible senders do.
    return {} if value is None else value


def _zero_time_as_none(value: datetime | None) -> datetime | None:
    return None if value == _GO_ZERO_TIME else value


def _refuse_zero_time(value: datetime) -> datetime:
    if value == _GO_ZERO_TIME:
        raise ValueError("startsAt is missing (Go zero time)")
    return value


def _not_empty(alerts: tuple[AlertmanagerAlert, ...]) -> tuple[AlertmanagerAlert, ...]:
    # Not min_length: pydantic would count the alerts left after dropping the
    # invalid ones and add a misleading "at least 1 item" to their errors.
    if not alerts:
        raise ValueError("a notification has at least one alert")
    return alerts


LabelName = Annotated[
    str, Field(min_length=1, max_length=KEY_MAX), _single_line("a label or annotation name")
]
LabelValue = Annotated[str, Field(max_length=VALUE_MAX), _single_line("a label value")]
AnnotationValue = Annotated[str, Field(max_length=VALUE_MAX), AfterValidator(_annotation_text)]
Labels = Annotated[
    dict[LabelName, LabelValue], BeforeValidator(_none_as_empty), Field(max_length=MAX_LABELS)
]
Annotations = Annotated[
    dict[LabelName, AnnotationValue],
    BeforeValidator(_none_as_empty),
    Field(max_length=MAX_LABELS),
]
OneLine = Annotated[str, Field(max_length=VALUE_MAX), _single_line("this field")]


class AlertmanagerAlert(BaseModel):
    """One alert of a notification.

    Attributes:
        status: ``firing`` or ``resolved``.
        labels: The alert's identity (``alertname``, ``severity``, ``instance`` …).
        annotations: Free text (``summary``, ``description``, ``runbook_url`` …).
        starts_at: When the alert started firing (aware).
        ends_at: When it resolved; ``None`` while it fires.
        generator_url: Link to the rule that fired (Prometheus graph); may be empty.
        fingerprint: Alertmanager's hash of the labels.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: AlertStatus
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    starts_at: Annotated[AwareDatetime, AfterValidator(_refuse_zero_time)] = Field(alias="startsAt")
    ends_at: Annotated[AwareDatetime | None, AfterValidator(_zero_time_as_none)] = Field(
        default=None, alias="endsAt"
    )
    generator_url: OneLine = Field(default="", alias="generatorURL")
    fingerprint: Annotated[str, Field(max_length=KEY_MAX), _single_line("the fingerprint")] = ""

    @property
    def alertname(self) -> str:
        """The ``alertname`` label, or ``""`` when the alert has none."""
        return self.labels.get("alertname", "")


class AlertmanagerPayload(BaseModel):
    """A webhook notification of Alertmanager, payload version 4.

    Validate the request body with ``AlertmanagerPayload.model_validate_json``;
    the fields carry the wire names as aliases (``groupKey`` …).

    Attributes:
        version: Always ``"4"``; any other version is refused.
        group_key: Identifies the alert group (route and group labels).
        truncated_alerts: Alerts left out because of the receiver's ``max_alerts``.
        status: ``firing`` while any alert of the group fires, else ``resolved``.
        receiver: The receiver's name (regexp-quoted by Alertmanager).
        group_labels: The labels the route groups by.
        common_labels: Labels all alerts share.
        common_annotations: Annotations all alerts share.
        external_url: Alertmanager's own address.
        alerts: The group's alerts, 1 to :data:`MAX_ALERTS`.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Literal["4"]
    group_key: Annotated[
        str, Field(min_length=1, max_length=GROUP_KEY_MAX), _single_line("the groupKey")
    ] = Field(alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: AlertStatus
    receiver: OneLine = ""
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Annotations = Field(default_factory=dict, alias="commonAnnotations")
    external_url: OneLine = Field(default="", alias="externalURL")
    alerts: Annotated[tuple[AlertmanagerAlert, ...], AfterValidator(_not_empty)] = Field(
        max_length=MAX_ALERTS
    )

    @property
    def firing(self) -> tuple[AlertmanagerAlert, ...]:
        """The alerts still firing."""
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[AlertmanagerAlert, ...]:
        """The alerts resolved."""
        return tuple(a for a in self.alerts if a.status == "resolved")


# -- request ID ----------------------------------------------------------------------


def group_request_id(group_key: str) -> str:
    r"""The request ID of one alert group: ``am-`` and 40 hex digits of SHA-256.

    The ``groupKey`` itself cannot serve: it holds ``{}:"=`` and may be
    thousands of characters, while request IDs match ``^[\w.:@/-]+$`` and are at
    most 128 characters. 160 bits keep collisions out of reach.

    Args:
        group_key: The notification's ``groupKey``.

    Returns:
        A request ID, the same for every notification of the group.
    """
    digest = hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()
    return REQUEST_ID_PREFIX + digest[:40]


# -- severity ------------------------------------------------------------------------

_RANK: dict[Severity, int] = {Severity.MINOR: 0, Severity.MAJOR: 1, Severity.CRITICAL: 2}


def _alert_severity(alert: AlertmanagerAlert, config: MonitoringIntake) -> Severity:
    value = alert.labels.get(config.severity_label)
    if value is None:
        return config.default_severity
    found = config.severity_map.get(value)
    if found is None:
        wanted = value.strip().casefold()
        found = next(
            (sev for key, sev in config.severity_map.items() if key.casefold() == wanted), None
        )
    return config.default_severity if found is None else found


def reported_severity(payload: AlertmanagerPayload, config: MonitoringIntake) -> Severity:
    """The highest severity among the firing alerts (all alerts if none fires).

    Each alert's ``config.severity_label`` label is looked up in
    ``config.severity_map``; a missing label or an unmapped value counts as
    ``config.default_severity``. Critical beats major beats minor.

    Args:
        payload: The notification.
        config: The ``[intake.monitoring]`` section.

    Returns:
        The severity (critical, major or minor).
    """
    alerts = payload.firing or payload.alerts
    return max((_alert_severity(a, config) for a in alerts), key=_RANK.__getitem__)


# -- text ----------------------------------------------------------------------------

_STATUS_DE: dict[str, str] = {"firing": "aktiv", "resolved": "behoben"}
_DESCRIPTION_MARKER = "\n[… gekürzt]"
_TIMELINE_MARKER = " […]"


def _bounded(text: str, limit: int, marker: str) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(marker)].rstrip() + marker


def _labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _alertnames(alerts: Iterable[AlertmanagerAlert]) -> str:
    names = sorted({a.alertname for a in alerts if a.alertname})
    return ", ".join(names) if names else "(ohne alertname)"


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _alert_lines(
    index: int, alert: AlertmanagerAlert, payload: AlertmanagerPayload
) -> Iterator[str]:
    # Only what tells this alert from the others: the rest is in the header.
    own = {k: v for k, v in alert.labels.items() if payload.common_labels.get(k) != v}
    own.pop("alertname", None)
    head = f"{index}. [{_STATUS_DE[alert.status]}] {alert.alertname or '(ohne alertname)'}"
    if own:
        head += f" ({_labels_text(own)})"
    head += f", seit {alert.starts_at.isoformat()}"
    if alert.ends_at is not None:
        head += f", bis {alert.ends_at.isoformat()}"
    yield head
    for key, title in (("summary", "Zusammenfassung"), ("description", "Beschreibung")):
        text = alert.annotations.get(key)
        if text and payload.common_annotations.get(key) != text:
            yield f"   {title}: {text}"
    if alert.generator_url:
        yield f"   Quelle: {alert.generator_url}"


def _description_lines(payload: AlertmanagerPayload) -> Iterator[str]:
    firing, resolved = len(payload.firing), len(payload.resolved)
    yield f"Alertmanager-Alarm: {_alertnames(payload.alerts)}"
    counts = (
        f"{_count(len(payload.alerts), 'Alarm', 'Alarme')} ({firing} aktiv, {resolved} behoben)"
    )
    if payload.truncated_alerts:
        counts += f", {payload.truncated_alerts} weitere von Alertmanager nicht übermittelt"
    yield f"Status: {_STATUS_DE[payload.status]}, {counts}"
    for key, title in (("summary", "Zusammenfassung"), ("description", "Beschreibung")):
        text = payload.common_annotations.get(key)
        if text:
            yield f"{title}: {text}"
    if payload.common_labels:
        yield f"Gemeinsame Labels: {_labels_text(payload.common_labels)}"
    if payload.external_url:
        yield f"Alertmanager: {payload.external_url}"
    yield ""
    yield "Alarme:"
    # Firing first: they are what the incident is about.
    ordered = sorted(payload.alerts, key=lambda a: a.status != "firing")
    for index, alert in enumerate(ordered, start=1):
        yield from _alert_lines(index, alert, payload)


def _joined_up_to(lines: Iterable[str], limit: int, separator: str) -> str:
    # Stops building once past the limit: 1000 alerts of 4000-character
    # annotations would otherwise build megabytes only to cut them.
    parts: list[str] = []
    length = 0
    for line in lines:
        parts.append(line)
        length += len(line) + len(separator)
        if length > limit:
            break
    return separator.join(parts)


def report_fields(payload: AlertmanagerPayload, config: MonitoringIntake) -> dict[str, object]:
    """The intake report (DESIGN §4 keys) for the first notification of a group.

    ``scope``, ``reproducible`` and ``phone`` are left out: monitoring cannot
    know them, so the report lists them as missing. ``reported_severity`` is
    :func:`reported_severity`.

    Args:
        payload: The group's notification.
        config: The ``[intake.monitoring]`` section.

    Returns:
        ``channel``, ``company``, ``email``, ``full_name`` (when configured),
        ``description`` (at most :data:`DESCRIPTION_LIMIT` characters),
        ``first_noticed_at`` (the earliest ``startsAt``, ISO 8601 with offset),
        ``request_id`` (:func:`group_request_id`) and ``reported_severity``.
    """
    text = _joined_up_to(_description_lines(payload), DESCRIPTION_LIMIT, "\n")
    fields: dict[str, object] = {
        "channel": "monitoring",
        "company": config.company,
        "email": config.email,
        "description": _bounded(text, DESCRIPTION_LIMIT, _DESCRIPTION_MARKER),
        "first_noticed_at": min(a.starts_at for a in payload.alerts).isoformat(),
        "request_id": group_request_id(payload.group_key),
        "reported_severity": reported_severity(payload, config),
    }
    if config.full_name is not None:
        fields["full_name"] = config.full_name
    return fields


def _alert_phrase(alert: AlertmanagerAlert) -> str:
    phrase = alert.alertname or "(ohne alertname)"
    summary = alert.annotations.get("summary")
    return f"{phrase}: {summary}" if summary else phrase


def timeline_text(payload: AlertmanagerPayload) -> str:
    """One paragraph for a repeated or resolved notification of a group.

    Args:
        payload: The notification.

    Returns:
        Status, how many alerts fire and how many resolved, with their
        alertnames and summaries; one line, at most :data:`TIMELINE_LIMIT`
        characters.
    """
    firing, resolved = payload.firing, payload.resolved

    def parts() -> Iterator[str]:
        yield (
            f"Alertmanager meldet {_STATUS_DE[payload.status]}: "
            f"{_count(len(firing), 'Alarm', 'Alarme')} aktiv, {len(resolved)} behoben"
            + (
                f", {payload.truncated_alerts} weitere nicht übermittelt."
                if payload.truncated_alerts
                else "."
            )
        )
        for title, alerts in (("Aktiv", firing), ("Behoben", resolved)):
            if alerts:
                yield f"{title}: " + "; ".join(_alert_phrase(a) for a in alerts[:50]) + "."

    text = _WHITESPACE.sub(" ", _joined_up_to(parts(), TIMELINE_LIMIT, " ")).strip()
    return _bounded(text, TIMELINE_LIMIT, _TIMELINE_MARKER)
