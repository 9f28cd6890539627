"""The archive store: append batches exactly once, in order; read, search, export and erase.

Synchronous SQLAlchemy Core: activities call it in a thread, the CLI directly.
Every public method is one transaction. Database failures come out as
:class:`~archive.errors.ArchiveError` subclasses with one readable line
(:class:`ArchiveNotMigrated`, :class:`ArchiveUnavailable`), never as driver
tracebacks.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from archive import fulltext, migrate
from archive.config import archive_url
from archive.engine import WRITE, create_engine
from archive.errors import (
    ArchiveError,
    ArchiveGap,
    ArchiveNotMigrated,
    ArchiveUnavailable,
    UnknownStream,
)
from archive.export import ExportFormat
from archive.export import export as render_export
from archive.records import AppendResult, ArchivedStream, ErasureRecord, StreamRecord
from archive.tables import erasures, events, streams
from domain.archive import (
    PERSONAL_DATA_KINDS,
    ArchiveBatch,
    ArchivedEvent,
    StreamColumns,
    StreamKind,
    scrub_columns,
    scrub_personal,
)

LIST_LIMIT_MAX = 10_000
"""The most rows one list, search or month call returns."""
REASON_MAX = 2_000
"""An erasure's recorded reason."""
ERASED_BY_MAX = 200
"""Who erased, as recorded (an operator's name or the schedule)."""

_SUMMARY_OMITS = ("events", "report")

_RECORD_COLUMNS = (
    streams.c.stream_id,
    streams.c.kind,
    streams.c.company,
    streams.c.status,
    streams.c.severity,
    streams.c.reporter_name,
    streams.c.opened_at,
    streams.c.resolved_at,
    streams.c.last_seq,
    streams.c.erased_at,
    streams.c.summary,
)


# Built once: an append runs for every workflow task (the columns set come with the parameters).
_UPDATE_STREAM = streams.update().where(streams.c.id == sa.bindparam("row_id"))
_INSERT_EVENTS = events.insert()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def summary_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """The view without its events and report: what lists show."""
    return {k: v for k, v in view.items() if k not in _SUMMARY_OMITS}


def search_document(columns: StreamColumns) -> str:
    """The text the full-text index covers for a stream: IDs, company, reporter, free text."""
    return fulltext.document(
        columns.stream_id,
        columns.company,
        columns.reporter_name,
        columns.reporter_email,
        columns.search_text,
    )


