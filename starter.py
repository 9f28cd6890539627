"""Intake front end: validate a report, then start its incident workflow, idempotently.

Used by intake services (chat, phone, e-mail, monitoring) and by ``sla report``::

    ticket_id = await report_incident(client, report_json)

or as a script: ``python starter.py report.json``. The work is done in
:mod:`service.incidents` and :mod:`service.intake`; this module keeps the
names intake services import (DESIGN §1) and the script.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client

from domain.errors import IntakeError
from domain.ids import id_code, ticket_id_for
from domain.sla import PolicyError, SlaPolicy
from service.connect import connect
from service.incidents import oncall_windows_for, report_incident
from service.intake import check_channel, parse_intake, parse_report, start_idempotently

__all__ = [
    "IntakeError",
    "check_channel",
    "id_code",
    "main",
    "oncall_windows_for",
    "parse_intake",
    "parse_report",
    "report_incident",
    "start_idempotently",
    "ticket_id_for",
]


async def main(argv: Sequence[str] | None = None, client: Client | None = None) -> int:
    """Script entry: ``python starter.py REPORT.json`` prints the ticket ID.

    Returns:
        Process exit code (0 on success, 1 when the report is refused).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python starter.py REPORT.json", file=sys.stderr)
        return 2
    try:
        text = Path(args[0]).read_text("utf-8")
    except OSError as exc:
        print(f"error: cannot read {args[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:
        print(f"error: {args[0]} is not UTF-8 text (byte {exc.start})", file=sys.stderr)
        return 1
    policy_path = os.environ.get("SLA_POLICY")
    try:
        policy = SlaPolicy.from_file(policy_path) if policy_path else SlaPolicy.default()
        ticket_id = await report_incident(client or await connect(), text, policy=policy)
    except (IntakeError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"ticket_id": ticket_id}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
