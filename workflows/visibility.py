"""Search attributes kept current with as few upserts as possible, for every workflow."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate


class SearchAttributeSync:
    """Upserts only the search attributes whose value changed since the last call.

    What was sent is remembered from this run's own upserts only, never seeded
    from ``workflow.info()``: at init that may already show values upserted
    later in the history, and a replay would then send a different sequence.
    """

    def __init__(self) -> None:
        """Start with nothing sent."""
        self._sent: dict[str, Any] = {}

    def sync(self, values: Iterable[tuple[SearchAttributeKey[Any], Any]]) -> None:
        """Upsert the changed ``(key, value)`` pairs, in one command if any changed."""
        updates: list[SearchAttributeUpdate[Any]] = []
        for key, value in values:
            if self._sent.get(key.name) != value:
                self._sent[key.name] = value
                updates.append(key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
