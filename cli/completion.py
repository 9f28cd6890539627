"""Shell completion of ticket IDs: the open incidents, asked of the service layer quickly.

``sla --install-completion`` (bash, zsh, fish) installs typer's completion
script; on Tab the shell runs ``sla`` with ``_SLA_COMPLETE=complete_bash`` (or
``complete_zsh``, ``complete_fish``) and the words typed so far, and the
callback below lists the open incidents whose ticket ID starts with the word
being completed.

A completion must never get in the way: it gives up after
:data:`COMPLETION_TIMEOUT` seconds and answers nothing on any error (Temporal
down, a bad configuration) instead of printing a traceback into the
operator's command line.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from service.connect import connect
from service.incident_list import OpenTicket, closed_tickets, open_tickets

COMPLETION_TIMEOUT = 2.0
"""Seconds a Tab may take before it completes nothing: connect and one listing."""

COMPLETION_LIMIT = 100
"""At most this many candidates: more would not help anyone pick."""


async def _open_tickets(prefix: str) -> list[OpenTicket]:
    return await open_tickets(await connect(), prefix=prefix, limit=COMPLETION_LIMIT)


def ticket_candidates(incomplete: str, *, timeout: float = COMPLETION_TIMEOUT) -> list[OpenTicket]:
    """Open incidents whose ticket ID starts with ``incomplete``; ``[]`` on any error or timeout.

    Args:
        incomplete: The word being completed (case matters, as in typer's own
            filtering of the candidates: ``INC-2026``).
        timeout: Seconds to connect and list.
    """
    try:
        return asyncio.run(asyncio.wait_for(_open_tickets(incomplete), timeout))
    except Exception:
        # Completion runs inside the shell's prompt: a traceback there would be
        # worse than no candidates, and the next command reports the real error.
        return []


async def _closed_tickets(prefix: str) -> list[OpenTicket]:
    return await closed_tickets(await connect(), prefix=prefix, limit=COMPLETION_LIMIT)


def closed_ticket_candidates(
    incomplete: str, *, timeout: float = COMPLETION_TIMEOUT
) -> list[OpenTicket]:
    """Resolved incidents Temporal still holds whose ID starts with ``incomplete`` (``sla reopen``).

    ``[]`` on any error or timeout, as :func:`ticket_candidates`.
    """
    try:
        return asyncio.run(asyncio.wait_for(_closed_tickets(incomplete), timeout))
    except Exception:
        return []  # see ticket_candidates: never a traceback in the prompt


def complete_closed_ticket(incomplete: str) -> list[tuple[str, str]]:
    """Typer ``autocompletion`` callback of ``sla reopen``: recently resolved incidents."""
    return [(t.ticket_id, t.describe()) for t in closed_ticket_candidates(incomplete)]


def complete_open_ticket(incomplete: str) -> list[tuple[str, str]]:
    """Typer ``autocompletion`` callback: ``(ticket ID, severity, status, company)`` pairs."""
    return [(t.ticket_id, t.describe()) for t in ticket_candidates(incomplete)]


TicketArgument = Annotated[
    str,
    typer.Argument(
        help="Ticket ID, e.g. INC-20261124-7QK2AB (Tab completes open incidents).",
        autocompletion=complete_open_ticket,
    ),
]
"""The ``TICKET`` argument of the commands that act on an open incident."""
