"""Development tickets ("Entwicklungs-Ticketsystem"): tracker interface, local ledger, activities.

The SLA gives bugs and change requests their own development ticket with an ID
of its own, through which the customer can follow the development. The engine
talks to the tracker only through :class:`DevTicketTracker`:

* ``create`` – a new ticket, **idempotent per key**: the same key (the change
  request ID, ``bug:<ticket>``) returns the same ticket, so a retried activity
  never opens a second one;
* ``transition`` – a status change, idempotent per transition key;
* ``link`` – record that a support ticket (incident) belongs to a dev ticket;
* ``get`` – the ticket with its links and status history.

The default is :class:`SqliteDevTicketTracker`, a ledger in
``$SLA_DATA_DIR/devtickets.sqlite3`` handing out ``DEV-0001``, ``DEV-0002`` …
in one write transaction each. Another tracker (Jira, GitHub Issues) is a class
with the same four async methods that maps ``DevTicketStatus`` to its own
workflow states and uses its own idempotency means (e.g. a Jira entity property
or a GitHub issue label carrying the key, searched before creating); wire it in
``worker.py`` instead of the ledger. Nothing else changes.

The activities hand every ticket they change to the archive (issue 17): a dev
ticket has no event stream, so its events are derived from the tracker's
ticket (``domain.dev_ticket_archive``), which requires the tracker to stamp a
ticket's changes in the order it records them (see ``transition`` and ``link``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.archive import ArchiveBatch
from domain.dev_ticket import (
    DevTicket,
    DevTicketId,
    DevTicketKind,
    DevTicketStatus,
    DevTicketTransition,
    IncidentContact,
    LinkedIncident,
    StatusChange,
    check_transition,
    select,
)
from domain.dev_ticket_archive import dev_ticket_batch
from domain.errors import DomainError
from domain.report import RequestId
from domain.sla import Severity

__all__ = [
    "ARCHIVE_WAIT",
    "ILLEGAL_DEV_TICKET_TRANSITION",
    "LEDGER_FILE",
    "UNKNOWN_DEV_TICKET",
    "ArchiveAppend",
    "DevTicket",
    "DevTicketActivities",
    "DevTicketList",
    "DevTicketLookup",
    "DevTicketQuery",
    "DevTicketRef",
    "DevTicketTracker",
    "IncidentLink",
    "NewDevTicket",
    "SqliteDevTicketTracker",
    "StatusChange",
]

LEDGER_FILE = "devtickets.sqlite3"
"""File name of the local ledger inside the data dir."""

UNKNOWN_DEV_TICKET = "UnknownDevTicket"
"""``ApplicationError`` type for a dev ticket ID the tracker does not know (not retryable)."""

ILLEGAL_DEV_TICKET_TRANSITION = "IllegalDevTicketTransition"
"""``ApplicationError`` type of a move ``check_transition`` refuses (not retryable)."""


# -- models ----------------------------------------------------------------------


class NewDevTicket(BaseModel):
    """What a new development ticket is made of.

    Attributes:
        key: Idempotency key: the same key always yields the same ticket.
        kind: Feature (change request) or bug.
        title: One-line title.
        description: The full text.
        company: The customer who asked, if any.
        reference: Where it comes from (change request or incident ID).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    kind: DevTicketKind
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    company: str | None = None
    reference: str | None = None


