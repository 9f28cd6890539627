"""Task queue, workflow IDs and search-attribute keys: the one place that names them."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "sla-engine"
"""Task queue of the worker that runs every workflow and activity."""

STATUS_PAGE_WORKFLOW_ID = "status-page"
"""The single status page workflow (single writer of the status site)."""

TICKET_STATUS = SearchAttributeKey.for_keyword("TicketStatus")
SEVERITY = SearchAttributeKey.for_keyword("Severity")
COMPANY = SearchAttributeKey.for_keyword("Company")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
ESCALATION_STAGE = SearchAttributeKey.for_keyword("EscalationStage")
REACTION_DUE = SearchAttributeKey.for_datetime("ReactionDue")
RESOLUTION_DUE = SearchAttributeKey.for_datetime("ResolutionDue")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
ALL_USERS = SearchAttributeKey.for_bool("AllUsers")
# Maintenance windows, on-call bookings and change requests (the workflow type
# tells them apart). The dev server allows only 3 Datetime attributes, so a
# window's end travels in the memo, not here.
WINDOW_START = SearchAttributeKey.for_datetime("WindowStart")
LIFECYCLE_STATE = SearchAttributeKey.for_keyword("LifecycleState")
DEV_TICKET = SearchAttributeKey.for_keyword("DevTicket")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    TICKET_STATUS,
    SEVERITY,
    COMPANY,
    CHANNEL,
    ESCALATION_STAGE,
    REACTION_DUE,
    RESOLUTION_DUE,
    SLA_BREACHED,
    ALL_USERS,
    WINDOW_START,
    LIFECYCLE_STATE,
    DEV_TICKET,
)
"""Every custom search attribute; registered by ``sla dev``, the worker and tests."""
