"""German message texts from Jinja2 templates.

Templates live in ``activities/templates/email/<kind>.txt.j2``; each extends a
layout that renders the ``subject`` block, a line ``---`` and the body. Times
are shown in the policy's time zone as German wall-clock text
("Dienstag, 24.11.2026, 10:30 Uhr").
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2

from domain.incident import EscalationStage
from domain.messages import OutgoingMessage
from domain.notifications import MessageKind, Notification
from domain.sla import Severity
from domain.timeline_words import Language, event_label, stage_word

_WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def event_de(event_type: str) -> str:
    """German label of a domain event type (for timelines; :mod:`domain.timeline_words`)."""
    return event_label(event_type, Language.DE)


def german_datetime(value: datetime | str | None, timezone: str = "Europe/Berlin") -> str:
    """``Dienstag, 24.11.2026, 10:30 Uhr`` in ``timezone``; ``–`` for ``None``.

    Accepts ISO 8601 text too (templated messages carry JSON context).
    """
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(timezone))
    return f"{_WEEKDAYS_DE[local.weekday()]}, {local:%d.%m.%Y, %H:%M} Uhr"


def severity_de(value: Severity | str) -> str:
    """The SLA's German severity word."""
    return Severity(value).label_de


def stage_de(value: EscalationStage) -> str:
    """German name of an escalation stage."""
    return stage_word(value, Language.DE)


def _escapes_markup(template_name: str | None) -> bool:
    """Escape every HTML/XML/Atom template, judged by the name without ``.j2``.

    ``select_autoescape`` looks at the last suffix only, so ``index.html.j2``
    would be rendered unescaped and operator text would reach the public status
    page as raw markup.
    """
    if template_name is None:
        return False
    name = template_name.removesuffix(".j2")
    return name.endswith((".html", ".xml", ".atom"))


def template_environment(
    package: str = "activities", folder: str = "templates"
) -> jinja2.Environment:
    """The Jinja2 environment shared by e-mail and status-page templates."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=_escapes_markup,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["severity_de"] = severity_de
    env.filters["stage_de"] = stage_de
    env.filters["event_de"] = event_de
    return env


class MessageRenderer:
    """Renders a :class:`Notification` to a German subject and body."""

    def __init__(self, environment: jinja2.Environment | None = None) -> None:
        """Use ``environment`` or the packaged templates."""
        self._env = environment or template_environment()
        for kind in MessageKind:  # fail at start-up, not on the first incident
            self._env.get_template(self._name(kind))

    @staticmethod
    def _name(kind: MessageKind) -> str:
        return f"email/{kind.value}.txt.j2"

    def render(self, notification: Notification) -> tuple[str, str]:
        """Subject and body of ``notification``."""
        template = self._env.get_template(self._name(notification.kind))
        timezone = notification.facts.timezone

        def local(value: datetime | None) -> str:
            return german_datetime(value, timezone)

        text = template.render(
            facts=notification.facts,
            event=notification.event,
            timeline=notification.timeline,
            participants=notification.participants,
            local=local,
        )
        return _split(template.name, text)

    def render_message(self, message: OutgoingMessage) -> tuple[str, str]:
        """Subject and body of a templated :class:`OutgoingMessage`."""
        template = self._env.get_template(f"email/{message.template}.txt.j2")

        def local(value: datetime | str | None) -> str:
            return german_datetime(value, message.timezone)

        return _split(template.name, template.render(**message.context, local=local))


def _split(name: str | None, text: str) -> tuple[str, str]:
    """Layouts put the subject block first, then a line ``---``, then the body."""
    subject, separator, body = text.partition("\n---\n")
    if not separator:
        raise ValueError(f"template {name} lacks the subject/body separator")
    return " ".join(subject.split()), body.strip() + "\n"
