"""``sla archive migrate|status``, ``sla search`` and ``sla export``: the archive from the shell.

Thin: inputs are checked here (one clear line when refused), the work is
:class:`archive.store.ArchiveStore`'s. The archive is found through
``SLA_ARCHIVE_URL`` (default ``sqlite:///$SLA_DATA_DIR/archive.sqlite3``).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from archive.errors import ArchiveError
from archive.export import ExportFormat
from archive.records import StreamRecord
from archive.store import ArchiveStore
from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    client,
    fail,
    parse_instant,
    policy_or_fail,
    print_json,
    run,
    warn_unreadable,
)
from cli.terminal import neutralise, safe
from domain.sla_report import ReportMonth, ReportMonthError
from service.archive import open_archive
from service.archive_rebuild import RebuildResult, rebuild_archive
from service.queries import Unreadable

T = TypeVar("T")

SEARCH_TEXT_MAX = 500
"""Characters of a search text; a longer one is a paste, not a search."""
COMPANY_MAX = 200
LIMIT_MAX = 1_000

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What no single-line option may contain: control, line-separator and bidi characters."""
_STATUS = re.compile(r"^[a-z_]{1,32}$")

archive_app = typer.Typer(
    name="archive",
    help="The incident archive (system of record): schema migrations and state.",
    no_args_is_help=True,
)


def _with_archive(work: Callable[[ArchiveStore], T], *, check: bool = True) -> T:
    """Run ``work`` on the configured archive; an archive refusal is one line on stderr."""
    try:
        store = open_archive(check=check)
    except ArchiveError as error:
        fail(str(error))
    try:
        return work(store)
    except ArchiveError as error:
        fail(str(error))
    finally:
        store.close()


def one_line(value: str, what: str, maximum: int) -> str:
    """A single-line option, stripped; refused when empty, too long or with control characters."""
    if CONTROL.search(value):
        fail(f"{what} must be one line without control characters")
    stripped = value.strip()
    if not stripped:
        fail(f"{what} must not be empty")
    if len(stripped) > maximum:
        fail(f"{what} is {len(stripped)} characters long, at most {maximum} are allowed")
    return stripped


def _line(value: str | None, what: str, maximum: int) -> str | None:
    """:func:`one_line` for an option that may be left out."""
    return None if value is None else one_line(value, what, maximum)


def _instant(value: str | None, what: str, zone: str) -> datetime | None:
    """``YYYY-MM-DD`` (midnight) or an ISO date-time; naive means the policy's zone."""
    if value is None:
        return None
    checked = _line(value, what, 64)
    assert checked is not None
    try:
        return parse_instant(checked, zone, what=what)
    except CliError as error:
        fail(str(error))


@archive_app.command("migrate")
def migrate_command(as_json: JsonOption = False) -> None:
    """Create or upgrade the archive's schema (idempotent); prints the revision."""

    def work(store: ArchiveStore) -> tuple[str, str]:
        return store.migrate(), store.where

    revision, where = _with_archive(work, check=False)
    if as_json:
        print_json({"archive": where, "revision": revision})
    else:
        print(f"archive at {where} is at revision {revision}")


