"""Status page I/O: posting to the single-writer workflow, and rendering the static site.

The site is three files written atomically to the status directory:
``index.html`` (German, readable on a phone, no external assets),
``status.json`` (machine-readable) and ``feed.atom``.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from activities.files import PUBLIC, write_atomic
from activities.rendering import german_datetime, severity_de, template_environment
from domain.maintenance import MaintenancePost
from domain.status import (
    MaintenanceEntry,
    StatusBoard,
    StatusEntry,
    StatusPost,
    public_reference,
)


class StatusSnapshot(BaseModel):
    """What the render activity needs: the board, the instant and the display zone."""

    model_config = ConfigDict(frozen=True)

    board: StatusBoard
    generated_at: datetime
    timezone: str = "Europe/Berlin"
    title: str = "myconvento Störungsseite"


class StatusPostRequest(BaseModel):
    """Input of :meth:`StatusPostActivities.post_status`."""

    model_config = ConfigDict(frozen=True)

    post: StatusPost
    workflow_id: str
    task_queue: str


class MaintenancePostRequest(BaseModel):
    """Input of :meth:`StatusPostActivities.post_maintenance`."""

    model_config = ConfigDict(frozen=True)

    post: MaintenancePost
    workflow_id: str
    task_queue: str


class StatusPoster(Protocol):
    """Hands posts to the status page workflow (``service.status_page`` implements it)."""

    async def post_status(self, request: StatusPostRequest) -> None:
        """Deliver an incident's post (starting the status page workflow if needed)."""
        ...

    async def post_maintenance(self, request: MaintenancePostRequest) -> None:
        """Deliver a maintenance post (starting the status page workflow if needed)."""
        ...


class StatusPostActivities:
    """Delivers status posts to the status page workflow through an injected poster."""

    def __init__(self, poster: StatusPoster) -> None:
        """Post through ``poster`` (``worker.py`` wires the Temporal one)."""
        self._poster = poster

    @activity.defn
    async def post_status(self, request: StatusPostRequest) -> None:
        """Start the status page workflow if it is not running, then signal the post."""
        await self._poster.post_status(request)

    @activity.defn
    async def post_maintenance(self, request: MaintenancePostRequest) -> None:
        """Start the status page workflow if it is not running, then signal the maintenance post."""
        await self._poster.post_maintenance(request)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 forbids (``Char`` production): C0 controls but TAB, LF and CR,
lone surrogates, U+FFFE and U+FFFF. No escape makes them legal in the feed."""


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids; every other character is kept."""
    return _NOT_XML.sub("", value)