class ArchiveStore:
    """The archive on one database (SQLite file or PostgreSQL).

    Args:
        engine: From :func:`archive.engine.create_engine`.
        clock: The time recorded as ``updated_at``/``recorded_at`` (tests pass a fixed one).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self._clock = clock
        self.where = engine.url.render_as_string(hide_password=True)
        # The append's statements, built once: it runs for every workflow task.
        row = sa.select(
            streams.c.id, streams.c.last_seq, streams.c.erased_at, streams.c.search_text
        ).where(streams.c.stream_id == sa.bindparam("stream_id"))
        self._stream_row = row.with_for_update() if self.dialect == "postgresql" else row
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        # RETURNING says whether the row was inserted: the rowcount does not
        # (psycopg reports -1 for an INSERT with RETURNING, which SQLAlchemy
        # adds for the generated key).
        self._new_stream = (
            insert(streams)
            .on_conflict_do_nothing(index_elements=[streams.c.stream_id])
            .returning(streams.c.id)
        )

    @classmethod
    def from_url(cls, url: str | None = None) -> ArchiveStore:
        """A store for ``url`` (default: :func:`archive.config.archive_url`)."""
        return cls(create_engine(url or archive_url()))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------

    def migrate(self) -> str:
        """Apply every pending migration; returns the revision the schema is at now."""
        if self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            # SQLite creates the file, not its directory (a fresh $SLA_DATA_DIR).
            Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        with self._errors():
            return migrate.upgrade(self.engine)

    def check_migrated(self) -> str:
        """The schema's revision, when it is current.

        Raises:
            ArchiveNotMigrated: "archive schema at X is not migrated: run `sla archive migrate`".
            ArchiveUnavailable: The database cannot be reached.
        """
        database = self.engine.url.database
        # Connecting to a missing SQLite file would create it (or fail on a missing directory).
        if (
            self.dialect == "sqlite"
            and database not in (None, "", ":memory:")
            and not Path(str(database)).exists()
        ):
            raise ArchiveNotMigrated(
                f"archive schema at {self.where} is not migrated: run `sla archive migrate`"
            )
        with self._errors():
            return migrate.check(self.engine, self.where)

    # -- writing -----------------------------------------------------------------

    def append(self, batch: ArchiveBatch) -> AppendResult:
        """Store the batch's events not stored yet; upsert the view when it advances.

        Idempotent by ``(stream_id, seq)``: a batch sent again, or overlapping
        the stored events, stores only what is new, and a concurrent append of
        the same batch waits for the first and then finds nothing to do. The
        stream row is locked for the transaction (``SELECT … FOR UPDATE`` on
        PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so events land in order.
        After an erasure, new events and views are stored erased too.

        Raises:
            ArchiveGap: The first new event is not ``last_seq + 1``; send the
                missing events first (the caller retries in order).
        """
        now = self._clock()
        with self._errors(), self._write() as connection:
            return self._append_in(connection, batch, now)

    def append_many(self, batches: Sequence[ArchiveBatch]) -> list[AppendResult | ArchiveGap]:
        """:meth:`append` for several batches in one transaction (a group commit).

        Many workflows hand over a batch at the same time; one transaction (one
        lock, one WAL sync) for all of them costs little more than one. A batch
        the archive answers with a gap writes nothing, so the others are stored;
        its answer is the :class:`ArchiveGap` in its place. Batches of one
        stream apply in the order given.

        Raises:
            ArchiveUnavailable: The database failed: none of the batches is stored.
        """
        now = self._clock()
        answers: list[AppendResult | ArchiveGap] = []
        with self._errors(), self._write() as connection:
            for batch in batches:
                # No savepoint per batch (two statements each): a gap is found
                # before the batch writes anything, or inside the savepoint of
                # its own that :meth:`_create_stream` takes for that rare case.
                try:
                    answers.append(self._append_in(connection, batch, now))
                except ArchiveGap as gap:
                    answers.append(gap)
        return answers

    def _append_in(
        self, connection: Connection, batch: ArchiveBatch, now: datetime
    ) -> AppendResult:
        """Apply ``batch``; three statements: read (and lock) the row, insert events, update.

        Raises:
            ArchiveGap: Found before this batch wrote anything (see :meth:`_create_stream`).
        """
        row = connection.execute(self._stream_row, {"stream_id": batch.stream_id}).one_or_none()
        if row is None:
            created = self._create_stream(connection, batch, now)
            if created is not None:
                return created
            # Another transaction created it a moment ago: append to its row.
            row = connection.execute(self._stream_row, {"stream_id": batch.stream_id}).one()
        last = int(row.last_seq)
        new = [e for e in batch.events if e.seq > last]
        if not new:
            return AppendResult(stream_id=batch.stream_id, appended=0, last_seq=last)
        if new[0].seq != last + 1:
            raise ArchiveGap(batch.stream_id, last + 1, new[0].seq)
        erased = row.erased_at is not None
        self._insert_events(connection, batch.stream_id, new, erased=erased)
        view = scrub_personal(batch.view) if erased else batch.view
        columns = scrub_columns(batch.columns) if erased else batch.columns
        update = self._stream_values(columns, view, batch.last_seq, now)
        if update["search_text"] == row.search_text:
            # Unchanged text: the full-text index is not rewritten (its trigger
            # fires on every SET of the column, whatever the value).
            del update["search_text"]
        connection.execute(_UPDATE_STREAM, {**update, "row_id": row.id})
        return AppendResult(stream_id=batch.stream_id, appended=len(new), last_seq=batch.last_seq)

    def _create_stream(
        self, connection: Connection, batch: ArchiveBatch, now: datetime
    ) -> AppendResult | None:
        """Store ``batch`` as a new stream; ``None`` when another append created its row first.

        The row is inserted with ``INSERT … ON CONFLICT DO NOTHING``: two
        appends of a new stream must not both insert it; the second waits for
        the first's commit and then appends to the row the first wrote. A
        batch that begins at ``seq`` 0 (every new stream's first) inserts its
        row complete, view and ``last_seq``, and its events: two statements.

        Raises:
            ArchiveGap: The batch does not begin at 0 and no other append
                created the row: nothing of it is stored.
        """
        new = [e for e in batch.events if e.seq >= 0]
        if new and new[0].seq != 0:
            # A gap unless a concurrent append creates the row meanwhile: only
            # the insert waits for that one, so the row is inserted as before
            # (``last_seq`` -1) in a savepoint that the gap rolls back.
            with connection.begin_nested():
                if self._insert_stream(connection, batch, -1, now):
                    raise ArchiveGap(batch.stream_id, 0, new[0].seq)
            return None
        last_seq = batch.last_seq if new else -1
        if not self._insert_stream(connection, batch, last_seq, now):
            return None
        self._insert_events(connection, batch.stream_id, new, erased=False)
        return AppendResult(stream_id=batch.stream_id, appended=len(new), last_seq=last_seq)

    def _insert_stream(
        self, connection: Connection, batch: ArchiveBatch, last_seq: int, now: datetime
    ) -> bool:
        """Insert the stream's row unless it exists; whether this call inserted it."""
        values = self._stream_values(batch.columns, batch.view, last_seq, now)
        values["stream_id"] = batch.stream_id
        return connection.execute(self._new_stream, values).first() is not None

    @staticmethod
    def _insert_events(
        connection: Connection,
        stream_id: str,
        new: Sequence[ArchivedEvent],
        *,
        erased: bool,
    ) -> None:
        connection.execute(
            _INSERT_EVENTS,
            [
                {
                    "stream_id": stream_id,
                    "seq": e.seq,
                    "type": e.type,
                    "at": e.at,
                    "payload": scrub_personal(e.payload) if erased else e.payload,
                }
                for e in new
            ],
        )

    @staticmethod
    def _stream_values(
        columns: StreamColumns, view: dict[str, Any], last_seq: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "kind": columns.kind.value,
            "company": columns.company,
            "status": columns.status,
            "severity": columns.severity,
            "reporter_name": columns.reporter_name,
            "reporter_email": columns.reporter_email,
            "opened_at": columns.opened_at,
            "resolved_at": columns.resolved_at,
            "last_seq": last_seq,
            "view": view,
            "summary": summary_of(view),
            "search_text": search_document(columns),
            "updated_at": now,
        }

    def erase(
        self,
        stream_id: str,
        reason: str,
        at: datetime,
        *,
        by: str | None = None,
        purge: bool = True,
    ) -> ErasureRecord:
        """Remove the reporter's personal data and free texts; keep the SLA figures.

        Rewrites the view, its summary, every event payload and the search
        document (the full-text index follows it) with
        :func:`domain.archive.scrub_personal`; clears the reporter columns;
        records the erasure (``erasures`` row, ``erased_at``). Later appends
        to the stream are stored erased. Erasing again is harmless (and
        recorded again).

        Args:
            stream_id: The stream.
            reason: Why (legal ground, request reference); stored, so it must
                not itself hold personal data.
            at: When the erasure was asked for (aware).
            by: Who erased (operator, or the automatic erasure); recorded.
            purge: Merge the SQLite full-text index afterwards (see
                :meth:`purge_index`). A caller erasing many streams passes
                ``False`` and calls :meth:`purge_index` once at the end.

        Raises:
            UnknownStream: Nothing archived under ``stream_id``.
        """
        reason = reason.strip()[:REASON_MAX] or "(no reason given)"
        erased_by = (by or "").strip()[:ERASED_BY_MAX] or None
        with self._errors(), self._write() as connection:
            query = sa.select(
                streams.c.id,
                streams.c.stream_id,
                streams.c.kind,
                streams.c.company,
                streams.c.status,
                streams.c.opened_at,
                streams.c.view,
                streams.c.erased_at,
            ).where(streams.c.stream_id == stream_id)
            if self.dialect == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).one_or_none()
            if row is None:
                raise UnknownStream(f"{stream_id} is not in the archive")
            view = scrub_personal(row.view)
            document = fulltext.document(row.stream_id, row.company)
            connection.execute(
                streams.update()
                .where(streams.c.id == row.id)
                .values(
                    reporter_name=None,
                    reporter_email=None,
                    view=view,
                    summary=summary_of(view),
                    search_text=document,
                    erased_at=row.erased_at or at,
                    updated_at=self._clock(),
                )
            )
            stored = connection.execute(
                sa.select(events.c.seq, events.c.payload).where(events.c.stream_id == stream_id)
            ).all()
            if stored:
                connection.execute(
                    events.update()
                    .where(events.c.stream_id == sa.bindparam("b_stream"))
                    .where(events.c.seq == sa.bindparam("b_seq"))
                    .values(payload=sa.bindparam("b_payload")),
                    [
                        {
                            "b_stream": stream_id,
                            "b_seq": s.seq,
                            "b_payload": scrub_personal(s.payload),
                        }
                        for s in stored
                    ],
                )
            connection.execute(
                erasures.insert().values(
                    stream_id=stream_id,
                    at=at,
                    reason=reason,
                    recorded_at=self._clock(),
                    erased_by=erased_by,
                )
            )
        if purge:
            self.purge_index()
        return ErasureRecord(
            stream_id=stream_id,
            at=at,
            reason=reason,
            events_scrubbed=len(stored),
            erased_by=erased_by,
        )

    def due_for_erasure(self, before: datetime, limit: int = 500) -> builtins.list[str]:
        """Streams resolved before ``before`` and not erased yet, longest resolved first.

        The automatic erasure (``[archive] personal_data_days``) takes these
        in bounded runs: the oldest go first, and whatever ``limit`` leaves
        is the next run's. A stream without ``resolved_at`` (still open) is
        never due, nor one of a kind that names no person
        (:data:`~domain.archive.PERSONAL_DATA_KINDS`).

        Args:
            before: Resolved strictly before this instant (aware).
            limit: At most this many (1 … :data:`LIST_LIMIT_MAX`).

        Returns:
            Stream IDs.
        """
        bounded = max(1, min(limit, LIST_LIMIT_MAX))
        query = (
            sa.select(streams.c.stream_id)
            .where(streams.c.resolved_at < before)
            .where(streams.c.erased_at.is_(None))
            .where(streams.c.kind.in_(sorted(kind.value for kind in PERSONAL_DATA_KINDS)))
            .order_by(streams.c.resolved_at, streams.c.id)
            .limit(bounded)
        )
        with self._errors(), self.engine.connect() as connection:
            return [str(row.stream_id) for row in connection.execute(query)]

    def purge_index(self) -> None:
        """SQLite: merge the FTS5 index so erased words leave its pages, not only its answers.

        An FTS5 delete records a tombstone; the old entry stays in an older
        segment until segments merge. ``optimize`` merges them all now (it
        costs a rewrite of the index, which erasures are rare enough to pay,
        once per erasure or once per batch of them). PostgreSQL: nothing to
        do (the ``tsvector`` is a column of the rewritten row).
        """
        if self.dialect != "sqlite":
            return
        with self._errors(), self._write() as connection:
            connection.exec_driver_sql("INSERT INTO streams_fts(streams_fts) VALUES ('optimize')")

    # -- reading -----------------------------------------------------------------

    def get(self, stream_id: str) -> ArchivedStream:
        """One stream: its columns, its whole view and every event, oldest first.

        Raises:
            UnknownStream: Nothing archived under ``stream_id``.
        """
        with self._errors(), self.engine.connect() as connection:
            row = connection.execute(
                sa.select(*_RECORD_COLUMNS, streams.c.view).where(streams.c.stream_id == stream_id)
            ).one_or_none()
            if row is None:
                raise UnknownStream(f"{stream_id} is not in the archive")
            stored = connection.execute(
                sa.select(events.c.seq, events.c.type, events.c.at, events.c.payload)
                .where(events.c.stream_id == stream_id)
                .order_by(events.c.seq)
            ).all()
        return ArchivedStream(
            **_record_fields(row),
            view=row.view,
            events=tuple(
                ArchivedEvent(seq=e.seq, type=e.type, at=e.at, payload=e.payload) for e in stored
            ),
        )

    def list(
        self,
        *,
        status: str | None = None,
        company: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: StreamKind | None = None,
        limit: int = 200,
    ) -> list[StreamRecord]:
        """Streams matching every filter given, newest first (by ``opened_at``).

        Args:
            status: Exact status (``resolved`` …).
            company: Exact company name.
            severity: ``critical``/``major``/``minor``.
            since: Opened at or after (aware).
            until: Opened before (aware).
            kind: Only this kind of stream.
            limit: At most this many (capped at :data:`LIST_LIMIT_MAX`).
        """
        query = self._filtered(
            status=status, company=company, since=since, until=until, kind=kind, limit=limit
        )
        if severity is not None:
            query = query.where(streams.c.severity == severity)
        return self._records(query)

    def search(
        self,
        text: str,
        *,
        company: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        kind: StreamKind | None = None,
        limit: int = 50,
    ) -> builtins.list[StreamRecord]:
        """Streams whose ID, company, reporter, description or timeline contain every word.

        Any text is accepted: it is reduced to words (:mod:`archive.fulltext`),
        so quotes, ``*``, ``NEAR`` or control characters are never syntax.
        A text that is a stream ID also finds that stream by its ID. Newest first.

        Args:
            text: What the user typed.
            company: Exact company name.
            since: Opened at or after (aware).
            until: Opened before (aware).
            status: Exact status.
            kind: Only this kind of stream.
            limit: At most this many (capped at :data:`LIST_LIMIT_MAX`).
        """
        found = fulltext.words(text)
        if not found:
            return []
        condition = fulltext.match_condition(self.dialect, found)
        stream_id = fulltext.looks_like_id(text)
        if stream_id is not None:
            condition = sa.or_(condition, streams.c.stream_id == stream_id)
        query = self._filtered(
            status=status, company=company, since=since, until=until, kind=kind, limit=limit
        ).where(condition)
        return self._records(query)

    def month(
        self, year: int, month: int, *, zone: str = "Europe/Berlin", kind: StreamKind | None = None
    ) -> builtins.list[StreamRecord]:
        """The streams a monthly report covers: opened, reopened or resolved in that month.

        Args:
            year: e.g. 2026.
            month: 1–12.
            zone: Whose calendar month (the policy's time zone).
            kind: Only this kind of stream.

        Raises:
            ArchiveError: Not a month.
        """
        query = sa.select(*_RECORD_COLUMNS).where(_in_month(*month_bounds(year, month, zone)))
        if kind is not None:
            query = query.where(streams.c.kind == kind.value)
        return self._records(query.order_by(streams.c.opened_at, streams.c.id))

    def month_streams(
        self, year: int, month: int, *, zone: str = "Europe/Berlin", kind: StreamKind | None = None
    ) -> builtins.list[ArchivedStream]:
        """:meth:`month`'s streams whole (view and every event), in two queries.

        What a monthly report computes its figures from, however many streams
        the month has: one query for the streams, one for all their events.

        Raises:
            ArchiveError: Not a month.
        """
        chosen = sa.select(streams.c.stream_id).where(_in_month(*month_bounds(year, month, zone)))
        if kind is not None:
            chosen = chosen.where(streams.c.kind == kind.value)
        return self._whole(chosen)

    def streams_of(self, stream_ids: Sequence[str]) -> builtins.list[ArchivedStream]:
        """The archived ones of ``stream_ids``, whole (view and every event), in two queries.

        What the audits read for the open incidents Temporal lists (a missing
        ID is simply not in the answer). At most :data:`STREAMS_OF_MAX` IDs
        per call (the database's bound-parameter limit).

        Raises:
            ArchiveError: More IDs than that.
        """
        if len(stream_ids) > STREAMS_OF_MAX:
            raise ArchiveError(f"at most {STREAMS_OF_MAX} streams at a time, not {len(stream_ids)}")
        if not stream_ids:
            return []
        return self._whole(
            sa.select(streams.c.stream_id).where(streams.c.stream_id.in_(list(stream_ids)))
        )

    def _whole(self, chosen: sa.Select[tuple[str]]) -> builtins.list[ArchivedStream]:
        """The ``chosen`` streams with their views and events: one query for each."""
        with self._errors(), self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(*_RECORD_COLUMNS, streams.c.view)
                .where(streams.c.stream_id.in_(chosen.scalar_subquery()))
                .order_by(streams.c.opened_at, streams.c.id)
            ).all()
            by_stream: dict[str, builtins.list[ArchivedEvent]] = {r.stream_id: [] for r in rows}
            last_seq = {r.stream_id: r.last_seq for r in rows}
            for e in connection.execute(
                sa.select(
                    events.c.stream_id, events.c.seq, events.c.type, events.c.at, events.c.payload
                )
                .where(events.c.stream_id.in_(chosen.scalar_subquery()))
                .order_by(events.c.stream_id, events.c.seq)
            ):
                # Appended after the streams were read: not what their views show.
                if e.stream_id in by_stream and e.seq <= last_seq[e.stream_id]:
                    by_stream[e.stream_id].append(
                        ArchivedEvent(seq=e.seq, type=e.type, at=e.at, payload=e.payload)
                    )
        return [
            ArchivedStream(
                **_record_fields(row), view=row.view, events=tuple(by_stream[row.stream_id])
            )
            for row in rows
        ]

    def export(
        self, year: int, month: int, fmt: ExportFormat | str, *, zone: str = "Europe/Berlin"
    ) -> bytes:
        """:meth:`month` as CSV, JSON or Parquet (no personal data: see :mod:`archive.export`).

        Raises:
            ExportUnavailable: Parquet without pyarrow.
            ArchiveError: Unknown format or not a month.
        """
        try:
            chosen = ExportFormat(fmt)
        except ValueError:
            raise ArchiveError(f"export format must be csv, json or parquet, not {fmt!r}") from None
        return render_export(self.month(year, month, zone=zone), chosen)

    def counts(self) -> dict[str, int]:
        """How many streams, events and erasures are archived."""
        with self._errors(), self.engine.connect() as connection:
            return {
                table.name: int(
                    connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
                for table in (streams, events, erasures)
            }

    # -- plumbing ----------------------------------------------------------------

    def _filtered(
        self,
        *,
        status: str | None,
        company: str | None,
        since: datetime | None,
        until: datetime | None,
        kind: StreamKind | None,
        limit: int,
    ) -> sa.Select[Any]:
        query = sa.select(*_RECORD_COLUMNS)
        if status is not None:
            query = query.where(streams.c.status == status)
        if company is not None:
            query = query.where(streams.c.company == company)
        if since is not None:
            query = query.where(streams.c.opened_at >= since)
        if until is not None:
            query = query.where(streams.c.opened_at < until)
        if kind is not None:
            query = query.where(streams.c.kind == kind.value)
        bounded = max(1, min(limit, LIST_LIMIT_MAX))
        return query.order_by(streams.c.opened_at.desc(), streams.c.id.desc()).limit(bounded)

    def _records(self, query: sa.Select[Any]) -> builtins.list[StreamRecord]:
        with self._errors(), self.engine.connect() as connection:
            return [StreamRecord(**_record_fields(row)) for row in connection.execute(query)]

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a writing transaction (committed on success, rolled back on error)."""
        with self.engine.connect().execution_options(**WRITE) as connection, connection.begin():
            yield connection

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Database failures as one-line archive errors."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            text = str(error.orig) if error.orig is not None else str(error)
            if "no such table" in text or ("does not exist" in text and "relation" in text):
                raise ArchiveNotMigrated(
                    f"archive schema at {self.where} is not migrated: run `sla archive migrate`"
                ) from None
            first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
            raise ArchiveUnavailable(f"archive at {self.where} is unavailable: {first}") from None
        except sa.exc.InterfaceError as error:
            raise ArchiveUnavailable(
                f"archive at {self.where} is unavailable: {error.orig}"
            ) from None


STREAMS_OF_MAX = 400
"""IDs :meth:`ArchiveStore.streams_of` takes at once (bound twice; old SQLite builds bind 999)."""

REOPENED = "reopened"
"""The event type that starts a reopened period (``domain.events.IncidentReopened``)."""


def _in_month(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    """Opened, resolved or reopened in ``[start, end)``.

    A reopened period is counted in the month its clock started (docs/SLA.md),
    which may be neither the stream's first opening nor its last resolution.
    """
    reopened = sa.select(events.c.stream_id).where(
        events.c.type == REOPENED, events.c.at >= start, events.c.at < end
    )
    return sa.or_(
        sa.and_(streams.c.opened_at >= start, streams.c.opened_at < end),
        sa.and_(streams.c.resolved_at >= start, streams.c.resolved_at < end),
        streams.c.stream_id.in_(reopened.scalar_subquery()),
    )


def month_bounds(year: int, month: int, zone: str = "Europe/Berlin") -> tuple[datetime, datetime]:
    """The first instant of the month in ``zone`` and of the next month.

    Raises:
        ArchiveError: Not a month (or a year outside 1970–9998).
    """
    if not (1970 <= year <= 9998 and 1 <= month <= 12):
        raise ArchiveError(f"{year:04d}-{month:02d} is not a month the archive can report")
    tz = ZoneInfo(zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _record_fields(row: Any) -> dict[str, Any]:
    mapping = row._mapping
    return {column.name: mapping[column.name] for column in _RECORD_COLUMNS}
