"""The public status page shows public texts only (issue 16; rules 3).

The reporter's words and the customer summary are written for one customer;
the status page is read by every user. Publishing needs a public description,
and the public resolution text is separate from the customer summary.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import MissingText
from domain.incident import (
    RESOLVED_STATUS_MESSAGE,
    RULES,
    UNCONFIRMED_STATUS_MESSAGE,
    Acknowledge,
    IncidentState,
    OpenIncident,
    Resolve,
    StatusPublished,
    StatusResolved,
    execute,
)
from domain.report import Channel, Scope
from domain.sla import Severity
from tests.domain.test_incident import POLICY, TUE, make_report

HOUR = timedelta(hours=1)


def opened(rules: int = RULES, **facts: object) -> IncidentState:
    state, _ = execute(
        None,
        OpenIncident(
            ticket_id="SLA-1",
            report=make_report(login_impossible=False, **facts),
            received_at=TUE,
            deadlines=POLICY.all_deadlines(TUE),
            rules=rules,
        ),
        TUE,
    )
    return state


def test_publishing_needs_a_public_description() -> None:
    ack = Acknowledge(severity=Severity.MAJOR, estimate=TUE + 5 * HOUR, all_users=True)
    with pytest.raises(MissingText, match="public description"):
        execute(opened(), ack, TUE + HOUR)
    described = ack.model_copy(update={"status_message": "Der Versand ist gestört."})
    _, events = execute(opened(), described, TUE + HOUR)
    published = [e for e in events if isinstance(e, StatusPublished)]
    assert [e.message for e in published] == ["Der Versand ist gestört."]
    # Incidents opened before rule set 3 publish as they recorded.
    _, events = execute(opened(rules=2), ack, TUE + HOUR)
    assert any(isinstance(e, StatusPublished) and e.message is None for e in events)


def test_a_report_published_unconfirmed_shows_a_neutral_text_not_the_reporters_words() -> None:
    state = opened(channel=Channel.MONITORING, scope=Scope.ALL_WORKSTATIONS)
    (published,) = [e for e in state.events if isinstance(e, StatusPublished)]
    assert published.message == UNCONFIRMED_STATUS_MESSAGE
    assert state.report.description not in (published.message or "")
    old = opened(rules=2, channel=Channel.MONITORING, scope=Scope.ALL_WORKSTATIONS)
    (published,) = [e for e in old.events if isinstance(e, StatusPublished)]
    assert published.message is None


def public(rules: int) -> IncidentState:
    state, _ = execute(
        opened(rules),
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=TUE + 5 * HOUR,
            all_users=True,
            status_message="Der Versand ist gestört.",
        ),
        TUE + HOUR,
    )
    return state


@pytest.mark.parametrize(
    ("rules", "public_message", "shown"),
    [
        (RULES, "Der Versand läuft wieder.", "Der Versand läuft wieder."),
        (RULES, None, RESOLVED_STATUS_MESSAGE),
        (2, None, "Index der Kundin X neu aufgebaut"),  # recorded before: the summary
        (2, "Der Versand läuft wieder.", "Der Versand läuft wieder."),
    ],
)
def test_the_public_resolution_text_is_not_the_customer_summary(
    rules: int, public_message: str | None, shown: str
) -> None:
    resolve = Resolve(summary="Index der Kundin X neu aufgebaut", public_message=public_message)
    _, events = execute(public(rules), resolve, TUE + 2 * HOUR)
    (resolved,) = [e for e in events if isinstance(e, StatusResolved)]
    assert resolved.message == shown
