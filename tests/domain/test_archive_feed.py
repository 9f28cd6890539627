"""What the streams hand to the archive: their events, view and columns (issue 17)."""

from __future__ import annotations

from datetime import timedelta

from domain.archive import StreamKind
from domain.archive_feed import (
    change_request_batch,
    event_texts,
    maintenance_batch,
    maintenance_columns,
    oncall_batch,
)
from domain.change_request import PlanRelease, build_view
from domain.maintenance import (
    CancelMaintenance,
    CompleteMaintenance,
    ExtendMaintenance,
    execute,
)
from domain.oncall import CancelBooking, cancel
from domain.oncall_events import booking_changes
from tests.domain.test_change_request import REQUEST, discussed, run, submitted
from tests.domain.test_maintenance import MONDAY_BEFORE, RULES, planned, started
from tests.domain.test_oncall import booking


def test_a_planned_window_is_one_event_without_company_or_reporter() -> None:
    state = planned(message="Datenbank-Update")
    batch = maintenance_batch(state, 0)
    assert batch is not None
    assert batch.kind is StreamKind.MAINTENANCE
    assert batch.stream_id == state.maintenance_id
    assert [(e.seq, e.type) for e in batch.events] == [(0, "planned")]
    assert batch.events[0].payload == state.events[0].model_dump(mode="json")
    columns = batch.columns
    assert columns.status == "planned"
    assert columns.company is None and columns.reporter_name is None
    assert columns.reporter_email is None and columns.severity is None
    assert columns.opened_at == state.planned_at and columns.resolved_at is None
    assert "Datenbank-Update" in columns.search_text
    assert "Versand, Statistik" in columns.search_text
    # The view query's state, the events kept as the archive's rows.
    assert batch.view == state.model_dump(mode="json", exclude={"events"})
    assert "events" not in batch.view


def test_a_batch_starts_at_the_first_unarchived_event_and_is_bounded() -> None:
    running = started()
    extended, _ = execute(
        running,
        ExtendMaintenance(end=running.end + timedelta(hours=1), reason="Migration dauert"),
        running.start + timedelta(hours=1),
        RULES,
    )
    done, _ = execute(extended, CompleteMaintenance(), extended.end, RULES)
    batch = maintenance_batch(done, 1, limit=2)
    assert batch is not None
    assert [(e.seq, e.type) for e in batch.events] == [(1, "started"), (2, "extended")]
    assert batch.columns.status == "completed"
    assert batch.columns.resolved_at == done.completed_at
    assert "Migration dauert" in batch.columns.search_text
    assert maintenance_batch(done, len(done.events)) is None


def test_a_cancelled_window_ends_at_its_cancellation() -> None:
    state, _ = execute(
        planned(), CancelMaintenance(reason="Update verschoben"), MONDAY_BEFORE, RULES
    )
    columns = maintenance_columns(state)
    assert columns.status == "cancelled"
    assert state.cancelled_at is not None
    assert columns.resolved_at == state.cancelled_at
    assert "Update verschoben" in columns.search_text


def test_event_texts_keep_the_free_texts_after_the_extra_ones() -> None:
    state, _ = execute(planned(), CancelMaintenance(reason="Grund"), MONDAY_BEFORE, RULES)
    assert event_texts(state.events, ("Vorweg", None, "")) == "Vorweg\nGrund"


def test_a_change_request_is_archived_with_its_requester_and_texts() -> None:
    opened = change_request_batch(submitted(), 0)
    assert opened is not None
    assert opened.kind is StreamKind.CHANGE_REQUEST
    assert [(e.seq, e.type) for e in opened.events] == [(0, "submitted")]
    columns = opened.columns
    assert columns.company == REQUEST.company
    assert columns.reporter_name == REQUEST.full_name
    assert columns.reporter_email == REQUEST.email
    assert columns.status == "submitted" and columns.resolved_at is None
    assert REQUEST.title in columns.search_text and REQUEST.description in columns.search_text

    planned = run(discussed(), PlanRelease(release="2027.1"))
    batch = change_request_batch(planned, 1)
    assert batch is not None
    assert [e.type for e in batch.events] == ["dev_ticket_created", "discussed", "planned"]
    assert batch.columns.status == "planned"
    assert planned.closed_at is not None
    assert batch.columns.resolved_at == planned.closed_at
    assert "Wir prüfen den Aufwand." in batch.columns.search_text
    # The view query's answer (sla change-request show --json) without its events.
    assert batch.view == build_view(planned).model_dump(mode="json", exclude={"events"})
    assert change_request_batch(planned, len(planned.events)) is None


def test_an_oncall_booking_is_archived_with_its_company_reason_and_events() -> None:
    first = booking()
    events = booking_changes(None, first, first.booked_at)
    opened = oncall_batch(first, events, 0)
    assert opened is not None
    assert opened.kind is StreamKind.ONCALL
    assert opened.stream_id == first.booking_id
    assert [(e.seq, e.type) for e in opened.events] == [(0, "booked")]
    columns = opened.columns
    assert (columns.company, columns.status) == (first.company, "booked")
    assert columns.reporter_name is None and columns.reporter_email is None
    assert columns.opened_at == first.booked_at and columns.resolved_at is None
    assert first.reason in columns.search_text

    at = first.booked_at + timedelta(hours=1)
    cancelled = cancel(first, CancelBooking(reason="Migration verschoben"), at)
    events = (*events, *booking_changes(first, cancelled, at))
    batch = oncall_batch(cancelled, events, 1)
    assert batch is not None
    assert [(e.seq, e.type) for e in batch.events] == [(1, "cancelled")]
    assert batch.columns.status == "cancelled"
    assert batch.columns.resolved_at == at
    assert "Migration verschoben" in batch.columns.search_text
    # The view query's answer (sla oncall show --json).
    assert batch.view == cancelled.model_dump(mode="json")
    assert oncall_batch(cancelled, events, len(events)) is None
