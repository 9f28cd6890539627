"""``sla reopen TICKET --reason …``: continue a resolved ticket within the policy's window.

A new run of the ticket's workflow (same ticket ID) starts from its closed
state, read from Temporal or, once Temporal has forgotten it, from the archive;
the new reaction clock runs from the reopen instant and the customer is told
(docs/SLA.md, "Reopen"). Refused with one line for an unknown ticket, one still
open, one outside the window (naming its end), one whose personal data was
erased, and a bad reason. The work is :func:`service.reopen.reopen_incident`'s.
"""

from __future__ import annotations

from typing import Annotated

import typer
from temporalio.service import RPCError

from archive.errors import ArchiveError
from cli.archive import one_line
from cli.common import (
    CliError,
    JsonOption,
    PolicyOption,
    client,
    describe_failure,
    policy_or_fail,
    print_json,
    run,
)
from cli.completion import complete_closed_ticket
from cli.erase import _ticket, operator_name
from cli.terminal import neutralise
from domain.timeline_words import EN, long_time
from service.incident_source import IncidentNotFound
from service.incidents import Targets
from service.reopen import ReopenRefused, ReopenResult, reopen_incident
from workflows import names

REASON_MAX = 500
"""Characters of a reason: what the customer reads as "Grund:" in one line."""

BY_MAX = 200
"""Characters of the ``--by`` name."""


def reopen(
    ticket_id: Annotated[
        str,
        typer.Argument(
            help="Ticket ID of a resolved incident (Tab completes recently resolved ones).",
            autocompletion=complete_closed_ticket,
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help=(
                f"Why it is reopened (one line, at most {REASON_MAX} characters); "
                "told to the customer, e.g. 'Fehler tritt erneut auf'."
            ),
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who reopens, recorded (default: your login name)."),
    ] = None,
    task_queue: Annotated[
        str,
        typer.Option("--task-queue", help="The worker's task queue the new run goes to."),
    ] = names.TASK_QUEUE,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reopen a resolved incident: same ticket, a new reaction clock from now.

    Allowed within ``[reopen] window_business_days`` business days after the
    resolution. The incident is open again under its severity, with reaction
    and resolution deadlines computed from the reopen instant; the earlier
    period's figures stay as they were. The customer is told the reason and
    the new reaction deadline; the team gets a notice.
    """
    ticket = _ticket(ticket_id)
    why = one_line(reason, "--reason", REASON_MAX)
    who = one_line(by, "--by", BY_MAX) if by is not None else operator_name()
    queue = one_line(task_queue, "--task-queue", 200)
    sla_policy = policy_or_fail(policy)

    async def body() -> ReopenResult:
        try:
            return await reopen_incident(
                await client(),
                ticket,
                reason=why,
                by=who,
                policy=sla_policy,
                targets=Targets(task_queue=queue),
            )
        except (ReopenRefused, IncidentNotFound) as error:
            raise CliError(str(error)) from None
        except ArchiveError as error:
            raise CliError(f"{ticket}: the archive could not be read: {error}") from None
        except RPCError as error:
            raise CliError(describe_failure(error, ticket)) from None

    result = run(body, ticket_id=ticket)
    if as_json:
        print_json(result)
        return
    zone = sla_policy.calendar.zone
    head = f"{result.ticket_id}: reopened (period {result.period}, from the {result.source.value})"
    if result.reaction_due is None:
        print(f"{head}; the worker has not reported the new deadlines yet: see `sla show`")
        return
    print(f"{head}, reaction due {long_time(result.reaction_due, EN, zone)}; by {neutralise(who)}")
