"""No reporter's ticket ID on the public status page unless the policy allows it (issue 16)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.sla import Severity, SlaPolicy
from domain.status import StatusBoard, StatusPost, StatusPostKind, public_reference

TICKET = "INC-20261125-7QK2AB"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def board() -> StatusBoard:
    posted = StatusBoard().apply(
        StatusPost(
            ticket_id=TICKET,
            kind=StatusPostKind.PUBLISHED,
            at=START,
            severity=Severity.CRITICAL,
            message="Der Versand ist gestört.",
            expected_resolution=START + timedelta(hours=2),
        )
    )
    return posted


@pytest.mark.parametrize("show", [False, True])
def test_ticket_ids_appear_on_the_page_only_when_the_policy_shows_them(show: bool) -> None:
    files = StatusSiteActivities(Path("/nonexistent"), show_ticket_ids=show).render(
        StatusSnapshot(board=board(), generated_at=START)
    )
    ref = public_reference(TICKET)
    for name, content in files.items():
        text = content.decode("utf-8")
        assert (TICKET in text) is show, name
        assert (TICKET if show else ref) in text, name
    (entry,) = json.loads(files["status.json"])["active"]
    assert entry["id"] == (TICKET if show else ref)
    assert ("ticket_id" in entry) is show


def test_the_shipped_policy_does_not_show_ticket_ids() -> None:
    assert SlaPolicy.default().status_page.show_ticket_ids is False


@given(st.from_regex(r"INC-2026(0[1-9]|1[0-2])([0-2][0-9])-[A-Z2-7]{6}", fullmatch=True))
def test_public_references_are_stable_and_short(ticket: str) -> None:
    ref = public_reference(ticket)
    assert ref == public_reference(ticket)
    assert ref.startswith("S-") and len(ref) == 10
    assert ticket[4:12] not in ref  # the receipt day is not readable from it


def test_public_references_keep_a_board_of_tickets_apart() -> None:
    tickets = [f"INC-20261125-{n:06d}" for n in range(1000)]
    assert len({public_reference(t) for t in tickets}) == len(tickets)
