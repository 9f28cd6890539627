"""Gather the inputs of the monthly SLA report from Temporal: incidents and on-call bookings.

**Incidents.** Visibility narrows the search, the workflows' recorded state
answers it: incident workflows whose ``ReactionDue`` lies in
:func:`domain.sla_report.reaction_due_window` (there is no receipt attribute:
the dev server allows three datetime attributes, and a reaction deadline never
lies before its receipt) are listed, running and completed ones alike (a
terminated workflow is no incident outcome), and each one's ``view`` query
returns the full state with its events. The report then keeps those received
in the month. Queries on closed workflows are answered by a
worker replaying them, as for ``sla show``.

**Extended on-call billed.** The source of truth is the booking workflows, not
the CSV ledger (``$SLA_DATA_DIR/billing/oncall.csv``). The ledger is a
projection the worker writes: it lives on the worker's disk (in the compose
setup inside the worker's volume, not where ``sla sla-report`` runs), and a
booking's record reaches it only through the workflow's billing activity. The
workflow is where that record is decided (``domain.oncall.bill``), its input
is kept in the workflow history, and the workflow stores it in its state
(``OnCallBooking.billing``) only after the ledger write succeeded, so every
record read here is also in the ledger. Bookings are listed by their
``WindowStart`` search attribute, which is where every billed period starts.
"""

from __future__ import annotations

from temporalio.client import Client

from domain.oncall import OnCallBooking
from domain.read_model import IncidentView
from domain.sla import SlaPolicy
from domain.sla_report import ReportMonth, reaction_due_window
from service.queries import Unreadable, gather_readable, incident_view, query_settled
from service.visibility import Query, listed, listed_ids
from workflows import names
from workflows.incident import IncidentWorkflow
from workflows.oncall import OnCallBookingWorkflow

LIMIT = 100_000
"""At most this many workflows per list (a month has far fewer)."""


def incidents_query(policy: SlaPolicy, month: ReportMonth) -> Query:
    """Visibility query for incident workflows that may have been received in ``month``."""
    low, high = reaction_due_window(policy, month)
    return Query.workflows(IncidentWorkflow).between(names.REACTION_DUE, low, high)


def bookings_in_month_query(policy: SlaPolicy, month: ReportMonth) -> Query:
    """Visibility query for on-call bookings whose window starts in ``month``."""
    start, end = month.bounds(policy.calendar_spec.timezone)
    return Query.workflows(OnCallBookingWorkflow).between(
        names.WINDOW_START, start, end, include_high=False
    )


async def incident_views(
    client: Client, policy: SlaPolicy, month: ReportMonth
) -> tuple[list[IncidentView], list[Unreadable]]:
    """Views of the incidents that may belong to ``month`` (a superset; the report filters).

    Incidents whose state cannot be read are returned apart (the caller warns).
    """
    found = await listed(client, incidents_query(policy, month), LIMIT)

    async def one(ticket_id: str) -> IncidentView:
        return await incident_view(client, ticket_id, found[ticket_id])

    return await gather_readable(list(found), one)


async def oncall_bookings(
    client: Client, policy: SlaPolicy, month: ReportMonth
) -> tuple[list[OnCallBooking], list[Unreadable]]:
    """Bookings whose window starts in ``month``, as their workflows hold them."""

    async def one(booking_id: str) -> OnCallBooking:
        handle = client.get_workflow_handle_for(OnCallBookingWorkflow.run, booking_id)
        return await query_settled(lambda: handle.query(OnCallBookingWorkflow.view))

    ids = await listed_ids(client, bookings_in_month_query(policy, month), LIMIT)
    return await gather_readable(ids, one)