class IncidentLink(BaseModel):
    """Link a support ticket to a development ticket of kind "bug".

    Without ``dev_ticket_id`` a bug ticket titled ``title`` is created for the
    incident (or the one created for it before is reused). ``contact`` is
    stored with the link, so that the reporter can be told when the fix is
    released; links made before it existed have none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: RequestId
    dev_ticket_id: DevTicketId | None = None
    title: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=20_000)
    contact: IncidentContact | None = None

    @model_validator(mode="after")
    def _title_for_new_tickets(self) -> Self:
        if self.dev_ticket_id is None and not (self.title or "").strip():
            raise ValueError("a title is required to create a bug ticket (or name the ticket)")
        return self


# -- the interface ---------------------------------------------------------------


class DevTicketLookup(Protocol):
    """Lists every ticket (the weekly audit and ``sla dev-ticket list`` read it)."""

    async def all(self) -> list[DevTicket]:
        """Every ticket, oldest first."""
        ...


class DevTicketTracker(DevTicketLookup, Protocol):
    """A development ticket system (local ledger, Jira, GitHub …)."""

    async def create(self, ticket: NewDevTicket) -> DevTicket:
        """Create a ticket, or return the one created before under ``ticket.key``."""
        ...

    async def transition(self, change: DevTicketTransition) -> DevTicket:
        """Move a ticket to a new status (a repeated ``change.key`` changes nothing).

        The move must be one ``domain.dev_ticket.check_transition`` allows.
        Its ``at`` is later than every earlier change and link of the ticket
        (the archive orders a ticket's events by it: ``domain.dev_ticket_archive``).

        Raises:
            ApplicationError: ``UnknownDevTicket`` or ``IllegalDevTicketTransition``
                (not retryable).
        """
        ...

    async def link(
        self, dev_ticket_id: str, ticket_id: str, contact: IncidentContact | None = None
    ) -> DevTicket:
        """Record that support ticket ``ticket_id`` belongs to the dev ticket (idempotent).

        ``contact`` (whom to tell when the fix is released) is stored with the
        link; linking again with a contact fills in one that was missing. A new
        link's ``at`` is later than every earlier change and link of the ticket;
        a repeated link keeps its first ``at``.

        Raises:
            ApplicationError: ``UnknownDevTicket`` (not retryable).
        """
        ...

    async def get(self, dev_ticket_id: str) -> DevTicket:
        """The ticket with links and status history.

        Raises:
            ApplicationError: ``UnknownDevTicket`` (not retryable).
        """
        ...


# -- the local ledger ------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dev_tickets (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    key         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    company     TEXT,
    reference   TEXT,
    status      TEXT NOT NULL,
    release     TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    seq           INTEGER PRIMARY KEY,
    dev_ticket_id TEXT NOT NULL REFERENCES dev_tickets(id),
    key           TEXT NOT NULL UNIQUE,
    at            TEXT NOT NULL,
    previous      TEXT NOT NULL,
    status        TEXT NOT NULL,
    note          TEXT,
    release       TEXT
);
CREATE TABLE IF NOT EXISTS links (
    dev_ticket_id  TEXT NOT NULL REFERENCES dev_tickets(id),
    ticket_id      TEXT NOT NULL,
    at             TEXT NOT NULL,
    reporter_email TEXT,
    reporter_name  TEXT,
    company        TEXT,
    severity       TEXT,
    PRIMARY KEY (dev_ticket_id, ticket_id)
);
"""

_LINK_CONTACT_COLUMNS = ("reporter_email", "reporter_name", "company", "severity")
"""Columns the ``links`` table gained with the bug lifecycle (added to older ledgers)."""


def _create_tables(db: sqlite3.Connection) -> None:
    """Create the ledger's tables (if missing) and add new columns, in one write transaction.

    Migrations are additive only, so that an older engine version still reads
    a ledger this one has touched.
    """
    db.execute("BEGIN IMMEDIATE")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    present = {row[1] for row in db.execute("PRAGMA table_info(links)")}
    for column in _LINK_CONTACT_COLUMNS:
        if column not in present:
            db.execute(f"ALTER TABLE links ADD COLUMN {column} TEXT")
    db.execute("COMMIT")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteDevTicketTracker:
    """The default tracker: a SQLite ledger with sequential IDs ``DEV-0001``, ``DEV-0002``, ….

    Safe for several threads and processes: every write runs in its own
    ``BEGIN IMMEDIATE`` transaction (SQLite's write lock), so reading the
    highest number and inserting the next one cannot interleave, and the key
    lookup and the insert of an idempotent create are one atomic step.
    """

    def __init__(
        self, path: Path, *, prefix: str = "DEV", clock: Callable[[], datetime] = _utc_now
    ) -> None:
        """Use the ledger at ``path`` (created on first use).

        Args:
            path: The SQLite file.
            prefix: ID prefix (``DEV`` → ``DEV-0001``).
            clock: Source of timestamps (tests pass a fixed one).
        """
        self.path = path
        self._prefix = prefix
        self._clock = clock
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqliteDevTicketTracker:
        """The ledger of an engine data dir (``$SLA_DATA_DIR/devtickets.sqlite3``)."""
        return cls(data_dir / LEDGER_FILE)

    # The protocol: SQLite blocks, so each call runs in a worker thread.

    async def create(self, ticket: NewDevTicket) -> DevTicket:
        """See :meth:`DevTicketTracker.create`."""
        return await asyncio.to_thread(self.create_sync, ticket)

    async def transition(self, change: DevTicketTransition) -> DevTicket:
        """See :meth:`DevTicketTracker.transition`."""
        return await asyncio.to_thread(self.transition_sync, change)

    async def link(
        self, dev_ticket_id: str, ticket_id: str, contact: IncidentContact | None = None
    ) -> DevTicket:
        """See :meth:`DevTicketTracker.link`."""
        return await asyncio.to_thread(self.link_sync, dev_ticket_id, ticket_id, contact)

    async def get(self, dev_ticket_id: str) -> DevTicket:
        """See :meth:`DevTicketTracker.get`."""
        return await asyncio.to_thread(self.get_sync, dev_ticket_id)

    async def all(self) -> list[DevTicket]:
        """See :meth:`DevTicketLookup.all`."""
        return await asyncio.to_thread(self.all_sync)

    # Blocking implementations.

    def create_sync(self, ticket: NewDevTicket) -> DevTicket:
        """Blocking :meth:`create`."""
        with self._write() as db:
            row = db.execute("SELECT id FROM dev_tickets WHERE key = ?", (ticket.key,)).fetchone()
            if row is None:
                (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM dev_tickets").fetchone()
                number = int(last) + 1
                dev_ticket_id = f"{self._prefix}-{number:04d}"
                db.execute(
                    "INSERT INTO dev_tickets (seq, id, key, kind, title, description, company,"
                    " reference, status, release, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (
                        number,
                        dev_ticket_id,
                        ticket.key,
                        ticket.kind.value,
                        ticket.title,
                        ticket.description,
                        ticket.company,
                        ticket.reference,
                        DevTicketStatus.OPEN.value,
                        self._now(),
                    ),
                )
            else:
                dev_ticket_id = row[0]
            return self._load(db, dev_ticket_id)

    def transition_sync(self, change: DevTicketTransition) -> DevTicket:
        """Blocking :meth:`transition`."""
        with self._write() as db:
            current = self._load(db, change.dev_ticket_id)
            seen = db.execute("SELECT 1 FROM transitions WHERE key = ?", (change.key,)).fetchone()
            if seen is None:
                # Checked after the key: a retried move that went through is a no-op,
                # not a refusal of "fixed → fixed".
                _check(current, change)
                db.execute(
                    "INSERT INTO transitions (dev_ticket_id, key, at, previous, status, note,"
                    " release) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        change.dev_ticket_id,
                        change.key,
                        self._later_than(current),
                        current.status.value,
                        change.status.value,
                        change.note,
                        change.release,
                    ),
                )
                db.execute(
                    "UPDATE dev_tickets SET status = ?, release = COALESCE(?, release)"
                    " WHERE id = ?",
                    (change.status.value, change.release, change.dev_ticket_id),
                )
            return self._load(db, change.dev_ticket_id)

    def link_sync(
        self, dev_ticket_id: str, ticket_id: str, contact: IncidentContact | None = None
    ) -> DevTicket:
        """Blocking :meth:`link`."""
        known = contact or IncidentContact()
        with self._write() as db:
            current = self._load(db, dev_ticket_id)  # refuses unknown IDs
            # A repeated link keeps its time; it fills in contact data the first
            # one lacked (a link recorded before contacts were stored).
            db.execute(
                "INSERT INTO links (dev_ticket_id, ticket_id, at, reporter_email, reporter_name,"
                " company, severity) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (dev_ticket_id, ticket_id) DO UPDATE SET"
                " reporter_email = COALESCE(links.reporter_email, excluded.reporter_email),"
                " reporter_name = COALESCE(links.reporter_name, excluded.reporter_name),"
                " company = COALESCE(links.company, excluded.company),"
                " severity = COALESCE(links.severity, excluded.severity)",
                (
                    dev_ticket_id,
                    ticket_id,
                    self._later_than(current),
                    known.email,
                    known.name,
                    known.company,
                    known.severity.value if known.severity is not None else None,
                ),
            )
            return self._load(db, dev_ticket_id)

    def get_sync(self, dev_ticket_id: str) -> DevTicket:
        """Blocking :meth:`get`."""
        with self._read() as db:
            return self._load(db, dev_ticket_id)

    def all_sync(self) -> list[DevTicket]:
        """Every ticket, oldest first (for audits and tests)."""
        with self._read() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM dev_tickets ORDER BY seq")]
            return [self._load(db, i) for i in ids]

    # Plumbing.

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat()

    def _later_than(self, ticket: DevTicket) -> str:
        """Now, or just after the ticket's latest change if the clock is not past it.

        The archive derives a ticket's events in the order of their ``at``
        (``domain.dev_ticket_archive``) and keeps each by its position, so a
        change must never sort before one recorded earlier: not when two
        changes fall on the same microsecond, nor when the clock was set back.
        Called inside the write transaction, which orders the changes.
        """
        latest = max(
            (
                ticket.created_at,
                *(change.at for change in ticket.history),
                *(link.at for link in ticket.linked),
            )
        )
        now = self._clock().astimezone(UTC)
        return max(now, latest + timedelta(microseconds=1)).astimezone(UTC).isoformat()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly below. The
        # timeout is SQLite's busy timeout: a connection waits up to 30 s for
        # a lock another one holds instead of failing at once.
        self._ensure_ledger()
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _ensure_ledger(self) -> None:
        """Create the ledger file and its tables, once per tracker.

        Why no ``PRAGMA journal_mode = WAL`` on connecting: switching a file
        into WAL rewrites its header, so the switch first reads (shared lock)
        and then writes. Two connections switching a new file at once, or one
        switching while another writes, ended with one of them holding the
        read lock and wanting the write lock the other holds; SQLite refuses
        that at once with SQLITE_BUSY ("database is locked") instead of
        waiting, because waiting could deadlock, so the busy timeout never
        applied (seen as 84 of 96 tickets from 8 trackers on a loaded machine).

        So WAL is set exactly once, when the ledger is created, and nobody can
        see the file before: the ledger is built complete (WAL, tables) under a
        private name beside it and then hard-linked into place, which either
        succeeds atomically or finds a ledger another thread or process
        created first and keeps that one. WAL is recorded in the file, so
        every later connection runs in WAL without asking for it. (The data
        dir needs hard links, as every local Linux file system has.)
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self._create_ledger()
            # A ledger from an older version (or an empty file) gets its
            # tables here; IF NOT EXISTS makes this a no-op on a complete one.
            # It is a write like any other, under ``_write``'s lock discipline.
            with contextlib.closing(
                sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            ) as db:
                _create_tables(db)
            self._ready = True

    def _create_ledger(self) -> None:
        draft = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}.new")
        try:
            # Created owner-only before SQLite writes into it: the ledger names
            # customers (SQLite gives its -wal and -shm files the same mode).
            os.close(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            with contextlib.closing(sqlite3.connect(draft, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode = WAL")  # a private file: nobody to race with
                _create_tables(db)
            # Closing the last connection checkpointed the WAL into the file
            # and removed it: the draft is one self-contained file now.
            with contextlib.suppress(FileExistsError):  # another one was first: use theirs
                os.link(draft, self.path)
        finally:
            for leftover in (
                draft,
                draft.with_name(draft.name + "-wal"),
                draft.with_name(draft.name + "-shm"),
            ):
                leftover.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock before the first read. A
        # deferred BEGIN would read under a shared lock and upgrade on the
        # first write; when another connection holds the write lock then,
        # SQLite answers SQLITE_BUSY at once (waiting could deadlock) and the
        # busy timeout does not help. Taking the write lock up front waits
        # under the timeout like any lock, so a write only fails after 30 s
        # of somebody else holding the lock.
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            # One consistent snapshot for the ticket and its rows. In WAL a
            # reader never waits for the writer and never upgrades its lock.
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")
        finally:
            db.close()

    def _load(self, db: sqlite3.Connection, dev_ticket_id: str) -> DevTicket:
        row = db.execute(
            "SELECT id, key, kind, title, description, company, reference, status, release,"
            " created_at FROM dev_tickets WHERE id = ?",
            (dev_ticket_id,),
        ).fetchone()
        if row is None:
            raise ApplicationError(
                f"unknown development ticket {dev_ticket_id}",
                type=UNKNOWN_DEV_TICKET,
                non_retryable=True,
            )
        linked = tuple(
            LinkedIncident(
                ticket_id=r[0],
                at=datetime.fromisoformat(r[1]),
                contact=IncidentContact(
                    email=r[2],
                    name=r[3],
                    company=r[4],
                    severity=Severity(r[5]) if r[5] else None,
                ),
            )
            for r in db.execute(
                "SELECT ticket_id, at, reporter_email, reporter_name, company, severity"
                " FROM links WHERE dev_ticket_id = ? ORDER BY at, ticket_id",
                (dev_ticket_id,),
            )
        )
        history = tuple(
            StatusChange(
                at=datetime.fromisoformat(r[0]),
                previous=DevTicketStatus(r[1]),
                status=DevTicketStatus(r[2]),
                note=r[3],
                release=r[4],
            )
            for r in db.execute(
                "SELECT at, previous, status, note, release FROM transitions"
                " WHERE dev_ticket_id = ? ORDER BY seq",
                (dev_ticket_id,),
            )
        )
        return DevTicket(
            id=row[0],
            key=row[1],
            kind=DevTicketKind(row[2]),
            title=row[3],
            description=row[4],
            company=row[5],
            reference=row[6],
            status=DevTicketStatus(row[7]),
            release=row[8],
            created_at=datetime.fromisoformat(row[9]),
            links=tuple(link.ticket_id for link in linked),
            history=history,
            linked=linked,
        )


def _check(current: DevTicket, change: DevTicketTransition) -> None:
    """:func:`~domain.dev_ticket.check_transition` as the activity's permanent failure."""
    try:
        check_transition(
            current.id,
            current.kind,
            current.status,
            change.status,
            change.by,
            release=change.release,
        )
    except DomainError as error:
        raise ApplicationError(
            error.message, type=ILLEGAL_DEV_TICKET_TRANSITION, non_retryable=True
        ) from None


