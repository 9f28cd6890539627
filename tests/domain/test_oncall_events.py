"""``domain.oncall_events``: a booking's steps as the events the archive keeps.

The oracle for the property test is the snapshot itself: whatever steps were
taken, the events recorded step by step name each assignment and each note
once, each instant the snapshot holds once, and nothing when nothing changed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.oncall import (
    AssignOperator,
    CancelBooking,
    OnCallBooking,
    StepKind,
    activate,
    assign_operator,
    bill,
    cancel,
    complete,
    next_step,
    remind,
    schedule_reminder,
    with_billing,
    with_note,
)
from domain.oncall_events import BookingEvent, booking_changes
from tests.domain.test_oncall import POLICY, berlin, booking

REMINDER = berlin(2026, 12, 4, 8)


class Recorder:
    """Takes a booking through steps as its workflow does, recording the events."""

    def __init__(self, first: OnCallBooking) -> None:
        self.booking = first
        self.events: list[BookingEvent] = list(booking_changes(None, first, first.booked_at))

    def change(self, after: OnCallBooking, at: datetime) -> tuple[BookingEvent, ...]:
        events = booking_changes(self.booking, after, at)
        self.booking = after
        self.events.extend(events)
        return events


def types(events: list[BookingEvent] | tuple[BookingEvent, ...]) -> list[str]:
    return [e.type for e in events]


def test_a_booking_run_to_its_end_is_one_event_per_step() -> None:
    r = Recorder(booking())
    assert types(r.events) == ["booked"]
    made = r.events[0]
    assert made.at == r.booking.booked_at
    assert made.model_dump(include={"company", "reason", "operator"}) == {
        "company": "Beispiel Versand GmbH",
        "reason": "Migration",
        "operator": "Max Muster",
    }
    computed_at = berlin(2026, 11, 30, 9, 0, 1)
    (scheduled,) = r.change(schedule_reminder(r.booking, REMINDER), computed_at)
    assert (scheduled.type, scheduled.at) == ("reminder_scheduled", computed_at)
    assert types(r.change(remind(r.booking, REMINDER), REMINDER)) == ["reminded"]
    start = r.booking.start
    assert types(r.change(activate(r.booking, start), start)) == ["activated"]
    end = r.booking.end
    assert types(r.change(complete(r.booking, end), end)) == ["completed"]
    record = bill(r.booking, POLICY.oncall)
    assert record is not None
    (billed,) = r.change(with_billing(r.booking, record), end + timedelta(seconds=2))
    assert billed.type == "billed"
    assert billed.model_dump()["billing"] == record.model_dump()
    assert types(r.events) == [
        "booked",
        "reminder_scheduled",
        "reminded",
        "activated",
        "completed",
        "billed",
    ]


def test_assignments_cancellation_and_notes_carry_what_they_say() -> None:
    r = Recorder(booking())
    at = berlin(2026, 12, 1, 9)
    (assigned,) = r.change(assign_operator(r.booking, AssignOperator(operator="Erika"), at), at)
    assert assigned.model_dump(include={"type", "operator", "previous", "at"}) == {
        "type": "operator_assigned",
        "operator": "Erika",
        "previous": "Max Muster",
        "at": at,
    }
    later = at + timedelta(hours=1)
    (cancelled,) = r.change(cancel(r.booking, CancelBooking(reason="verschoben"), later), later)
    assert cancelled.model_dump(include={"type", "reason", "at"}) == {
        "type": "cancelled",
        "reason": "verschoben",
        "at": later,
    }
    noted_at = later + timedelta(minutes=5)
    (noted,) = r.change(with_note(r.booking, "oncall_cancelled not delivered: 550"), noted_at)
    assert noted.model_dump(include={"type", "note", "at"}) == {
        "type": "noted",
        "note": "oncall_cancelled not delivered: 550",
        "at": noted_at,
    }


def test_no_change_no_event() -> None:
    b = booking()
    assert booking_changes(b, b, berlin(2026, 12, 1, 9)) == ()


STEPS = st.lists(
    st.sampled_from(["step", "assign", "note", "cancel", "bill"]), min_size=0, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(steps=STEPS, names=st.lists(st.sampled_from(["Anna", "Ben", "Cem"]), min_size=12))
def test_the_events_account_for_every_change_of_the_snapshot(
    steps: list[str], names: list[str]
) -> None:
    r = Recorder(schedule_reminder(booking(), REMINDER))
    now = r.booking.booked_at
    for i, kind in enumerate(steps):
        now += timedelta(hours=7)
        before = r.booking
        after = before
        try:
            if kind == "step":
                step = next_step(before)
                if step is None:
                    continue
                now = max(now, step.at)
                if step.kind is StepKind.REMIND:
                    after = remind(before, step.at)
                elif step.kind is StepKind.ACTIVATE:
                    after = activate(before, step.at)
                else:
                    after = complete(before, step.at)
            elif kind == "assign":
                after = assign_operator(before, AssignOperator(operator=names[i]), now)
            elif kind == "note":
                after = with_note(before, f"note {i}")
            elif kind == "cancel":
                after = cancel(before, CancelBooking(reason=f"reason {i}"), now)
            elif before.is_finished and before.billing is None:
                record = bill(before, POLICY.oncall)
                if record is not None:
                    after = with_billing(before, record)
        except DomainError:
            continue  # refused: the workflow records nothing either
        events = r.change(after, now)
        assert (events == ()) == (after == before)

    final = r.booking
    counted = Counter(types(r.events))
    assert counted["booked"] == 1
    assert counted["operator_assigned"] == len(final.assignments)
    assert counted["noted"] == len(final.notes)
    for kind, instant in [
        ("reminder_scheduled", final.reminder_at),
        ("reminded", final.reminded_at),
        ("activated", final.activated_at),
        ("completed", final.completed_at),
        ("cancelled", final.cancelled_at),
        ("billed", final.billing),
    ]:
        assert counted[kind] == (instant is not None), kind
    assert [e.operator for e in r.events if e.type == "operator_assigned"] == [
        a.operator for a in final.assignments
    ]
