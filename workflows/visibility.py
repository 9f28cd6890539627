"""Search attributes kept current with as few upserts as possible, for every workflow."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from domain.read_model import SearchIndex
from workflows import names


class SearchAttributeSync:
    """Upserts only the search attributes whose value changed since the last call.

    What was sent is remembered from this run's own upserts only, never seeded
    from ``workflow.info()``: at init that may already show values upserted
    later in the history, and a replay would then send a different sequence.
    """

    def __init__(self) -> None:
        """Start with nothing sent."""
        self._sent: dict[str, Any] = {}

    def seed(self, values: Iterable[tuple[SearchAttributeKey[Any], Any]]) -> None:
        """Remember values that are already set without upserting them.

        Only for values known from history, e.g. those the client set at
        start and also passed in the workflow input (never ``workflow.info()``).
        """
        for key, value in values:
            self._sent[key.name] = value

    def sync(self, values: Iterable[tuple[SearchAttributeKey[Any], Any]]) -> None:
        """Upsert the changed ``(key, value)`` pairs, in one command if any changed."""
        updates: list[SearchAttributeUpdate[Any]] = []
        for key, value in values:
            if self._sent.get(key.name) != value:
                self._sent[key.name] = value
                updates.append(key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)


def incident_search_attributes(index: SearchIndex) -> list[tuple[SearchAttributeKey[Any], Any]]:
    """The ``(key, value)`` pairs of an incident's search attributes, in one fixed order."""
    return [
        (names.TICKET_STATUS, index.ticket_status),
        (names.SEVERITY, index.severity),
        (names.COMPANY, index.company),
        (names.CHANNEL, index.channel),
        (names.ESCALATION_STAGE, index.escalation_stage),
        (names.REACTION_DUE, index.reaction_due),
        (names.RESOLUTION_DUE, index.resolution_due),
        (names.SLA_BREACHED, index.sla_breached),
        (names.ALL_USERS, index.all_users),
    ]
