"""A dev ticket's archived stream, derived from the tracker's ticket (issue 17)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.archive import StreamKind
from domain.dev_ticket import (
    DevTicket,
    DevTicketKind,
    DevTicketStatus,
    IncidentContact,
    LinkedIncident,
    StatusChange,
)
from domain.dev_ticket_archive import (
    dev_ticket_batch,
    dev_ticket_columns,
    dev_ticket_events,
    is_final,
)
from domain.sla import Severity

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REPORTER = IncidentContact(
    email="erika.mustermann@beispiel-versand.de",
    name="Erika Mustermann",
    company="Beispiel Versand GmbH",
    severity=Severity.CRITICAL,
)


def bug(**changes: object) -> DevTicket:
    data: dict[str, object] = {
        "id": "DEV-0007",
        "key": "bug:INC-20261124-AAAAAA",
        "kind": DevTicketKind.BUG,
        "title": "Export bricht bei Umlauten ab",
        "description": "Programmfehler, gefunden bei der Bearbeitung von INC-20261124-AAAAAA.",
        "company": "Beispiel Versand GmbH",
        "reference": "INC-20261124-AAAAAA",
        "status": DevTicketStatus.OPEN,
        "release": None,
        "created_at": T0,
    }
    return DevTicket.model_validate({**data, **changes})


def change(
    minutes: int, previous: DevTicketStatus, status: DevTicketStatus, **rest: str
) -> StatusChange:
    return StatusChange(
        at=T0 + timedelta(minutes=minutes), previous=previous, status=status, **rest
    )


def link(minutes: int, ticket_id: str, contact: IncidentContact = REPORTER) -> LinkedIncident:
    return LinkedIncident(ticket_id=ticket_id, at=T0 + timedelta(minutes=minutes), contact=contact)


def linked(*links: LinkedIncident) -> dict[str, object]:
    return {"linked": links, "links": tuple(li.ticket_id for li in links)}


RELEASED = bug(
    status=DevTicketStatus.RELEASED,
    release="2027.1",
    history=(
        change(5, DevTicketStatus.OPEN, DevTicketStatus.IN_PROGRESS, note="Ursache gefunden"),
        change(20, DevTicketStatus.IN_PROGRESS, DevTicketStatus.FIXED),
        change(30, DevTicketStatus.FIXED, DevTicketStatus.RELEASED, release="2027.1"),
    ),
    **linked(link(1, "INC-20261124-AAAAAA"), link(25, "INC-20261124-BBBBBB")),
)


def test_events_are_created_then_changes_and_links_in_the_order_recorded() -> None:
    events = dev_ticket_events(RELEASED)
    assert [(e.type, e.at) for e in events] == [
        ("created", T0),
        ("incident_linked", T0 + timedelta(minutes=1)),
        ("status_changed", T0 + timedelta(minutes=5)),
        ("status_changed", T0 + timedelta(minutes=20)),
        ("incident_linked", T0 + timedelta(minutes=25)),
        ("status_changed", T0 + timedelta(minutes=30)),
    ]
    assert events[0].model_dump(mode="json") == {
        "type": "created",
        "at": "2026-11-24T09:00:00Z",
        "dev_ticket_id": "DEV-0007",
        "kind": "bug",
        "title": "Export bricht bei Umlauten ab",
        "description": RELEASED.description,
        "company": "Beispiel Versand GmbH",
        "reference": "INC-20261124-AAAAAA",
    }
    assert events[2].model_dump(mode="json") == {
        "type": "status_changed",
        "at": "2026-11-24T09:05:00Z",
        "previous": "open",
        "status": "in_progress",
        "note": "Ursache gefunden",
        "release": None,
    }


def test_the_archive_gets_incident_ids_and_no_reporter_contact() -> None:
    batch = dev_ticket_batch(RELEASED)
    assert batch is not None
    assert batch.events[1].payload == {
        "type": "incident_linked",
        "at": "2026-11-24T09:01:00Z",
        "ticket_id": "INC-20261124-AAAAAA",
    }
    dumped = str(batch.model_dump(mode="json"))
    assert REPORTER.email is not None and REPORTER.email not in dumped
    assert "Erika" not in dumped
    assert batch.view["links"] == ["INC-20261124-AAAAAA", "INC-20261124-BBBBBB"]
    assert "linked" not in batch.view and "history" not in batch.view
    assert batch.columns.reporter_name is None and batch.columns.reporter_email is None


def test_a_released_bug_is_resolved_at_its_release() -> None:
    batch = dev_ticket_batch(RELEASED)
    assert batch is not None
    assert batch.kind is StreamKind.DEV_TICKET and batch.stream_id == "DEV-0007"
    assert [e.seq for e in batch.events] == list(range(6))
    columns = batch.columns
    assert columns.status == "released"
    assert columns.company == "Beispiel Versand GmbH"
    assert columns.opened_at == T0
    assert columns.resolved_at == T0 + timedelta(minutes=30)
    assert "Export bricht bei Umlauten ab" in columns.search_text
    assert "Ursache gefunden" in columns.search_text
    assert RELEASED.description in columns.search_text


def test_only_final_statuses_resolve_a_ticket() -> None:
    final = {(k, s) for k in DevTicketKind for s in DevTicketStatus if is_final(k, s)}
    assert (DevTicketKind.BUG, DevTicketStatus.RELEASED) in final
    assert (DevTicketKind.FEATURE, DevTicketStatus.PLANNED) in final
    assert (DevTicketKind.FEATURE, DevTicketStatus.DECLINED) in final
    for status in (DevTicketStatus.OPEN, DevTicketStatus.IN_PROGRESS, DevTicketStatus.FIXED):
        assert (DevTicketKind.BUG, status) not in final
    for status in (DevTicketStatus.OPEN, DevTicketStatus.IN_DISCUSSION):
        assert (DevTicketKind.FEATURE, status) not in final
    fixed = bug(
        status=DevTicketStatus.FIXED,
        history=(change(5, DevTicketStatus.OPEN, DevTicketStatus.FIXED),),
    )
    assert dev_ticket_columns(fixed).resolved_at is None
    declined = bug(
        kind=DevTicketKind.FEATURE,
        company=None,
        status=DevTicketStatus.DECLINED,
        history=(
            change(5, DevTicketStatus.OPEN, DevTicketStatus.IN_DISCUSSION),
            change(9, DevTicketStatus.IN_DISCUSSION, DevTicketStatus.DECLINED, note="zu teuer"),
        ),
    )
    columns = dev_ticket_columns(declined)
    assert columns.resolved_at == T0 + timedelta(minutes=9)
    assert columns.company is None


def test_a_batch_starts_where_asked_and_is_bounded() -> None:
    batch = dev_ticket_batch(RELEASED, 2, limit=2)
    assert batch is not None
    assert [(e.seq, e.type) for e in batch.events] == [(2, "status_changed"), (3, "status_changed")]
    assert dev_ticket_batch(RELEASED, 6) is None


def test_a_contact_filled_in_later_changes_no_event() -> None:
    before = bug(**linked(link(1, "INC-20261124-AAAAAA", IncidentContact())))
    after = bug(**linked(link(1, "INC-20261124-AAAAAA")))
    assert dev_ticket_events(before) == dev_ticket_events(after)


# -- prefix stability -------------------------------------------------------------------------

# One tracker change: a status change ("change", note) or a link of an incident ("link", n),
# with the minutes the tracker's clock reads then (it may stand still or go back).
_changes = st.lists(
    st.tuples(
        st.sampled_from(("change", "link")),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=-30, max_value=30),
    ),
    max_size=25,
)


def tracked(changes: list[tuple[str, int, int]]) -> list[DevTicket]:
    """The ticket after each change, stamped as the tracker stamps (later than the latest)."""
    ticket = bug()
    tickets = [ticket]
    clock = T0
    for what, n, minutes in changes:
        clock = clock + timedelta(minutes=minutes)
        latest = max(
            (ticket.created_at, *(c.at for c in ticket.history), *(li.at for li in ticket.linked))
        )
        at = max(clock, latest + timedelta(microseconds=1))
        if what == "change":
            history = (
                *ticket.history,
                StatusChange(
                    at=at,
                    previous=ticket.status,
                    status=DevTicketStatus.IN_PROGRESS,
                    note=f"Schritt {n}",
                ),
            )
            ticket = ticket.model_copy(update={"history": history})
        elif f"INC-{n}" not in ticket.links:  # a repeated link keeps its first time
            new = LinkedIncident(ticket_id=f"INC-{n}", at=at, contact=REPORTER)
            # The tracker lists links by time, then ID.
            links = tuple(sorted((*ticket.linked, new), key=lambda li: (li.at, li.ticket_id)))
            ticket = ticket.model_copy(
                update={"linked": links, "links": tuple(li.ticket_id for li in links)}
            )
        tickets.append(ticket)
    return tickets


@settings(max_examples=300)
@given(_changes)
def test_a_later_change_only_appends_events(changes: list[tuple[str, int, int]]) -> None:
    tickets = tracked(changes)
    streams = [dev_ticket_events(t) for t in tickets]
    for earlier, later in itertools.pairwise(streams):
        assert later[: len(earlier)] == earlier
    final = streams[-1]
    assert len(final) == 1 + len(tickets[-1].history) + len(tickets[-1].linked)
    # What the archive stores from the first ticket's batches is the last ticket's prefix.
    batch = dev_ticket_batch(tickets[-1])
    assert batch is not None
    assert [e.payload for e in batch.events] == [e.model_dump(mode="json") for e in final]
