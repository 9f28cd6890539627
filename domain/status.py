"""The public status page ("Störungsseite") as pure data.

Incidents post :class:`StatusPost` items; the :class:`StatusBoard` folds them
into entries (current disturbances with their update history, resolved ones
kept for ``RESOLVED_RETENTION``). Planned maintenance posts
:class:`MaintenancePost` items: one entry per maintenance, replaced by each
post (planned, in progress, completed or cancelled; closed ones are kept for
``RESOLVED_RETENTION`` too). The board is what the single-writer status page
workflow holds and what the render activity turns into files.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.incident import (
    Event,
    IncidentState,
    LinkedAsDuplicate,
    StatusPublished,
    StatusResolved,
    StatusUpdated,
)
from domain.maintenance import (
    MaintenancePost,
    MaintenanceStatus,
)
from domain.sla import Severity


def public_reference(ticket_id: str) -> str:
    """The name a disturbance goes by on the public page when ticket IDs are not shown.

    A reporter's ticket ID is how that customer finds their case; on a page
    every user (and anyone else) reads it says who reported and when. A short
    digest keeps entries apart and stable across updates without saying either.
    """
    return "S-" + hashlib.sha256(ticket_id.encode("utf-8")).hexdigest()[:8].upper()


RESOLVED_RETENTION = timedelta(days=7)
"""How long a resolved disturbance stays on the page (calendar time)."""

# The board is the status page workflow's state: it travels whole in its
# continue-as-new input and to the render activity, single payloads Temporal
# refuses above 2 MB. These bounds keep it under 1.2 MB whatever incidents post
# (tests/domain/test_payload_budget.py); the page shows recent news anyway.
MESSAGE_SHOWN = 2_000
"""Characters of one status message kept on the board (longer ones end in "…")."""
UPDATES_SHOWN = 20
"""Latest updates kept per disturbance; older ones are counted in ``omitted_updates``."""
ENTRIES_SHOWN = 25
"""Disturbances on the board at most; the oldest resolved ones give way first."""


class StatusPostKind(StrEnum):
    """What a post does to the entry."""

    PUBLISHED = "published"
    UPDATED = "updated"
    RESOLVED = "resolved"
    # The report turned out to be a duplicate: its entry goes, its master's tells the story.
    MERGED = "merged"


class StatusPost(BaseModel):
    """One change to the status page, sent by an incident."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    kind: StatusPostKind
    at: datetime
    severity: Severity
    message: str | None
    expected_resolution: datetime | None
    # ``expected_resolution`` None means "unchanged" unless the estimate is withdrawn.
    withdraws_estimate: bool = False


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
    omitted_updates: int = 0

    @property
    def is_resolved(self) -> bool:
        """Whether the disturbance is over."""
        return self.resolved_at is not None


class MaintenanceEntry(BaseModel):
    """One maintenance window on the page (the latest post about it).

    Attributes:
        updated_at: When the latest post was made; a completed or cancelled
            entry ages off :data:`RESOLVED_RETENTION` after it.
        reason: Why it was cancelled, if it was; while planned or running, why
            it was last extended.
    """

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    services: tuple[str, ...]
    start: datetime
    end: datetime
    state: MaintenanceStatus
    message: str
    shipments_possible: bool
    updated_at: datetime
    reason: str | None = None

    @property
    def closed_at(self) -> datetime | None:
        """When it was completed or cancelled; ``None`` while planned or in progress."""
        return self.updated_at if self.state.is_closed else None


