"""What `sla doctor` checks: the setup the engine needs, and workflows that do not move.

Each check answers with a :class:`Check` (ok or not, and what to do about it):
Temporal and its search attributes and schedules, the SMTP server the worker
would send through, and the archive's schema.
Stuck workflows are those the server flags after failed workflow tasks
(``TemporalReportedProblems``), with the reason from their last failed task —
e.g. a replay divergence, which the workers' repair pass resets by itself
(``service/repair.py``).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from activities.mail import smtp_mailer_from_env
from archive.config import data_dir
from archive.errors import ArchiveError, ArchiveNotMigrated
from domain.sla import SlaPolicy
from service.archive import open_archive
from service.audit_schedules import DEFAULT_PREFIX, describe_audit_schedules
from service.erasure_schedule import describe_erasure_schedule
from service.repair import stuck_query
from service.visibility import executions
from workflows.names import SEARCH_ATTRIBUTES


@dataclass(frozen=True)
class Check:
    """One finding: ``ok``, what was checked, and what to do when it is not ok."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Stuck:
    """A running workflow whose tasks keep failing, and the last failure's message."""

    workflow_id: str
    workflow_type: str
    reason: str


async def search_attributes(client: Client) -> Check:
    """Every custom search attribute of ``workflows/names.py`` is registered."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    known = set(response.custom_attributes) | set(response.system_attributes)
    missing = sorted(k.name for k in SEARCH_ATTRIBUTES if k.name not in known)
    if missing:
        return Check(
            "search attributes",
            False,
            f"missing {', '.join(missing)}: start a worker (it registers them) or run the "
            "registration job",
        )
    return Check("search attributes", True, f"{len(SEARCH_ATTRIBUTES)} registered")


async def audit_schedules(client: Client) -> Check:
    """The daily and weekly audit schedules exist (and whether one is paused)."""
    statuses = await describe_audit_schedules(client)
    missing = [s.schedule_id for s in statuses if not s.exists]
    if missing:
        return Check(
            "audit schedules",
            False,
            f"missing {', '.join(missing)}: start a worker (it applies them) or `sla schedules "
            "apply`",
        )
    paused = [s.schedule_id for s in statuses if s.paused]
    detail = "daily and weekly applied" + (f"; paused: {', '.join(paused)}" if paused else "")
    return Check("audit schedules", True, detail)


async def erasure_schedule(
    client: Client, policy: SlaPolicy, *, prefix: str = DEFAULT_PREFIX
) -> Check:
    """The automatic erasure's schedule is there exactly when the policy asks for it."""
    status = await describe_erasure_schedule(client, prefix=prefix)
    days = policy.archive.personal_data_days
    if days < 1:
        if status.exists:
            return Check(
                "erasure schedule",
                False,
                f"{status.schedule_id} exists but [archive] personal_data_days is 0: "
                "`sla schedules apply` deletes it",
            )
        return Check("erasure schedule", True, "off ([archive] personal_data_days = 0)")
    if not status.exists:
        return Check(
            "erasure schedule",
            False,
            f"missing {status.schedule_id} ([archive] personal_data_days = {days}): start a "
            "worker (it applies it) or `sla schedules apply`",
        )
    detail = f"{status.when} ({status.timezone}), {days} days after resolution"
    return Check("erasure schedule", True, detail + ("; paused" if status.paused else ""))


SMTP_TIMEOUT = 5.0
"""Seconds to connect and greet the SMTP server: a reachable one answers in well under that."""


def smtp_reachable(env: Mapping[str, str] | None = None, *, timeout: float = SMTP_TIMEOUT) -> Check:
    """The SMTP server of ``SLA_SMTP_*`` answers: connect, TLS if configured, ``EHLO``.

    Without ``SLA_SMTP_HOST`` mails go to the outbox, which needs no check.
    No login is tried and nothing is sent: the check must be harmless to run
    from a monitoring job every few minutes.

    Args:
        env: The environment (default: ``os.environ``).
        timeout: Seconds for the connection and each answer.
    """
    try:
        mailer = smtp_mailer_from_env(env)
    except ValueError as error:  # a malformed port, or a password sent in clear text
        return Check("smtp", False, f"{error}: fix the SLA_SMTP_* settings")
    if mailer is None:
        outbox = data_dir(env) / "outbox"
        return Check("smtp", True, f"not configured (SLA_SMTP_HOST unset): mails go to {outbox}")
    where = f"{mailer.host}:{mailer.port}"
    try:
        server = (
            smtplib.SMTP_SSL(mailer.host, mailer.port, timeout=timeout)
            if mailer.implicit_tls
            else smtplib.SMTP(mailer.host, mailer.port, timeout=timeout)
        )
        with server:
            code, answer = server.ehlo()
            if code != 250:
                text = answer.decode(errors="replace").strip()[:200]
                return Check(
                    "smtp", False, f"{where} refused EHLO ({code} {text}): check the mail server"
                )
            if mailer.uses_starttls and not server.has_extn("starttls"):
                return Check(
                    "smtp",
                    False,
                    f"{where} does not offer STARTTLS, which the settings require (a password "
                    "is set): enable TLS on the server, or use port 465 (implicit TLS)",
                )
    except ssl.SSLError as error:
        return Check(
            "smtp",
            False,
            f"TLS with {where} failed ({error.reason or error}): check SLA_SMTP_PORT (465 is "
            "implicit TLS) and the server's certificate",
        )
    except (OSError, smtplib.SMTPException) as error:
        reason = str(error) or type(error).__name__
        return Check(
            "smtp",
            False,
            f"cannot reach {where} ({reason}): check SLA_SMTP_HOST and SLA_SMTP_PORT, and that "
            "the mail server runs",
        )
    tls = ", TLS" if mailer.implicit_tls else (", STARTTLS offered" if mailer.uses_starttls else "")
    return Check("smtp", True, f"{where} answers EHLO{tls}")


def archive_migrated(env: Mapping[str, str] | None = None) -> Check:
    """The archive's schema is current (``SLA_ARCHIVE_URL``, default the data dir's SQLite file).

    Args:
        env: The environment (default: ``os.environ``).
    """
    try:
        store = open_archive(env, check=False)
    except ArchiveError as error:  # a malformed URL, an unsupported database
        return Check("archive", False, f"{error}: fix SLA_ARCHIVE_URL")
    try:
        revision = store.check_migrated()
    except ArchiveNotMigrated as error:  # the message says what to run
        return Check("archive", False, str(error))
    except ArchiveError as error:
        return Check("archive", False, f"{error}: check SLA_ARCHIVE_URL and that the database runs")
    finally:
        store.close()
    return Check("archive", True, f"{store.where} migrated (revision {revision})")


async def stuck_workflows(client: Client, *, limit: int = 100) -> list[Stuck]:
    """Running workflows the server flags as failing their tasks, with the last reason."""
    found: list[Stuck] = []
    async for execution in executions(client, stuck_query(), limit):
        reason = "workflow tasks keep failing"
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                message = event.workflow_task_failed_event_attributes.failure.message
                reason = message.splitlines()[0][:300] if message else reason
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                reason = "workflow task timed out (no worker answered in time)"
        found.append(Stuck(execution.id, execution.workflow_type, reason))
    return found