def _xml_clean(node: Any) -> Any:
    if isinstance(node, BaseModel):
        # model_copy does not validate again: removing characters never breaks a model.
        fields = type(node).model_fields
        return node.model_copy(update={name: _xml_clean(getattr(node, name)) for name in fields})
    if isinstance(node, Enum):
        return node
    if isinstance(node, str):
        return xml_text(node)
    if isinstance(node, dict):
        return {key: _xml_clean(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(_xml_clean(item) for item in node)
    return node


def xml_safe(snapshot: StatusSnapshot) -> StatusSnapshot:
    """``snapshot`` with :func:`xml_text` applied to every text in it.

    Operator and customer texts (messages, reasons, services) may hold control
    characters; one of them makes ``feed.atom`` ill-formed XML, which feed
    readers reject whole. The site's three files are rendered from the result.
    """
    clean: StatusSnapshot = _xml_clean(snapshot)
    return clean


def status_document(snapshot: StatusSnapshot, show_ticket_ids: bool = False) -> dict[str, Any]:
    """The ``status.json`` document (texts as :func:`xml_safe` leaves them).

    Each disturbance has an ``id`` (its :func:`public_reference`, or the ticket
    ID when the policy shows them); ``ticket_id`` only when it does.
    """
    snapshot = xml_safe(snapshot)

    def entry(e: StatusEntry) -> dict[str, Any]:
        shown = {"ticket_id": e.ticket_id} if show_ticket_ids else {}
        return {
            "id": e.ticket_id if show_ticket_ids else public_reference(e.ticket_id),
            **shown,
            "severity": e.severity.value,
            "published_at": e.published_at.isoformat(),
            "expected_resolution": (
                e.expected_resolution.isoformat() if e.expected_resolution else None
            ),
            "resolved_at": e.resolved_at.isoformat() if e.resolved_at else None,
            "updates": [
                {
                    "at": u.at.isoformat(),
                    "kind": u.kind.value,
                    "message": u.message,
                    "expected_resolution": (
                        u.expected_resolution.isoformat() if u.expected_resolution else None
                    ),
                }
                for u in e.updates
            ],
            "omitted_updates": e.omitted_updates,
        }

    def maintenance(m: MaintenanceEntry) -> dict[str, Any]:
        return {
            "id": m.maintenance_id,
            "state": m.state.value,
            "services": list(m.services),
            "start": m.start.isoformat(),
            "end": m.end.isoformat(),
            "message": m.message,
            "shipments_possible": m.shipments_possible,
            "updated_at": m.updated_at.isoformat(),
            "reason": m.reason,
        }

    board = snapshot.board
    return {
        "generated_at": snapshot.generated_at.isoformat(),
        "timezone": snapshot.timezone,
        "active": [entry(e) for e in board.active],
        "resolved": [entry(e) for e in board.resolved],
        # In progress first, then upcoming, then recently completed or cancelled.
        "maintenance": [
            maintenance(m)
            for m in (
                *board.maintenance_in_progress,
                *board.maintenance_planned,
                *board.maintenance_closed,
            )
        ],
    }


class StatusSiteActivities:
    """Renders the status site into ``directory``."""

    def __init__(
        self, directory: Path, public_url: str | None = None, show_ticket_ids: bool = False
    ) -> None:
        """Write the site to ``directory``.

        Args:
            directory: Where the three files go.
            public_url: The site's canonical address, if known.
            show_ticket_ids: Show reporters' ticket IDs (``[status_page]
                show_ticket_ids``); otherwise each disturbance goes by its
                :func:`~domain.status.public_reference`.
        """
        self._directory = directory
        self._public_url = public_url
        self._show_ticket_ids = show_ticket_ids
        self._env = template_environment()
        self._html = self._env.get_template("status/index.html.j2")
        self._atom = self._env.get_template("status/feed.atom.j2")

    def render(self, snapshot: StatusSnapshot) -> dict[str, bytes]:
        """File name → content for the snapshot (pure; used by the activity and tests).

        Every text is :func:`xml_safe` first: the feed stays well-formed XML, and
        the page and ``status.json`` show the same texts.
        """
        snapshot = xml_safe(snapshot)

        def local(value: datetime | None) -> str:
            return german_datetime(value, snapshot.timezone)

        context = {
            "snapshot": snapshot,
            "active": snapshot.board.active,
            "resolved": snapshot.board.resolved,
            "maintenance_in_progress": snapshot.board.maintenance_in_progress,
            "maintenance_planned": snapshot.board.maintenance_planned,
            "maintenance_closed": snapshot.board.maintenance_closed,
            "local": local,
            "public_url": self._public_url,
            "show_ticket_ids": self._show_ticket_ids,
            "ref": lambda entry: (
                entry.ticket_id if self._show_ticket_ids else public_reference(entry.ticket_id)
            ),
            "severity_de": severity_de,
            "utc": lambda value: value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        document = json.dumps(
            status_document(snapshot, self._show_ticket_ids), ensure_ascii=False, indent=2
        )
        return {
            "index.html": self._html.render(context).encode("utf-8"),
            "status.json": (document + "\n").encode("utf-8"),
            "feed.atom": self._atom.render(context).encode("utf-8"),
        }

    @activity.defn
    async def render_status_site(self, snapshot: StatusSnapshot) -> list[str]:
        """Write ``index.html``, ``status.json`` and ``feed.atom`` atomically; returns the paths."""
        files = self.render(snapshot)

        def write_all() -> list[str]:
            # A render cut off by a worker crash may leave a temporary file.
            for stale in self._directory.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            paths = []
            # status.json last: scripts that poll it see a consistent site.
            for name in ("index.html", "feed.atom", "status.json"):
                # World-readable: a web server running as another user serves the site.
                write_atomic(self._directory / name, files[name], mode=PUBLIC)
                paths.append(str(self._directory / name))
            return paths

        return await asyncio.to_thread(write_all)