@archive_app.command("rebuild")
def rebuild_command(
    task_queue: Annotated[
        str | None,
        typer.Option(
            "--task-queue",
            help="Only workflows on this task queue; its worker reads the dev tickets.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Refill the archive from Temporal: every stream it still retains (idempotent).

    Incidents, maintenance windows, change requests and on-call bookings from
    Temporal; dev tickets from the tracker, through a running worker (on
    --task-queue; without one they are reported unreadable). For a new or
    restored database, or one that missed events: what the archive has
    already stays, what it lacks is appended; erased streams stay erased.
    Streams past Temporal's retention cannot come back this way.
    """
    queue = _line(task_queue, "--task-queue", 200)

    def work(store: ArchiveStore) -> RebuildResult:
        async def body() -> RebuildResult:
            return await rebuild_archive(await client(), store, task_queue=queue)

        return run(body)

    result = _with_archive(work)
    warn_unreadable([Unreadable(ticket_id, reason) for ticket_id, reason in result.unreadable])
    if as_json:
        print_json(result)
        return
    kinds = ", ".join(f"{count} {kind}" for kind, count in result.by_kind.items() if count)
    print(
        f"rebuilt {result.streams} streams"
        + (f" ({kinds})" if kinds else "")
        + f": {result.events_appended} events appended, {result.events_present} already archived"
        + (f", {len(result.unreadable)} unreadable" if result.unreadable else "")
    )


@archive_app.command("status")
def status_command(as_json: JsonOption = False) -> None:
    """Schema revision and how much is archived (exit 1 when not migrated)."""

    def work(store: ArchiveStore) -> tuple[str, str, dict[str, int]]:
        return store.where, store.check_migrated(), store.counts()

    where, revision, counts = _with_archive(work, check=False)
    if as_json:
        print_json({"archive": where, "revision": revision, **counts})
    else:
        print(
            f"archive at {where}: revision {revision}, {counts['streams']} streams, "
            f"{counts['events']} events, {counts['erasures']} erasures"
        )


def _table(records: list[StreamRecord], zone: str) -> Table:
    table = Table(header_style="bold")
    table.add_column("ID", no_wrap=True)  # an ID is copied from here whole
    for column in ("kind", "status", "severity", "company", "opened", "resolved"):
        table.add_column(column)
    tz = ZoneInfo(zone)
    for r in records:
        table.add_row(
            safe(r.stream_id),
            r.kind.value,
            safe(r.status),
            safe(r.severity or "–"),
            safe(r.company or "–"),
            f"{r.opened_at.astimezone(tz):%Y-%m-%d %H:%M}",
            f"{r.resolved_at.astimezone(tz):%Y-%m-%d %H:%M}" if r.resolved_at else "–",
        )
    return table


def search(
    text: Annotated[str, typer.Argument(help="Words to find (IDs, company, reporter, texts).")],
    company: Annotated[str | None, typer.Option(help="Exact company name.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Opened at or after (ISO date or time).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Opened before (ISO date or time).")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status, e.g. resolved.")] = None,
    limit: Annotated[int, typer.Option(help=f"At most this many (1–{LIMIT_MAX}).")] = 50,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Full-text search of the archive, newest first (also finds closed incidents)."""
    words = _line(text, "search text", SEARCH_TEXT_MAX)
    assert words is not None
    company = _line(company, "--company", COMPANY_MAX)
    if status is not None and not _STATUS.match(status):
        fail(f"--status {neutralise(status)!r} is not a status (lower-case letters and _)")
    if not 1 <= limit <= LIMIT_MAX:
        fail(f"--limit must be between 1 and {LIMIT_MAX}")
    zone = policy_or_fail(policy).calendar_spec.timezone
    since_at = _instant(since, "--since", zone)
    until_at = _instant(until, "--until", zone)
    if since_at and until_at and since_at >= until_at:
        fail("--since must be before --until")

    records = _with_archive(
        lambda store: store.search(
            words, company=company, since=since_at, until=until_at, status=status, limit=limit
        )
    )
    if as_json:
        print_json(list(records))
        return
    if not records:
        print("nothing found")
        return
    Console(highlight=False, soft_wrap=False).print(_table(records, zone))


def export(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (policy time zone).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv, json or parquet.")] = (
        ExportFormat.CSV
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: stdout).", dir_okay=False)
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """Export a month's streams (opened or resolved in it) with SLA figures, no personal data."""
    try:
        chosen = ReportMonth.parse(month)
    except ReportMonthError as error:
        fail(f"--month: {error}")
    if out is None and fmt is ExportFormat.PARQUET and sys.stdout.isatty():
        fail("parquet is binary: give --out FILE (or redirect stdout)")
    zone = policy_or_fail(policy).calendar_spec.timezone
    data = _with_archive(lambda store: store.export(chosen.year, chosen.month, fmt, zone=zone))
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    _write_atomically(out, data)
    print(f"wrote {out} ({len(data)} bytes)", file=sys.stderr)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        fail(f"--out: directory {directory} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # mkstemp creates 0600; an export is an ordinary file (umask decides).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}")
