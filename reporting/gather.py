"""Gather the inputs of the monthly SLA report: incidents and on-call bookings.

**Incidents.** The archive first (DESIGN §5): every incident's events and view
for the month in two queries, for any month however long ago, including those
Temporal deleted after its retention. Then Temporal for what the archive does
not have yet (an incident from before the archive was fed, or one whose last
events are still on their way): visibility narrows the search, the workflows'
recorded state answers it: incident workflows whose ``ReactionDue`` lies in
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

import asyncio

from temporalio.client import Client

from archive.errors import ArchiveError
from domain.archive import StreamKind
from domain.oncall import OnCallBooking
from domain.read_model import IncidentView
from domain.sla import SlaPolicy
from domain.sla_report import ReportMonth, reaction_due_window
from service.incident_source import ArchiveOpener, archived_incident_view
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
    client: Client,
    policy: SlaPolicy,
    month: ReportMonth,
    archive: ArchiveOpener | None = None,
) -> tuple[list[IncidentView], list[Unreadable]]:
    """Views of the incidents that may belong to ``month`` (a superset; the report filters).

    Args:
        client: Temporal.
        policy: Whose time zone the month is in.
        month: The report's month.
        archive: Opens the archive (``None``: Temporal only). An archived
            incident is read from there; Temporal is queried only for the
            others it lists.

    Returns:
        The views, and what could not be read (the caller warns): incidents
        whose state cannot be read, and the archive itself if it failed (then
        every incident comes from Temporal, as far as it still has them).
    """
    archived: dict[str, IncidentView] = {}
    skipped: list[Unreadable] = []
    if archive is not None:
        try:
            archived = await asyncio.to_thread(_archived_views, archive, policy, month)
        except ArchiveError as error:
            skipped.append(Unreadable("archive", str(error)))
    found = await listed(client, incidents_query(policy, month), LIMIT)

    async def one(ticket_id: str) -> IncidentView:
        return await incident_view(client, ticket_id, found[ticket_id])

    fresh, unread = await gather_readable([t for t in found if t not in archived], one)
    return [*archived.values(), *fresh], [*skipped, *unread]


def _archived_views(
    archive: ArchiveOpener, policy: SlaPolicy, month: ReportMonth
) -> dict[str, IncidentView]:
    store = archive()
    if store is None:
        return {}
    try:
        streams = store.month_streams(
            month.year, month.month, zone=policy.calendar_spec.timezone, kind=StreamKind.INCIDENT
        )
    finally:
        store.close()
    return {stream.stream_id: archived_incident_view(stream) for stream in streams}


async def oncall_bookings(
    client: Client, policy: SlaPolicy, month: ReportMonth
) -> tuple[list[OnCallBooking], list[Unreadable]]:
    """Bookings whose window starts in ``month``, as their workflows hold them."""

    async def one(booking_id: str) -> OnCallBooking:
        handle = client.get_workflow_handle_for(OnCallBookingWorkflow.run, booking_id)
        return await query_settled(lambda: handle.query(OnCallBookingWorkflow.view))

    ids = await listed_ids(client, bookings_in_month_query(policy, month), LIMIT)
    return await gather_readable(ids, one)
