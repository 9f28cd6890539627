"""What the workflows hand to the archive, and which parts of it are personal data.

The archive (``archive/``, SQLAlchemy) is the system of record once Temporal
has forgotten a stream. Workflows build an :class:`ArchiveBatch` per workflow
task and an activity appends it, so these models are pure: no SQLAlchemy, no
I/O, no clock. Bounds are generous ceilings above the domain's own maxima
(``domain/values.py``): a batch built from valid state never exceeds them,
while a runaway payload is refused before it reaches a database column.

:func:`scrub_personal` is the erasure rule (GDPR, issue 17): it keeps what SLA
figures are made of (timestamps, deadlines, flags, numbers, severities,
states, IDs, companies) and blanks everything a person wrote or that names a
person.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.sla import PERSONAL_DATA_DAYS_MAX

STREAM_ID_MAX = 128
"""A stream ID (ticket, change request, booking, maintenance, dev ticket ID)."""
SEARCH_TEXT_MAX = 500_000
"""The free text indexed for one stream (description plus timeline texts)."""
PAYLOAD_MAX_BYTES = 1_000_000
"""One event payload, serialised as JSON."""
VIEW_MAX_BYTES = 8_000_000
"""A stream's view (``sla show --json``, events included), serialised as JSON."""
BATCH_EVENTS_MAX = 5_000
"""Events in one batch: a workflow task records a handful; a rebuild sends a history."""

ERASED = "[gelöscht]"
"""What a personal text reads after erasure (a string, so recorded models still decode)."""

_STREAM_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
# Control characters (C0, DEL, C1) and the bidi/line separators that
# domain/values.py refuses in single-line fields: a column shown in a table or
# written to a CSV must not carry them.
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _single_line(value: str | None) -> str | None:
    if value is not None and _UNSAFE_LINE.search(value):
        raise ValueError("control characters are not allowed in a single-line field")
    return value


def _json_size(value: Any, maximum: int, what: str) -> Any:
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    if size > maximum:
        raise ValueError(f"{what} is {size} bytes as JSON, at most {maximum} are archived")
    return value


StreamId = Annotated[str, Field(min_length=1, max_length=STREAM_ID_MAX, pattern=_STREAM_ID)]
Line = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_single_line)]


class StreamKind(StrEnum):
    """What a stream is the history of."""

    INCIDENT = "incident"
    MAINTENANCE = "maintenance"
    ONCALL = "oncall"
    CHANGE_REQUEST = "change_request"
    DEV_TICKET = "dev_ticket"


PERSONAL_DATA_KINDS = frozenset({StreamKind.INCIDENT, StreamKind.CHANGE_REQUEST, StreamKind.ONCALL})
"""Streams the automatic erasure (``[archive] personal_data_days``) takes.

They name people: an incident's reporter, a change request's requester, a
booking's operator and the customer's reason. A maintenance window is a public
announcement, and a dev ticket's stream carries incident IDs only (the
reporters' contacts stay in the tracker): their texts are the product's
record, and erasing them would only blank what the tracker keeps anyway.
``sla erase`` still erases any stream it is asked to.
"""


class ArchivedEvent(BaseModel):
    """One domain event of a stream, at its place ``seq`` (0, 1, 2 …) in the stream.

    Attributes:
        seq: The event's index in its stream; the archive keeps each once.
        type: The event's ``type`` discriminator (``reported``, ``resolved`` …).
        at: When it was recorded (aware).
        payload: The event as JSON (``model_dump(mode="json")``).
    """

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=0, le=2**62)
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$")]
    at: AwareDatetime
    payload: dict[str, Any]

    @model_validator(mode="after")
    def _bounded(self) -> ArchivedEvent:
        _json_size(self.payload, PAYLOAD_MAX_BYTES, f"event {self.seq} payload")
        return self


class StreamColumns(BaseModel):
    """The columns lists, reports and search filter on, taken from the current view.

    Attributes:
        kind: What the stream is.
        stream_id: Its ID (the ticket ID for an incident).
        company: The customer, when the stream has one.
        status: The stream's status as its view names it (``new``, ``resolved`` …).
        severity: ``critical``/``major``/``minor`` for incidents.
        reporter_name: The reporter's full name (personal data).
        reporter_email: The reporter's e-mail address (personal data).
        opened_at: When the stream began (an incident's receipt, a change
            request's, a booking's or a maintenance window's recording);
            lists sort by it.
        resolved_at: When it was resolved or closed, if it was.
        search_text: Free text to index: the description and the timeline's
            texts (reasons, summaries, messages). IDs, company and reporter are
            indexed from their own columns and need not be repeated.
    """

    model_config = ConfigDict(frozen=True)

    kind: StreamKind
    stream_id: StreamId
    company: Line | None = None
    status: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
    severity: Annotated[str, Field(max_length=16, pattern=r"^[a-z]+$")] | None = None
    reporter_name: Line | None = None
    reporter_email: (
        Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_single_line)] | None
    ) = None
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    search_text: Annotated[str, Field(max_length=SEARCH_TEXT_MAX)] = ""


