"""``sla link-duplicate TICKET --to MASTER``: one outage, many reports."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import CliError, JsonOption, build_command, client, print_json, run
from cli.completion import complete_open_ticket
from domain.incident import LinkAsDuplicate
from service.duplicates import DuplicateLink, DuplicateRefused, link_duplicate
from service.incident_updates import UpdateNotTaken


def link_duplicate_command(
    ticket_id: Annotated[
        str,
        typer.Argument(
            help="The report that duplicates another.", autocompletion=complete_open_ticket
        ),
    ],
    master: Annotated[
        str,
        typer.Option(
            "--to",
            help="The master: the report of the same disturbance.",
            autocompletion=complete_open_ticket,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Link a report to the master report of the same disturbance.

    The duplicate follows the master's acknowledgement, estimates and
    resolution, and its reporter gets the same e-mails; the status page shows
    one entry (the master's). Each ticket keeps its own SLA clock and outcome.
    """
    # Bounds and characters of both IDs, checked at the door.
    build_command(lambda: LinkAsDuplicate(master_ticket_id=master))
    build_command(lambda: LinkAsDuplicate(master_ticket_id=ticket_id))

    async def body() -> DuplicateLink:
        try:
            return await link_duplicate(await client(), ticket_id, master)
        except (DuplicateRefused, UpdateNotTaken) as error:
            raise CliError(str(error)) from None

    result = run(body, ticket_id=ticket_id)
    if as_json:
        print_json(result)
        return
    print(
        f"{ticket_id}: follows {master} (status {result.duplicate.status.value}); "
        f"{master} has {len(result.master.duplicates)} duplicate(s)"
    )
