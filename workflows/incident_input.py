"""The start input of :class:`workflows.incident.IncidentWorkflow` (and of its reopen runs).

A module of its own, passed through the workflow sandbox
(``workflows/sandbox.py``): the sandbox re-executes every module it does not
pass through for each new workflow run, and building these pydantic models
was about 4 % of the worker's CPU in ``make bench`` (py-spy) while they stayed
in ``workflows/incident.py``. Models only: no workflow code, no module state.
``workflows.incident`` re-exports both names.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.effects import EventEffects
from domain.incident import IncidentState, NoteReply, ReopenSource
from domain.oncall import OnCallWindow
from domain.read_model import SearchIndex
from domain.report import IncidentReport
from domain.sla import IncidentClock, SlaPolicy
from domain.values import NonEmptyText, SingleLineText
from workflows import names

__all__ = ["IncidentInput", "Reopening"]


class Reopening(BaseModel):
    """A reopen of a closed ticket, asked by ``sla reopen`` or a customer's reply.

    Attributes:
        reason: Why (told to the customer and the team).
        by: Who asked (an operator's name, or the replying address).
        source: An operator, or a customer's reply.
        window_end: When the policy's reopen window closes
            (``domain.reopen.window_end``, computed by the caller from the
            resolution); the run refuses a reopen after it.
        erased: The reporter's personal data was erased (the run refuses).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: NonEmptyText
    by: SingleLineText
    source: ReopenSource = ReopenSource.OPERATOR
    window_end: datetime
    erased: bool = False


class IncidentInput(BaseModel):
    """Start input of :class:`IncidentWorkflow` (also its continue-as-new input).

    Attributes:
        ticket_id: The ticket ID (also the workflow ID).
        report: The validated report.
        received_at: When the report was received (aware).
        policy: The policy snapshot this incident runs under.
        status_page_id: Workflow ID of the status page (tests use their own).
        state: Carried state after continue-as-new (``None`` on first start).
        pending_effects: Side effects not yet delivered (carried over continue-as-new);
            with ``customer_lane`` the team's lane only.
        pending_customer_effects: The customers' lane not yet delivered (carried).
        publish_unconfirmed: Publish a monitoring report on the status page at
            once, before an operator confirmed it (the policy's
            ``[intake.monitoring] publish_unconfirmed``; starters pass it,
            incidents started before it existed published at once).
        rules: The incident rule set to open under (``domain.events.RULES``;
            starters pass the current one, incidents started before keep 1).
        customer_lane: Deliver customers' e-mails in a lane of their own
            (``domain.effects.split_by_audience``): a customer's mail server
            that keeps deferring never holds back an on-duty page, a status
            post or an escalation. Set by starters since it exists; incidents
            started before deliver in one lane, as they were recorded.
        max_history_events: Continue as new after this many history events
            (``None``: when the server suggests it).
        oncall_windows: Booked extended on-call windows of the company; they
            count as business time (the starter looks them up; carried over
            continue-as-new).
        search_index: The search attributes the starter set at start (first
            run only): the workflow upserts only what differs from them.
        clock: The deadlines and late page the starter computed for the
            search attributes (first run only). Without it (incidents started
            before starters sent it) the workflow computes them in a local
            activity; which path runs is decided by the recorded input, so
            both replay.
        archive_feed: Hand every event to the archive (``workflows/archive_feed.py``).
            Starters set it; runs started before it existed did not feed the
            archive and replay that way; their next run (continue-as-new)
            feeds it from the first event. Decided by the recorded input, not
            by a patch: a patch costs every run a marker and a search-attribute
            upsert (two history events).
        archived_events: The first event the archive has not confirmed
            (carried over continue-as-new; a run that did not feed the
            archive carries 0, and the next run sends every event).
        reopen: Set on the start of a new run of a closed ticket (with the
            closed ``state``): the run reopens it with a new reaction clock
            from now. Never carried over continue-as-new.
        note: Set on the start of a short run of a closed ticket (with the
            closed ``state``): the customer's reply is recorded, the team
            told, and the run completes with the ticket still closed. With
            ``reopen`` too: the reply that reopened it, recorded after the reopen.
    """

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    report: IncidentReport
    received_at: datetime
    policy: SlaPolicy
    status_page_id: str = names.STATUS_PAGE_WORKFLOW_ID
    state: IncidentState | None = None
    pending_effects: tuple[EventEffects, ...] = ()
    pending_customer_effects: tuple[EventEffects, ...] = ()
    customer_lane: bool = False
    publish_unconfirmed: bool = True
    rules: int = 1
    max_history_events: int | None = None
    oncall_windows: tuple[OnCallWindow, ...] = ()
    search_index: SearchIndex | None = None
    clock: IncidentClock | None = None
    archive_feed: bool = False
    archived_events: int = 0
    reopen: Reopening | None = None
    note: NoteReply | None = None
