"""The public status page ("Störungsseite") as pure data.

Incidents post :class:`StatusPost` items; the :class:`StatusBoard` folds them
into entries (current disturbances with their update history, resolved ones
kept for ``RESOLVED_RETENTION``). The board is what the single-writer status
page workflow holds and what the render activity turns into files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.incident import (
    Event,
    IncidentState,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
)
from domain.sla import Severity

RESOLVED_RETENTION = timedelta(days=7)
"""How long a resolved disturbance stays on the page (calendar time)."""


class StatusPostKind(StrEnum):
    """What a post does to the entry."""

    PUBLISHED = "published"
    UPDATED = "updated"
    RESOLVED = "resolved"


class StatusPost(BaseModel):
    """One change to the status page, sent by an incident."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    kind: StatusPostKind
    at: datetime
    severity: Severity
    message: str | None
    expected_resolution: datetime | None


class StatusUpdate(BaseModel):
    """One line of an entry's history."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: StatusPostKind
    message: str | None
    expected_resolution: datetime | None


class StatusEntry(BaseModel):
    """One disturbance on the page."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    severity: Severity
    published_at: datetime
    expected_resolution: datetime | None
    resolved_at: datetime | None = None
    updates: tuple[StatusUpdate, ...] = ()

    @property
    def is_resolved(self) -> bool:
        """Whether the disturbance is over."""
        return self.resolved_at is not None


class StatusBoard(BaseModel):
    """All entries of the status page, newest first when listed."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[StatusEntry, ...] = ()

    def apply(self, post: StatusPost) -> StatusBoard:
        """The board with ``post`` applied; a repeated post (same update) is ignored."""
        update = StatusUpdate(
            at=post.at,
            kind=post.kind,
            message=post.message,
            expected_resolution=post.expected_resolution,
        )
        existing = next((e for e in self.entries if e.ticket_id == post.ticket_id), None)
        if existing is None:
            entry = StatusEntry(
                ticket_id=post.ticket_id,
                severity=post.severity,
                published_at=post.at,
                expected_resolution=post.expected_resolution,
                resolved_at=post.at if post.kind is StatusPostKind.RESOLVED else None,
                updates=(update,),
            )
        elif update in existing.updates:
            return self  # retried activity: already applied
        else:
            entry = existing.model_copy(
                update={
                    "severity": post.severity,
                    "expected_resolution": (
                        post.expected_resolution
                        if post.expected_resolution is not None
                        else existing.expected_resolution
                    ),
                    "resolved_at": (
                        post.at if post.kind is StatusPostKind.RESOLVED else existing.resolved_at
                    ),
                    "updates": (*existing.updates, update),
                }
            )
        others = tuple(e for e in self.entries if e.ticket_id != post.ticket_id)
        return StatusBoard(entries=(*others, entry))

    def pruned(self, now: datetime) -> StatusBoard:
        """Without resolved entries older than :data:`RESOLVED_RETENTION`."""
        keep = tuple(
            e
            for e in self.entries
            if e.resolved_at is None or now - e.resolved_at <= RESOLVED_RETENTION
        )
        return self if len(keep) == len(self.entries) else StatusBoard(entries=keep)

    @property
    def active(self) -> list[StatusEntry]:
        """Current disturbances, newest first."""
        return sorted(
            (e for e in self.entries if not e.is_resolved),
            key=lambda e: e.published_at,
            reverse=True,
        )

    @property
    def resolved(self) -> list[StatusEntry]:
        """Resolved disturbances still shown, most recently resolved first."""
        return sorted(
            (e for e in self.entries if e.is_resolved),
            key=lambda e: e.resolved_at or e.published_at,
            reverse=True,
        )


def status_post_for(state: IncidentState, event: Event) -> StatusPost | None:
    """The status-page post an incident event causes, if any."""
    match event:
        case StatusPublished():
            kind = StatusPostKind.PUBLISHED
            expected = event.expected_resolution
        case StatusUpdated():
            kind = StatusPostKind.UPDATED
            expected = event.expected_resolution
        case StatusResolved():
            kind = StatusPostKind.RESOLVED
            expected = None
        case _:
            return None
    return StatusPost(
        ticket_id=state.ticket_id,
        kind=kind,
        at=event.at,
        severity=state.severity,
        message=event.message,
        expected_resolution=expected,
    )
