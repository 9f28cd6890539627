"""``sla repair TICKET``: recover an incident whose workflow task fails on a replay divergence.

After a worker crash the SDK can rebuild a workflow for a query in a way that a
later replay does not repeat (docs/RELIABILITY.md, "Nondeterminism after a
worker kill"). The incident's workflow task then fails on every retry with a
``[TMPRL1100] Nondeterminism error`` naming the first history event that no
longer matches. Nothing is lost, but the incident stops moving.

The repair resets the workflow to the start of the workflow task that recorded
that event: the history before it replays cleanly, that task runs again with
the current code, and the signals and updates that arrived after it are
re-applied by Temporal. E-mails that were already sent keep their Message-IDs,
so a receiver deduplicates any that are sent again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import CliError, JsonOption, client, print_json, run
from cli.completion import complete_open_ticket
from service.repair import Repaired
from service.repair import repair as service_repair
from worker import WORKFLOWS


def repair(
    ticket_id: Annotated[
        str,
        typer.Argument(help="The stuck incident's ticket ID.", autocompletion=complete_open_ticket),
    ],
    as_json: JsonOption = False,
) -> None:
    """Reset an incident stuck on a replay divergence (after a worker crash) and let it go on."""

    async def body() -> Repaired:
        repaired = await service_repair(
            await client(), ticket_id, reason="sla repair", workflows=WORKFLOWS
        )
        if repaired is None:
            raise CliError(f"{ticket_id} is not stuck on a replay divergence; nothing to repair")
        return repaired

    repaired = run(body, ticket_id=ticket_id)
    point, run_id = repaired.reset_to_event, repaired.run_id
    if as_json:
        print_json({"ticket_id": ticket_id, "reset_to_event": point, "run_id": run_id})
    else:
        print(f"{ticket_id}: reset to event {point}; it continues as run {run_id}")
