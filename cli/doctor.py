"""``sla doctor``: is the setup complete, and does every workflow move?

Checks that Temporal answers, that the search attributes are registered, that
the audit schedules exist, that the SMTP server answers (when ``SLA_SMTP_HOST``
is set) and that the archive's schema is migrated, and lists workflows whose
tasks keep failing, with the reason. Exit code 1 when a check fails or a
workflow is stuck, so it can run in a monitoring job.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from rich.console import Console

from cli.common import JsonOption, PolicyOption, client, policy_or_fail, print_json, run
from cli.terminal import safe
from service.doctor import (
    Check,
    Stuck,
    archive_migrated,
    audit_schedules,
    erasure_schedule,
    search_attributes,
    smtp_reachable,
    stuck_workflows,
)


def doctor(policy: PolicyOption = None, as_json: JsonOption = False) -> None:
    """Check the setup (Temporal, search attributes, schedules, SMTP, archive); list stuck ones."""
    sla_policy = policy_or_fail(policy)

    async def body() -> tuple[list[Check], list[Stuck]]:
        c = await client()  # a refusal here is the first finding: Temporal is not reachable
        checks = [
            Check("temporal", True, f"namespace {c.namespace} answers"),
            await search_attributes(c),
            await audit_schedules(c),
            await erasure_schedule(c, sla_policy),
            # Blocking clients (smtplib, SQLAlchemy): off the event loop.
            await asyncio.to_thread(smtp_reachable),
            await asyncio.to_thread(archive_migrated),
        ]
        return checks, await stuck_workflows(c)

    checks, stuck = run(body)
    healthy = all(c.ok for c in checks) and not stuck
    if as_json:
        report: dict[str, Any] = {
            "ok": healthy,
            "checks": [asdict(c) for c in checks],
            "stuck": [asdict(s) for s in stuck],
        }
        print_json(report)
    else:
        console = Console(highlight=False, soft_wrap=True)
        for check in checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {safe(check.detail)}")
        if stuck:
            console.print(
                f"[red]FAIL[/red] stuck workflows: {len(stuck)} (workers reset replay "
                "divergences by themselves within a minute; others: `sla repair ID`)"
            )
            for s in stuck:
                console.print(f"     {safe(s.workflow_id)} ({s.workflow_type}): {safe(s.reason)}")
        else:
            console.print("[green]ok[/green]   stuck workflows: none")
    if not healthy:
        raise SystemExit(1)
