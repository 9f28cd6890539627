"""``sla erase TICKET --reason …``: erase a reporter's personal data from the archive (GDPR).

Removes the reporter's name, phone, e-mail, free texts and attachment
references from the archived view, events and search index, and deletes the
attachment files the mailbox intake saved (``$SLA_DATA_DIR/attachments/<ticket>/``);
keeps the SLA figures; records who erased, when and why. Refused with one line for an
unknown ticket, a bad reason, an unmigrated archive, and an incident Temporal
still holds open (it is still being worked on). The work is
:func:`service.erasure.erase_closed`'s.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from archive.errors import ArchiveError
from archive.records import ErasureRecord
from archive.store import ERASED_BY_MAX
from cli.archive import CONTROL, one_line
from cli.common import CliError, JsonOption, client, describe_failure, fail, print_json, run
from cli.terminal import neutralise
from domain.archive import StreamId
from service.archive import open_archive
from service.erasure import ErasureRefused, erase_closed

REASON_MAX = 500
"""Characters of a reason: a legal ground and a request reference, not a letter."""

_STREAM_ID: TypeAdapter[str] = TypeAdapter(StreamId)


def _ticket(value: str) -> str:
    try:
        return _STREAM_ID.validate_python(value.strip())
    except ValidationError:
        fail(f"{neutralise(value)[:140]!r} is not a ticket ID (e.g. INC-20261124-7QK2AB)")


def operator_name() -> str:
    """Who runs the command: the login name, else the numeric user (containers have no name)."""
    try:
        name = getpass.getuser().strip()
    except Exception:  # KeyError/OSError: a uid without a passwd entry (the worker image)
        name = ""
    if name and not CONTROL.search(name):
        return name[:ERASED_BY_MAX]
    return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown operator"


def erase(
    ticket_id: Annotated[
        str, typer.Argument(help="Ticket ID (or any archived stream's ID) to erase.")
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help=(
                f"Why, recorded with the erasure (one line, at most {REASON_MAX} characters); "
                "e.g. 'Art. 17 DSGVO, Anfrage 2026-118'. Must not itself hold personal data."
            ),
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who erases, recorded (default: your login name)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Erase the reporter's personal data from the archive; the SLA figures stay.

    Name, phone, e-mail, free texts and attachment references leave the
    archived view, every archived event and the search index, and the saved
    attachment files ($SLA_DATA_DIR/attachments/TICKET/) are deleted; timestamps,
    deadlines, breaches, severity and company stay, so reports still count
    the incident. The erasure is recorded (who, when, why). An incident that
    Temporal still holds open is refused: it is still being worked on.
    """
    ticket = _ticket(ticket_id)
    why = one_line(reason, "--reason", REASON_MAX)
    who = one_line(by, "--by", ERASED_BY_MAX) if by is not None else operator_name()
    at = datetime.now(UTC)

    async def body() -> ErasureRecord:
        try:
            store = open_archive()
        except ArchiveError as error:
            raise CliError(str(error)) from None

        async def connect() -> Client:
            try:
                return await client()
            except CliError as error:
                raise CliError(
                    f"cannot check whether {ticket} is still open, so nothing was erased: {error}"
                ) from None

        try:
            return await erase_closed(
                connect,
                store,
                ticket,
                why,
                by=who,
                at=at,
                # The mailbox intake's saved files (attachments/<ticket>/).
                attachments_root=Path(os.environ.get("SLA_DATA_DIR", ".sla")),
            )
        except (ArchiveError, ErasureRefused) as error:
            raise CliError(str(error)) from None
        except RPCError as error:
            raise CliError(
                f"cannot check whether {ticket} is still open, so nothing was erased: "
                f"{describe_failure(error, ticket)}"
            ) from None
        finally:
            store.close()

    record = run(body, ticket_id=ticket)
    if as_json:
        print_json(record)
        return
    print(
        f"{record.stream_id}: personal data erased from the archive "
        f"({record.events_scrubbed} events scrubbed, {record.attachments_removed} "
        "attachment files deleted, SLA figures kept); "
        f"recorded {record.at:%Y-%m-%d %H:%M} UTC by {neutralise(record.erased_by or '–')}"
    )