class StatusBoard(BaseModel):
    """All entries of the status page, newest first when listed."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[StatusEntry, ...] = ()
    maintenance: tuple[MaintenanceEntry, ...] = ()

    def apply(self, post: StatusPost) -> StatusBoard:
        """The board with ``post`` applied; a repeated post (same update) is ignored."""
        message = post.message
        if message is not None and len(message) > MESSAGE_SHOWN:
            message = message[: MESSAGE_SHOWN - 1] + "…"
        update = StatusUpdate(
            at=post.at,
            kind=post.kind,
            message=message,
            expected_resolution=post.expected_resolution,
        )
        existing = next((e for e in self.entries if e.ticket_id == post.ticket_id), None)
        if post.kind is StatusPostKind.MERGED:
            if existing is None:
                return self  # retried: already merged
            kept_entries = tuple(e for e in self.entries if e.ticket_id != post.ticket_id)
            return self.model_copy(update={"entries": kept_entries})
        if existing is None:
            entry = StatusEntry(
                ticket_id=post.ticket_id,
                severity=post.severity,
                published_at=post.at,
                expected_resolution=post.expected_resolution,
                resolved_at=post.at if post.kind is StatusPostKind.RESOLVED else None,
                updates=(update,),
            )
        elif update in existing.updates or (
            existing.omitted_updates and update.at < existing.updates[0].at
        ):
            return self  # retried activity: already applied
        else:
            kept = (*existing.updates, update)
            omitted = max(0, len(kept) - UPDATES_SHOWN)
            entry = existing.model_copy(
                update={
                    "severity": post.severity,
                    "expected_resolution": (
                        None
                        if post.withdraws_estimate
                        else post.expected_resolution
                        if post.expected_resolution is not None
                        else existing.expected_resolution
                    ),
                    "resolved_at": (
                        post.at if post.kind is StatusPostKind.RESOLVED else existing.resolved_at
                    ),
                    "updates": kept[omitted:],
                    "omitted_updates": existing.omitted_updates + omitted,
                }
            )
        others = tuple(e for e in self.entries if e.ticket_id != post.ticket_id)
        return self.model_copy(update={"entries": _shown((*others, entry))})

    def apply_maintenance(self, post: MaintenancePost) -> StatusBoard:
        """The board with the maintenance entry replaced by ``post``.

        A repeated post (retried activity) and a post older than the entry's
        latest one change nothing.
        """
        existing = next(
            (m for m in self.maintenance if m.maintenance_id == post.maintenance_id), None
        )
        if existing is not None and post.at < existing.updated_at:
            return self
        entry = MaintenanceEntry(
            maintenance_id=post.maintenance_id,
            services=post.services,
            start=post.start,
            end=post.end,
            state=post.state,
            message=post.message,
            shipments_possible=post.shipments_possible,
            updated_at=post.at,
            reason=post.reason,
        )
        if entry == existing:
            return self
        others = tuple(m for m in self.maintenance if m.maintenance_id != post.maintenance_id)
        return self.model_copy(update={"maintenance": (*others, entry)})

    def pruned(self, now: datetime) -> StatusBoard:
        """Without resolved entries and closed maintenance older than :data:`RESOLVED_RETENTION`."""
        keep = tuple(
            e
            for e in self.entries
            if e.resolved_at is None or now - e.resolved_at <= RESOLVED_RETENTION
        )
        keep_maintenance = tuple(
            m
            for m in self.maintenance
            if m.closed_at is None or now - m.closed_at <= RESOLVED_RETENTION
        )
        if len(keep) == len(self.entries) and len(keep_maintenance) == len(self.maintenance):
            return self
        return self.model_copy(update={"entries": keep, "maintenance": keep_maintenance})

    @property
    def expiries(self) -> list[datetime]:
        """When resolved entries or closed maintenance age off the page."""
        closed = [e.resolved_at for e in self.entries if e.resolved_at is not None]
        closed += [m.closed_at for m in self.maintenance if m.closed_at is not None]
        return sorted(at + RESOLVED_RETENTION for at in closed)

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

    @property
    def maintenance_in_progress(self) -> list[MaintenanceEntry]:
        """Maintenance running now, earliest start first."""
        return self._maintenance_in(MaintenanceStatus.IN_PROGRESS)

    @property
    def maintenance_planned(self) -> list[MaintenanceEntry]:
        """Announced maintenance that has not started, earliest start first."""
        return self._maintenance_in(MaintenanceStatus.PLANNED)

    @property
    def maintenance_closed(self) -> list[MaintenanceEntry]:
        """Completed or cancelled maintenance still shown, most recently closed first."""
        return sorted(
            (m for m in self.maintenance if m.state.is_closed),
            key=lambda m: m.updated_at,
            reverse=True,
        )

    def _maintenance_in(self, state: MaintenanceStatus) -> list[MaintenanceEntry]:
        return sorted(
            (m for m in self.maintenance if m.state is state),
            key=lambda m: (m.start, m.maintenance_id),
        )


def status_post_for(state: IncidentState, event: Event) -> StatusPost | None:
    """The status-page post an incident event causes, if any."""
    withdrawn = False
    match event:
        case StatusPublished():
            kind = StatusPostKind.PUBLISHED
            expected = event.expected_resolution
        case StatusUpdated():
            kind = StatusPostKind.UPDATED
            expected = event.expected_resolution
            withdrawn = event.estimate_withdrawn
        case StatusResolved():
            kind = StatusPostKind.RESOLVED
            expected = None
        case LinkedAsDuplicate(merged_status=True):
            return StatusPost(
                ticket_id=state.ticket_id,
                kind=StatusPostKind.MERGED,
                at=event.at,
                severity=state.severity,
                message=None,
                expected_resolution=None,
            )
        case _:
            return None
    return StatusPost(
        ticket_id=state.ticket_id,
        kind=kind,
        at=event.at,
        severity=state.severity,
        message=event.message,
        expected_resolution=expected,
        withdraws_estimate=withdrawn,
    )


def _shown(entries: tuple[StatusEntry, ...]) -> tuple[StatusEntry, ...]:
    """At most :data:`ENTRIES_SHOWN`: the oldest resolved give way first, then the oldest."""
    if len(entries) <= ENTRIES_SHOWN:
        return entries
    by_age = sorted(entries, key=lambda e: (not e.is_resolved, e.resolved_at or e.published_at))
    dropped = {e.ticket_id for e in by_age[: len(entries) - ENTRIES_SHOWN]}
    return tuple(e for e in entries if e.ticket_id not in dropped)
