"""One outage, many reports (issue 16): a duplicate follows its master, keeps its own clock.

The SLA: "… und informieren anschließend die betroffenen Anwender" — every
reporter of the outage hears the acknowledgement, each new estimate and the
resolution; the status page shows the outage once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import follow_up
from domain.effects import effects_of
from domain.errors import WrongStatus
from domain.incident import (
    DUPLICATE_ESTIMATE_REASON,
    DUPLICATE_RESOLUTION_SUMMARY,
    RULES,
    Acknowledge,
    Acknowledged,
    ClassifyAsChangeRequest,
    DuplicateRegistered,
    Escalated,
    EstimateExtended,
    EstimateMissed,
    ExtendEstimate,
    FollowMaster,
    IncidentState,
    IncidentStatus,
    LinkAsDuplicate,
    LinkedAsDuplicate,
    MissEstimate,
    OpenIncident,
    RegisterDuplicate,
    Resolve,
    Resolved,
    StatusPublished,
    decide,
    execute,
    master_facts,
    outcome,
)
from domain.notifications import MessageKind, notifications_for
from domain.sla import Severity
from domain.status import StatusBoard, StatusPostKind, status_post_for
from tests.domain.test_incident import POLICY, TUE, make_report

HOUR = timedelta(hours=1)
MASTER, DUP = "INC-MASTER", "INC-DUP"


def opened(ticket_id: str, received_at: datetime = TUE, **report: object) -> IncidentState:
    state, _ = execute(
        None,
        OpenIncident(
            ticket_id=ticket_id,
            report=make_report(login_impossible=False, **report),
            received_at=received_at,
            deadlines=POLICY.all_deadlines(received_at),
            rules=RULES,
        ),
        received_at,
    )
    return state


def acknowledged(state: IncidentState, now: datetime, estimate: datetime) -> IncidentState:
    state, _ = execute(state, Acknowledge(severity=Severity.MAJOR, estimate=estimate), now)
    return state


def linked(duplicate: IncidentState, master: IncidentState, now: datetime) -> IncidentState:
    state, _ = execute(
        duplicate,
        LinkAsDuplicate(master_ticket_id=master.ticket_id, facts=master_facts(master)),
        now,
    )
    return state


def told(state: IncidentState, first: int, kind: MessageKind, address: str) -> bool:
    """Whether a ``kind`` mail to ``address`` comes of the events from ``first`` on."""
    return any(
        n.kind is kind and address in n.to
        for sequence in range(first, len(state.events))
        for n in notifications_for(state, sequence, POLICY)
    )


DUP_MAIL = "max.muster@andere-firma.de"


# -- linking -----------------------------------------------------------------------


def test_a_duplicate_of_an_acknowledged_master_is_acknowledged_with_its_estimate() -> None:
    now = TUE + HOUR
    master = acknowledged(opened(MASTER), TUE + timedelta(minutes=10), now + 3 * HOUR)
    duplicate = opened(DUP, TUE + timedelta(minutes=30), email=DUP_MAIL)
    first = len(duplicate.events)

    state = linked(duplicate, master, now)

    new = state.events[first:]
    assert isinstance(new[0], LinkedAsDuplicate) and new[0].master_ticket_id == MASTER
    ack = new[1]
    assert isinstance(ack, Acknowledged)
    assert ack.estimate == master.estimate
    # Its own classification and its own reaction clock: judged at its own report time.
    assert ack.severity is duplicate.severity and ack.on_time
    assert state.master == MASTER and state.status is IncidentStatus.ACKNOWLEDGED
    # The duplicate's reporter hears the acknowledgement, like the master's did.
    assert told(state, first, MessageKind.ACKNOWLEDGEMENT, DUP_MAIL)


def test_a_duplicate_of_a_new_master_waits_for_the_masters_acknowledgement() -> None:
    master = opened(MASTER)
    state = linked(opened(DUP), master, TUE + HOUR)
    assert state.status is IncidentStatus.NEW and state.master == MASTER
    assert isinstance(state.events[-1], LinkedAsDuplicate)


def test_linking_again_to_the_same_master_changes_nothing() -> None:
    master = opened(MASTER)
    state = linked(opened(DUP), master, TUE + HOUR)
    assert decide(state, LinkAsDuplicate(master_ticket_id=MASTER), TUE + 2 * HOUR) == []


@pytest.mark.parametrize(
    ("prepare", "command", "words"),
    [
        (lambda s: s, LinkAsDuplicate(master_ticket_id=DUP), "itself"),
        (
            lambda s: execute(s, LinkAsDuplicate(master_ticket_id="INC-OTHER"), TUE)[0],
            LinkAsDuplicate(master_ticket_id=MASTER),
            "already a duplicate of INC-OTHER",
        ),
        (
            lambda s: execute(s, RegisterDuplicate(ticket_id="INC-THIRD"), TUE)[0],
            LinkAsDuplicate(master_ticket_id=MASTER),
            "master of INC-THIRD",
        ),
    ],
)
def test_links_that_would_tangle_the_tickets_are_refused(
    prepare: object, command: LinkAsDuplicate, words: str
) -> None:
    state = prepare(opened(DUP))  # type: ignore[operator]
    with pytest.raises(WrongStatus, match=words):
        decide(state, command, TUE + HOUR)


def test_a_resolved_report_cannot_be_linked() -> None:
    state, _ = execute(opened(DUP), Resolve(summary="Behoben."), TUE + HOUR)
    with pytest.raises(WrongStatus, match="resolved"):
        decide(state, LinkAsDuplicate(master_ticket_id=MASTER), TUE + 2 * HOUR)


def test_a_master_registers_each_duplicate_once_and_cannot_itself_be_a_duplicate() -> None:
    master, events = execute(opened(MASTER), RegisterDuplicate(ticket_id=DUP), TUE + HOUR)
    assert events == [DuplicateRegistered(at=TUE + HOUR, ticket_id=DUP)]
    assert master.duplicates == (DUP,)
    assert decide(master, RegisterDuplicate(ticket_id=DUP), TUE + 2 * HOUR) == []
    follower, _ = execute(opened(MASTER), LinkAsDuplicate(master_ticket_id="INC-ROOT"), TUE)
    with pytest.raises(WrongStatus, match="link to INC-ROOT"):
        decide(follower, RegisterDuplicate(ticket_id=DUP), TUE + HOUR)


def test_a_report_with_duplicates_is_not_a_change_request() -> None:
    master, _ = execute(opened(MASTER), RegisterDuplicate(ticket_id=DUP), TUE + HOUR)
    with pytest.raises(WrongStatus, match="disturbance"):
        decide(
            master,
            ClassifyAsChangeRequest(title="Neue Funktion", reason="Wunsch"),
            TUE + 2 * HOUR,
        )


# -- following ---------------------------------------------------------------------


def test_the_duplicate_follows_each_new_estimate_without_escalating_itself() -> None:
    start = TUE + timedelta(minutes=10)
    master = acknowledged(opened(MASTER), start, start + HOUR)
    state = linked(opened(DUP, email=DUP_MAIL), master, start + timedelta(minutes=5))
    extend_at = start + timedelta(minutes=30)
    master, _ = execute(
        master, ExtendEstimate(estimate=start + 4 * HOUR, reason="Ersatzteil fehlt"), extend_at
    )
    assert master.escalation_stage == 1  # the master escalates (a replaced live estimate) …
    first = len(state.events)

    state, events = execute(state, FollowMaster(facts=master_facts(master)), extend_at)

    extended = [e for e in events if isinstance(e, EstimateExtended)]
    assert [e.estimate for e in extended] == [start + 4 * HOUR]
    assert extended[0].reason == "Ersatzteil fehlt"
    assert not any(isinstance(e, Escalated) for e in events)  # … the duplicate does not
    assert state.escalation_stage == 0
    assert told(state, first, MessageKind.EXTENSION, DUP_MAIL)


def test_a_repeated_or_older_estimate_changes_nothing() -> None:
    start = TUE + timedelta(minutes=10)
    master = acknowledged(opened(MASTER), start, start + HOUR)
    state = linked(opened(DUP), master, start)
    assert decide(state, FollowMaster(facts=master_facts(master)), start + HOUR / 2) == []


def test_the_duplicate_misses_with_its_master_and_its_reporter_is_told() -> None:
    start = TUE + timedelta(minutes=10)
    master = acknowledged(opened(MASTER), start, start + HOUR)
    state = linked(opened(DUP, email=DUP_MAIL), master, start)
    first = len(state.events)

    state, events = execute(state, MissEstimate(reestimate_due=start + 2 * HOUR), start + HOUR)

    assert isinstance(events[0], EstimateMissed)
    assert not any(isinstance(e, Escalated) for e in events)
    assert told(state, first, MessageKind.ESTIMATE_MISSED, DUP_MAIL)
    # The master's team is reminded and judged for the new estimate, not the duplicate's.
    assert follow_up.active_follow_ups(state) == {}
    assert follow_up.pending_reestimate(state) is None


def test_the_duplicate_ignores_news_from_a_master_it_does_not_follow() -> None:
    other = acknowledged(opened("INC-OTHER"), TUE + HOUR, TUE + 3 * HOUR)
    state = linked(opened(DUP), opened(MASTER), TUE + HOUR)
    with pytest.raises(WrongStatus, match="does not follow INC-OTHER"):
        decide(state, FollowMaster(facts=master_facts(other)), TUE + 2 * HOUR)


def test_resolved_with_the_master_but_judged_by_its_own_clock() -> None:
    master = opened(MASTER)
    # Reported long before the master: its reaction deadline passes unanswered.
    duplicate = opened(DUP, TUE - timedelta(days=1), email=DUP_MAIL)
    state = linked(duplicate, master, TUE + timedelta(minutes=5))
    end = TUE + timedelta(minutes=10)
    master, _ = execute(master, Resolve(summary="Server neu gestartet."), end)
    first = len(state.events)

    state, events = execute(state, FollowMaster(facts=master_facts(master)), end)

    resolved = next(e for e in events if isinstance(e, Resolved))
    assert resolved.summary == "Server neu gestartet."
    assert state.status is IncidentStatus.RESOLVED
    assert state.reaction_breached and not master.reaction_breached  # each its own outcome
    assert outcome(state, POLICY.calendar).reaction_met is False
    assert told(state, first, MessageKind.RESOLUTION, DUP_MAIL)
    # News arriving after it was closed are ignored, not refused.
    assert decide(state, FollowMaster(facts=master_facts(master)), end + HOUR) == []


def test_a_master_resolved_without_a_summary_still_closes_its_duplicates_in_german() -> None:
    state = linked(opened(DUP), opened(MASTER), TUE + HOUR)
    facts = master_facts(opened(MASTER)).model_copy(update={"resolved": True, "summary": None})
    state, _ = execute(state, FollowMaster(facts=facts), TUE + 2 * HOUR)
    assert state.resolution_summary == DUPLICATE_RESOLUTION_SUMMARY


def test_an_estimate_beyond_the_duplicates_deadline_carries_a_reason() -> None:
    start = TUE + timedelta(minutes=10)
    late = POLICY.all_deadlines(TUE)[Severity.MAJOR].resolution_due + 5 * HOUR
    # The master's own reason may be missing (its estimate was within its deadline).
    facts = master_facts(opened(MASTER)).model_copy(
        update={"acknowledged": True, "estimate": late, "reason": None}
    )
    state = linked(opened(DUP), opened(MASTER), start)
    state, events = execute(state, FollowMaster(facts=facts), start)
    ack = next(e for e in events if isinstance(e, Acknowledged))
    assert ack.estimate_reason == DUPLICATE_ESTIMATE_REASON


# -- the master's news ---------------------------------------------------------------


def notices(state: IncidentState, first: int) -> list[tuple[str, bool, datetime | None]]:
    return [
        (n.ticket_id, n.facts.resolved, n.facts.estimate)
        for effects in effects_of(state, first, POLICY)
        for n in effects.duplicate_notices
    ]


def test_the_master_sends_its_news_to_every_duplicate() -> None:
    master, _ = execute(opened(MASTER), RegisterDuplicate(ticket_id=DUP), TUE + HOUR)
    assert notices(master, 0) == [(DUP, False, None)]  # at once, on registration
    master, _ = execute(master, RegisterDuplicate(ticket_id="INC-DUP2"), TUE + HOUR)
    first = len(master.events)
    estimate = TUE + 4 * HOUR
    master = acknowledged(master, TUE + 2 * HOUR, estimate)
    assert notices(master, first) == [(DUP, False, estimate), ("INC-DUP2", False, estimate)]
    first = len(master.events)
    master, _ = execute(master, Resolve(summary="Behoben."), TUE + 3 * HOUR)
    assert notices(master, first) == [(DUP, True, estimate), ("INC-DUP2", True, estimate)]


def test_an_incident_without_duplicates_sends_no_news() -> None:
    state = acknowledged(opened(MASTER), TUE + HOUR, TUE + 4 * HOUR)
    state, _ = execute(state, Resolve(summary="Behoben."), TUE + 2 * HOUR)
    assert notices(state, 0) == []


# -- one status-page entry -----------------------------------------------------------


def test_the_duplicates_entry_is_merged_into_the_masters() -> None:
    now = TUE + timedelta(minutes=10)
    duplicate, _ = execute(
        opened(DUP),
        Acknowledge(
            severity=Severity.MAJOR,
            estimate=now + HOUR,
            all_users=True,
            status_message="Anmeldung gestört",
        ),
        now,
    )
    assert duplicate.on_status_page
    board = StatusBoard()
    for event in duplicate.events:
        post = status_post_for(duplicate, event)
        if post is not None:
            board = board.apply(post)
    assert [e.ticket_id for e in board.entries] == [DUP]

    state, events = execute(duplicate, LinkAsDuplicate(master_ticket_id=MASTER), now + HOUR)
    post = status_post_for(state, events[0])
    assert post is not None and post.kind is StatusPostKind.MERGED
    assert not state.on_status_page
    board = board.apply(post)
    assert board.entries == ()
    assert board.apply(post) == board  # a retried post changes nothing

    # The master takes the entry over with the duplicate's public text.
    master, master_events = execute(
        opened(MASTER),
        RegisterDuplicate(ticket_id=DUP, on_status_page=True, public_message="Anmeldung gestört"),
        now + HOUR,
    )
    published = [e for e in master_events if isinstance(e, StatusPublished)]
    assert [p.message for p in published] == ["Anmeldung gestört"]
    assert master.on_status_page


def test_a_master_already_on_the_page_keeps_its_one_entry() -> None:
    now = TUE + timedelta(minutes=10)
    master, _ = execute(
        opened(MASTER),
        Acknowledge(
            severity=Severity.MAJOR, estimate=now + HOUR, all_users=True, status_message="Gestört"
        ),
        now,
    )
    _, events = execute(master, RegisterDuplicate(ticket_id=DUP, on_status_page=True), now)
    assert not any(isinstance(e, StatusPublished) for e in events)


# -- property: the duplicate ends where its master ends ----------------------------


@settings(max_examples=60)
@given(
    steps=st.lists(st.sampled_from(["extend", "miss_and_extend", "noop"]), min_size=0, max_size=5),
    resolve=st.booleans(),
    link_after=st.integers(min_value=0, max_value=5),
)
def test_a_duplicate_follows_its_master_whatever_happened_before_the_link(
    steps: list[str], resolve: bool, link_after: int
) -> None:
    now = TUE + timedelta(minutes=10)
    master = acknowledged(opened(MASTER), now, now + HOUR)
    duplicate = opened(DUP, TUE + timedelta(minutes=5))
    linked_yet = False
    for index, step in enumerate([*steps, "end"]):
        if index == link_after or (step == "end" and not linked_yet):
            duplicate = linked(duplicate, master, now)
            master, _ = execute(master, RegisterDuplicate(ticket_id=DUP), now)
            linked_yet = True
        if step == "end":
            break
        if step == "noop":
            continue  # no time passes: time past the estimate would be a miss the master records
        now += timedelta(minutes=20)
        current = master.estimate
        assert current is not None
        if step == "extend":
            master, _ = execute(
                master, ExtendEstimate(estimate=current + HOUR, reason="Mehr Zeit"), now
            )
        elif step == "miss_and_extend":
            now = max(now, current)
            master, _ = execute(master, MissEstimate(), now)
            if (
                linked_yet
                and duplicate.estimate is not None
                and duplicate.estimate <= now
                and not duplicate.estimate_failed
            ):
                duplicate, _ = execute(duplicate, MissEstimate(), now)  # its own timer
            master, _ = execute(
                master, ExtendEstimate(estimate=now + 2 * HOUR, reason="Neu geschätzt"), now
            )
        else:
            continue
        if linked_yet:
            duplicate, _ = execute(duplicate, FollowMaster(facts=master_facts(master)), now)
    if resolve:
        now += timedelta(minutes=5)
        master, _ = execute(master, Resolve(summary="Behoben."), now)
        duplicate, _ = execute(duplicate, FollowMaster(facts=master_facts(master)), now)
        assert duplicate.status is IncidentStatus.RESOLVED
        assert duplicate.resolution_summary == "Behoben."
    else:
        assert duplicate.status is IncidentStatus.ACKNOWLEDGED
        assert duplicate.estimate == master.estimate
    assert duplicate.escalation_stage == 0
    assert duplicate.master == MASTER
