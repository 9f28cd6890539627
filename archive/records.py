"""What the archive's readers return (frozen pydantic models: JSON for ``--json`` and the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.archive import ArchivedEvent, StreamKind


class StreamRecord(BaseModel):
    """One archived stream at a glance: its columns and its summary (the view without events).

    Attributes:
        stream_id: The stream's ID (ticket ID for an incident).
        kind: What it is.
        company: The customer, if any.
        status: Its status when last archived.
        severity: For incidents.
        reporter_name: ``None`` after erasure.
        opened_at: When it began.
        resolved_at: When it was resolved or closed.
        last_seq: The ``seq`` of its newest archived event.
        erased_at: When its personal data was erased.
        summary: The view without ``events`` and ``report``.
    """

    model_config = ConfigDict(frozen=True)

    stream_id: str
    kind: StreamKind
    company: str | None
    status: str
    severity: str | None
    reporter_name: str | None
    opened_at: datetime
    resolved_at: datetime | None
    last_seq: int
    erased_at: datetime | None
    summary: dict[str, Any]


class ArchivedStream(StreamRecord):
    """A stream with its whole view and every archived event, oldest first."""

    view: dict[str, Any]
    events: tuple[ArchivedEvent, ...]


class AppendResult(BaseModel):
    """What an append did.

    Attributes:
        stream_id: The stream.
        appended: Events newly stored (0: the batch was already archived).
        last_seq: The stream's newest ``seq`` afterwards.
    """

    model_config = ConfigDict(frozen=True)

    stream_id: str
    appended: int
    last_seq: int


class ErasureRecord(BaseModel):
    """An erasure as recorded.

    Attributes:
        stream_id: The stream.
        at: When the erasure was asked for.
        reason: Why (the legal ground or request).
        events_scrubbed: Events whose payload was rewritten.
        erased_by: Who erased (an operator, or the automatic erasure's schedule).
        attachments_removed: Attachment files deleted from the data directory
            (not recorded in the archive: the files are gone).
    """

    model_config = ConfigDict(frozen=True)

    stream_id: str
    at: datetime
    reason: str
    events_scrubbed: int
    erased_by: str | None = None
    attachments_removed: int = 0
