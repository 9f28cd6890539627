"""``sla mail-intake``: the support mailbox (IMAP) into incidents, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import JsonOption, PolicyOption, client, fail, policy_or_fail, print_json, run
from domain.sla import SlaPolicy
from service.mail_sink import TemporalIntakeSink
from service.mailbox import ImapSettings, IntakeRound, MailIntake


def our_domains(policy: SlaPolicy) -> frozenset[str]:
    """The domains our own mail comes from: the contacts' (Message-IDs use a subdomain)."""
    contacts = policy.contacts
    addresses = (contacts.support_lead, contacts.on_duty, contacts.experts, contacts.management)
    return frozenset(a.rsplit("@", 1)[1].lower() for a in addresses)


def mail_intake(
    once: Annotated[
        bool, typer.Option("--once", help="One round (fetch, open, flag), then exit.")
    ] = False,
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read the support mailbox: new mails open tickets, replies join theirs.

    IMAP settings from ``SLA_IMAP_HOST``, ``SLA_IMAP_PORT``, ``SLA_IMAP_USER``,
    ``SLA_IMAP_PASSWORD``, ``SLA_IMAP_MAILBOX`` (INBOX) and ``SLA_IMAP_TLS``
    (on); attachments are saved under ``$SLA_DATA_DIR/attachments/<ticket>/``.
    Uses IMAP IDLE where the server has it, else polls.
    """
    sla_policy = policy_or_fail(policy)
    try:
        settings = ImapSettings.from_env(os.environ)
    except ValueError as error:
        fail(str(error))
    data_dir = Path(os.environ.get("SLA_DATA_DIR", ".sla"))

    async def body() -> IntakeRound | None:
        sink = TemporalIntakeSink(await client(), sla_policy)
        intake = MailIntake(
            settings,
            sink,
            data_dir=data_dir,
            our_domains=our_domains(sla_policy),
            max_attachment_bytes=sla_policy.intake.max_attachment_bytes,
            max_attachments=max(1, sla_policy.intake.max_attachments),
        )
        async with intake:
            if once:
                return await intake.run_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, stop.set)
            print(f"reading {settings.mailbox} on {settings.host} (Ctrl-C stops)", file=sys.stderr)
            await intake.run_forever(stop)
            return None

    # A refused configuration (InsecureImapConfigError) ends as one line, like every failure.
    result = run(body)
    if result is None:
        return
    if as_json:
        print_json(
            {
                "opened": result.opened,
                "replies": result.replies,
                "ignored": result.ignored,
                "refused": result.refused,
                "deferred": result.deferred,
                "tickets": list(result.tickets),
            }
        )
    else:
        print(
            f"opened {result.opened}, replies {result.replies}, ignored {result.ignored}, "
            f"refused {result.refused}, deferred {result.deferred}"
        )
