"""Command groups that live in their own modules (``sla maintenance …``, ``sla oncall …``).

Each entry is ``(name, typer app)``; ``cli.main`` registers them all.
"""

from __future__ import annotations

import typer

from cli import change_request, dev_ticket, maintenance, oncall
from cli.archive import archive_app
from cli.audit import audit_app, schedules_app

GROUPS: list[tuple[str, typer.Typer]] = []
GROUPS.append(("change-request", change_request.app))
GROUPS.append(("dev-ticket", dev_ticket.app))
GROUPS.append(("maintenance", maintenance.app))
GROUPS.append(("audit", audit_app))
GROUPS.append(("schedules", schedules_app))
GROUPS.append(("oncall", oncall.app))
GROUPS.append(("archive", archive_app))