class ArchiveBatch(BaseModel):
    """The events one workflow task recorded, with the stream's view afterwards.

    Attributes:
        stream_id: The stream (workflow ID).
        kind: What the stream is.
        events: Consecutive events, oldest first (``seq`` rising by one).
        view: The current view as JSON, as ``sla show --json`` prints it.
        columns: The filter columns taken from that view.
    """

    model_config = ConfigDict(frozen=True)

    stream_id: StreamId
    kind: StreamKind
    events: tuple[ArchivedEvent, ...] = Field(min_length=1, max_length=BATCH_EVENTS_MAX)
    view: dict[str, Any]
    columns: StreamColumns

    @model_validator(mode="after")
    def _consistent(self) -> ArchiveBatch:
        if self.columns.stream_id != self.stream_id or self.columns.kind != self.kind:
            raise ValueError("columns describe another stream than the batch")
        seqs = [e.seq for e in self.events]
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            raise ValueError(f"events must be consecutive and oldest first, got seq {seqs}")
        _json_size(self.view, VIEW_MAX_BYTES, "view")
        return self

    @property
    def first_seq(self) -> int:
        """The ``seq`` of the batch's first event."""
        return self.events[0].seq

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the batch's last event."""
        return self.events[-1].seq


# -- erasure ---------------------------------------------------------------------

KEPT_TEXT_KEYS = frozenset(
    {
        # what a stream is and where it stands
        "type",
        "kind",
        "status",
        "ticket_status",
        "severity",
        "previous",
        "stage",
        "escalation_stage",
        "trigger",
        "by",
        "channel",
        "scope",
        "source",
        "missing",
        "message_kind",
        "rules",
        # IDs (not personal: they are ours)
        "ticket_id",
        "stream_id",
        "change_request_id",
        "change_request_request_id",
        "dev_ticket_id",
        "dev_tickets",
        "booking_id",
        "maintenance_id",
        "window_id",
        "request_id",
        # the customer is a company, and SLA reports are per company
        "company",
        "customer_number",
        "plan",
    }
)
"""Keys whose text survives erasure; every other text is personal or free text."""

_MACHINE_TEXT = re.compile(
    # ISO 8601 instants, dates and durations: the SLA figures are made of them.
    r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"
    r"|P(\d+[YMWD])*(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)$"
)


def scrub_personal(value: Any, key: str | None = None) -> Any:
    """``value`` (JSON) with personal data and free text blanked; figures kept.

    The rule is a list of what to keep, not of what to remove: a text field
    added to an event later is erased without anybody remembering this
    function. Kept: numbers, booleans, nulls, timestamps/dates/durations
    anywhere, and texts under :data:`KEPT_TEXT_KEYS`. Other texts become
    :data:`ERASED`; lists of such texts (attachments, recipients, experts)
    become empty.

    Args:
        value: A JSON value (dicts, lists, strings, numbers …).
        key: The key ``value`` is stored under, if any.

    Returns:
        A new JSON value; ``value`` is not changed.
    """
    if isinstance(value, dict):
        return {k: scrub_personal(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if key in KEPT_TEXT_KEYS:
            return list(value)
        items = [scrub_personal(item, key) for item in value]
        return [item for item in items if item != ERASED]
    if isinstance(value, str):
        if key in KEPT_TEXT_KEYS or _MACHINE_TEXT.match(value):
            return value
        return ERASED
    return value


ERASED_CONTACT = {
    "full_name": f"{ERASED} {ERASED}",
    "phone": "+00 000000",
    "email": "geloescht@erased.invalid",
}
"""What an erased reporter's name, phone and e-mail read as (see :func:`readable_after_erasure`)."""


def readable_after_erasure(value: Any) -> Any:
    """A scrubbed view or event (JSON), with contact fields the report model accepts again.

    The report requires a first and last name, a phone number and an e-mail
    address in their forms; :data:`ERASED` is none of them, so an erased
    incident could not be shown at all. Each such field that was erased gets
    a placeholder (:data:`ERASED_CONTACT`) that says so and reaches nobody
    (``.invalid`` is reserved, RFC 2606). Nothing else changes.
    """
    if isinstance(value, dict):
        return {
            k: ERASED_CONTACT[k]
            if k in ERASED_CONTACT and v == ERASED
            else readable_after_erasure(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [readable_after_erasure(item) for item in value]
    return value


def scrub_columns(columns: StreamColumns) -> StreamColumns:
    """``columns`` without the reporter and the free text (the figures stay)."""
    return columns.model_copy(
        update={"reporter_name": None, "reporter_email": None, "search_text": ""}
    )


# -- automatic erasure ([archive] personal_data_days) ----------------------------

ERASE_DUE_ACTIVITY = "erase_due_personal_data"
"""The activity that erases what is due; the workflow calls it by this name, so
``workflows/`` never imports the archive (it runs in ``activities/erasure.py``)."""

ERASURE_BATCH_MAX = 5_000
"""Streams one automatic run erases at most; the next run continues."""


def automatic_erasure_reason(personal_data_days: int) -> str:
    """The reason recorded with an automatic erasure (no personal data in it)."""
    return f"automatic: personal_data_days={personal_data_days}"


class DueErasure(BaseModel):
    """Input of the automatic erasure: erase what was resolved long enough before ``now``.

    Attributes:
        now: The run's instant (the workflow's time): the cutoff is
            ``now - personal_data_days`` calendar days, and ``now`` is
            recorded as the erasures' time, the same on every retry.
        personal_data_days: The policy's ``[archive] personal_data_days``.
        limit: At most this many streams in this run (oldest first).
    """

    model_config = ConfigDict(frozen=True)

    now: AwareDatetime
    personal_data_days: int = Field(ge=1, le=PERSONAL_DATA_DAYS_MAX)
    limit: int = Field(default=500, ge=1, le=ERASURE_BATCH_MAX)


class DueErasureResult(BaseModel):
    """What one automatic erasure run did.

    Attributes:
        before: The cutoff: streams resolved before it were due.
        erased: The streams erased in this run, oldest resolution first.
        more: More streams were due than ``limit``; the next run takes them.
    """

    model_config = ConfigDict(frozen=True)

    before: AwareDatetime
    erased: tuple[str, ...] = ()
    more: bool = False