# -- activities ------------------------------------------------------------------


class DevTicketQuery(BaseModel):
    """Input of :meth:`DevTicketActivities.list_dev_tickets` (empty ``status``: every status)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: tuple[DevTicketStatus, ...] = ()
    kind: DevTicketKind | None = None


class DevTicketRef(BaseModel):
    """Input of :meth:`DevTicketActivities.get_dev_ticket`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dev_ticket_id: DevTicketId


class DevTicketList(BaseModel):
    """Result of :meth:`DevTicketActivities.list_dev_tickets`, oldest first."""

    model_config = ConfigDict(frozen=True)

    tickets: tuple[DevTicket, ...] = ()


ArchiveAppend = Callable[[ArchiveBatch], Awaitable[int]]
"""Stores a batch in the archive and returns the stream's last ``seq`` afterwards
(``ArchiveActivities.feed``, the worker's group commit).

Raises whatever the archive raises (unreachable, refusing at once while down).
"""

ARCHIVE_WAIT = 3.0
"""Seconds a tracker activity waits for the archive before it goes on without it."""


class DevTicketActivities:
    """Development-ticket activities; the tracker is injected (``worker.py`` wires it).

    With ``archive``, every ticket a create, transition or link returns is
    handed to the archive afterwards: its whole derived history
    (``domain.dev_ticket_archive``), of which the archive stores what it
    lacks. The tracker's change has happened by then and is the answer: an
    archive that fails or takes longer than :data:`ARCHIVE_WAIT` seconds is
    logged and skipped (the workflow must not retry a change that went
    through, nor wait for a database that is down). What it missed goes with
    the ticket's next change, or with ``sla archive rebuild``.
    """

    def __init__(self, tracker: DevTicketTracker, archive: ArchiveAppend | None = None) -> None:
        """Create the activities around ``tracker``, feeding ``archive`` if given."""
        self._tracker = tracker
        self._archive = archive

    async def _archived(self, ticket: DevTicket) -> DevTicket:
        """``ticket``, after handing its events to the archive (best effort, bounded)."""
        if self._archive is None:
            return ticket
        try:
            await asyncio.wait_for(self._feed(self._archive, ticket), ARCHIVE_WAIT)
        except Exception as error:  # any archive failure: the tracker's change stands
            activity.logger.warning(
                "dev ticket %s not archived now (%s: %s); its next change or "
                "`sla archive rebuild` archives it",
                ticket.id,
                type(error).__name__,
                error,
            )
        return ticket

    @staticmethod
    async def _feed(archive: ArchiveAppend, ticket: DevTicket) -> None:
        first = 0
        while (batch := dev_ticket_batch(ticket, first)) is not None:
            last = await archive(batch)
            first = max(last, batch.last_seq) + 1

    @activity.defn
    async def create_dev_ticket(self, ticket: NewDevTicket) -> DevTicket:
        """Create the development ticket (idempotent per ``ticket.key``)."""
        created = await self._tracker.create(ticket)
        activity.logger.info("dev ticket %s (%s) for %s", created.id, created.kind, ticket.key)
        return await self._archived(created)

    @activity.defn
    async def transition_dev_ticket(self, change: DevTicketTransition) -> DevTicket:
        """Move a development ticket to a new status (idempotent per ``change.key``).

        Raises:
            ApplicationError: ``UnknownDevTicket`` or ``IllegalDevTicketTransition``
                (not retryable).
        """
        moved = await self._tracker.transition(change)
        activity.logger.info("dev ticket %s is now %s", moved.id, moved.status)
        return await self._archived(moved)

    @activity.defn
    async def get_dev_ticket(self, ref: DevTicketRef) -> DevTicket:
        """One development ticket with its links and status history.

        Raises:
            ApplicationError: ``UnknownDevTicket`` (not retryable).
        """
        return await self._tracker.get(ref.dev_ticket_id)

    @activity.defn
    async def list_dev_tickets(self, query: DevTicketQuery) -> DevTicketList:
        """The development tickets matching ``query``, oldest first."""
        return DevTicketList(
            tickets=tuple(select(await self._tracker.all(), status=query.status, kind=query.kind))
        )

    @activity.defn
    async def link_incident(self, link: IncidentLink) -> DevTicket:
        """Link an incident to a bug ticket, creating the bug ticket when none is named.

        Without ``link.dev_ticket_id`` the key ``bug:<ticket>`` makes a repeated
        link of the same incident reuse the bug ticket created the first time.
        ``link.contact`` is stored with the link (whom to tell of the release).
        """
        dev_ticket_id = link.dev_ticket_id
        if dev_ticket_id is None:
            created = await self._tracker.create(
                NewDevTicket(
                    key=f"bug:{link.ticket_id}",
                    kind=DevTicketKind.BUG,
                    title=(link.title or "").strip(),
                    description=link.description
                    or f"Programmfehler, gefunden bei der Bearbeitung von {link.ticket_id}.",
                    company=link.contact.company if link.contact is not None else None,
                    reference=link.ticket_id,
                )
            )
            dev_ticket_id = created.id
        linked = await self._tracker.link(dev_ticket_id, link.ticket_id, link.contact)
        activity.logger.info("incident %s linked to dev ticket %s", link.ticket_id, linked.id)
        # One hand-over for a ticket created here too: its events include the creation.
        return await self._archived(linked)
