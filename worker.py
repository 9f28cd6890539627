"""The worker: builds adapters from configuration and runs every workflow and activity.

Configuration (DESIGN §4): the Temporal connection from the SDK's env config;
``SLA_POLICY`` (default: the shipped policy) for what the worker starts on its
own — at boot it applies the daily and weekly audit schedules and the nightly
erasure schedule (``[archive] personal_data_days``) with that policy
(idempotent; a paused schedule stays paused), so the ticket monitoring always
runs with the policy the workers run with;
``SLA_DATA_DIR`` (default ``.sla``) for the outbox and the status site;
``SLA_AUTO_REPAIR`` (seconds, default 60, ``off``): how often the worker resets
workflows stuck on a replay divergence (``service/repair.py``);
``SLA_SMTP_HOST`` (with ``SLA_SMTP_PORT``, ``SLA_SMTP_USER``,
``SLA_SMTP_PASSWORD``, ``SLA_SMTP_STARTTLS``) switches e-mail from the outbox to
SMTP; ``SLA_MAIL_FROM`` sets the sender. Metrics, tracing and the log format:
``SLA_METRICS_PORT``, ``SLA_METRICS_HOST``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` and
``SLA_LOG_FORMAT`` (see ``telemetry.py`` and docs/OBSERVABILITY.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.archive import ArchiveActivities, LazyArchive, embedded_store
from activities.audit import AuditActivities
from activities.calendar import CalendarActivities
from activities.change_requests import ChangeRequestActivities
from activities.dev_tickets import DevTicketActivities, SqliteDevTicketTracker
from activities.erasure import ErasureActivities
from activities.mail import Mailer, OutboxMailer, SmtpMailer, smtp_mailer_from_env
from activities.maintenance import MaintenanceActivities
from activities.notifications import NotificationActivities
from activities.oncall import OnCallActivities
from activities.rendering import MessageRenderer
from activities.status_page import StatusPostActivities, StatusSiteActivities
from archive.errors import ArchiveError
from archive.store import ArchiveStore
from domain.sla import SlaPolicy
from service.audit import TemporalAuditReader
from service.audit_schedules import apply_audit_schedules
from service.change_requests import start_for_incident
from service.connect import connect, ensure_search_attributes
from service.erasure_schedule import apply_erasure_schedule
from service.mail_parse import remove_attachments
from service.maintenance import open_overrun_incident
from service.oncall import TemporalOnCallLookups
from service.repair import repair_stuck
from service.status_page import TemporalStatusPoster, ensure_status_page
from telemetry import Telemetry, configure_logging
from workflows.audit import AuditWorkflow
from workflows.change_request import ChangeRequestWorkflow, LinkBugWorkflow
from workflows.dev_ticket import (
    NotifyReportersWorkflow,
    ReadDevTicketsWorkflow,
    TransitionDevTicketWorkflow,
)
from workflows.erasure import PersonalDataErasureWorkflow
from workflows.incident import IncidentWorkflow
from workflows.maintenance import MaintenanceWorkflow
from workflows.names import TASK_QUEUE
from workflows.oncall import OnCallBookingWorkflow
from workflows.sandbox import workflow_runner
from workflows.status_page import StatusPageWorkflow

log = logging.getLogger("sla.worker")

WORKFLOWS: tuple[type, ...] = (
    IncidentWorkflow,
    StatusPageWorkflow,
    ChangeRequestWorkflow,
    LinkBugWorkflow,
    ReadDevTicketsWorkflow,
    TransitionDevTicketWorkflow,
    NotifyReportersWorkflow,
    MaintenanceWorkflow,
    AuditWorkflow,
    OnCallBookingWorkflow,
    PersonalDataErasureWorkflow,
)
SHUTDOWN_GRACE = timedelta(seconds=20)
DEFAULT_SENDER = "myconvento Support <support@myconvento.com>"


@dataclass(frozen=True)
class WorkerSettings:
    """Everything the worker reads from the environment."""

    data_dir: Path
    sender: str
    smtp: SmtpMailer | None
    policy: SlaPolicy = field(default_factory=SlaPolicy.default)
    # Seconds between passes of the automatic repair (service/repair.py); None: off.
    auto_repair_every: float | None = None
    # SLA_ARCHIVE_URL; None: the embedded SQLite file in the data dir (migrated on use).
    archive_url: str | None = None

    @property
    def archive(self) -> str:
        """The archive's SQLAlchemy URL (``SLA_ARCHIVE_URL``, else the data dir's SQLite file)."""
        if self.archive_url:
            return self.archive_url
        return f"sqlite:///{(self.data_dir / 'archive.sqlite3').absolute()}"

    @property
    def outbox_dir(self) -> Path:
        """Where ``.eml`` files go when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def status_dir(self) -> Path:
        """Where the status site is written."""
        return self.data_dir / "status"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read ``SLA_*`` variables (see the module docstring).

        Raises:
            ValueError: ``SLA_SMTP_PORT`` or ``SLA_SMTP_STARTTLS`` is malformed, or the
                SMTP settings would send the password in clear text.
            PolicyError: ``SLA_POLICY`` names a missing or broken policy file.
        """
        env = os.environ if env is None else env
        policy_path = env.get("SLA_POLICY")
        repair_text = env.get("SLA_AUTO_REPAIR", "60").strip().lower()
        if repair_text in ("off", "0", "false", "no"):
            auto_repair_every = None
        else:
            try:
                auto_repair_every = float(repair_text)
            except ValueError:
                raise ValueError(
                    f"SLA_AUTO_REPAIR must be seconds between repair passes or off, "
                    f"got {repair_text!r}"
                ) from None
        return cls(
            data_dir=Path(env.get("SLA_DATA_DIR", ".sla")),
            sender=env.get("SLA_MAIL_FROM", DEFAULT_SENDER),
            # STARTTLS on by default with a password; clear text refused (activities/mail.py).
            smtp=smtp_mailer_from_env(env),
            policy=SlaPolicy.from_file(policy_path) if policy_path else SlaPolicy.default(),
            auto_repair_every=auto_repair_every,
            archive_url=(env.get("SLA_ARCHIVE_URL") or "").strip() or None,
        )

    def mailer(self) -> Mailer:
        """SMTP when configured, else the outbox."""
        return self.smtp if self.smtp is not None else OutboxMailer(self.outbox_dir)


def build_activities(
    client: Client, settings: WorkerSettings, *, mailer: Mailer | None = None
) -> list[Callable[..., Any]]:
    """Wire every activity with its adapters (the only place that does)."""
    notifications = NotificationActivities(
        mailer or settings.mailer(),
        MessageRenderer(),
        settings.sender,
        status_page_url=settings.policy.status_page.url,
    )
    calendar = CalendarActivities()
    site = StatusSiteActivities(
        settings.status_dir,
        settings.policy.status_page.url,
        settings.policy.status_page.show_ticket_ids,
    )
    posts = StatusPostActivities(TemporalStatusPoster(client))
    tracker = SqliteDevTicketTracker.in_data_dir(settings.data_dir)
    change_requests = ChangeRequestActivities(partial(start_for_incident, client))
    maintenance = MaintenanceActivities(partial(open_overrun_incident, client))
    # Opened on first use (the worker checked it at start, check_archive); the feed
    # and the automatic erasure ([archive] personal_data_days) share it.
    store = LazyArchive(
        partial(ArchiveStore.from_url, settings.archive)
        if settings.archive_url
        else partial(embedded_store, settings.archive)
    )
    erasure = ErasureActivities(
        store, remove_attachments=partial(remove_attachments, settings.data_dir)
    )
    audit = AuditActivities(
        # Open incidents the feed has archived are read from there (one read for all).
        TemporalAuditReader(client, archive=store.opened),
        settings.data_dir / "audits",
        tracker=tracker,
    )
    oncall = OnCallActivities(
        settings.data_dir / "billing" / "oncall.csv", TemporalOnCallLookups(client)
    )
    archive = ArchiveActivities(store)
    # Dev tickets have no workflow of their own: the tracker's activities feed
    # the archive after each change, through the feed's group commit.
    dev_tickets = DevTicketActivities(tracker, archive=archive.feed)
    return [
        calendar.compute_incident_clock,
        calendar.compute_next_reminder,
        calendar.add_business_time,
        calendar.compute_outcome,
        calendar.compute_business_opening,
        notifications.send_notification,
        notifications.send_message,
        site.render_status_site,
        posts.post_status,
        posts.post_maintenance,
        dev_tickets.create_dev_ticket,
        dev_tickets.transition_dev_ticket,
        dev_tickets.link_incident,
        dev_tickets.get_dev_ticket,
        dev_tickets.list_dev_tickets,
        change_requests.start_change_request,
        maintenance.open_overrun_incident,
        audit.check_audit_day,
        audit.audit_support_tickets,
        audit.audit_dev_tickets,
        audit.store_audit_report,
        erasure.erase_due,
        oncall.compute_oncall_reminder,
        oncall.sync_incident_windows,
        oncall.record_oncall_billing,
        archive.append,
    ]


def build_worker(
    client: Client,
    settings: WorkerSettings,
    *,
    task_queue: str = TASK_QUEUE,
    mailer: Mailer | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """A worker for every workflow and activity of the engine.

    ``max_cached_workflows=0`` makes every workflow task a full replay, the
    path a worker takes after a crash (the tests run the workflows that way too).
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(client, settings, mailer=mailer),
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        # On SIGTERM (docker stop, rolling upgrades) running activities get
        # this long to finish before they are cancelled and retried elsewhere.
        graceful_shutdown_timeout=SHUTDOWN_GRACE,
    )


async def run(settings: WorkerSettings | None = None, client: Client | None = None) -> None:
    """Connect, register search attributes, and run until SIGINT/SIGTERM.

    Without an injected ``client``, the connection gets the runtime and
    interceptors of :class:`telemetry.Telemetry` (metrics endpoint, tracing).
    """
    settings = settings or WorkerSettings.from_env()
    check_archive(settings)
    telemetry = None
    if client is None:
        telemetry = Telemetry.from_env()
        client = await connect(**telemetry.client_options())
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    await ensure_status_page(client)
    for applied in await apply_audit_schedules(client, settings.policy):
        log.info("audit schedule %s: %s", applied.schedule_id, applied.change.value)
    erasure = await apply_erasure_schedule(client, settings.policy)
    log.info("erasure schedule %s: %s", erasure.schedule_id, erasure.change.value)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    where = settings.smtp.host if settings.smtp else settings.outbox_dir
    log.info(
        "worker on task queue %s; policy %s; mail to %s; status site in %s",
        TASK_QUEUE,
        settings.policy.name,
        where,
        settings.status_dir,
    )
    async with worker:
        repairing = (
            asyncio.create_task(_repair_loop(client, settings.auto_repair_every))
            if settings.auto_repair_every is not None
            else None
        )
        await stop.wait()
        if repairing is not None:
            repairing.cancel()
        log.info("stopping: finishing running activities")
    if telemetry is not None:
        telemetry.shutdown()  # flush spans not yet exported


class ArchiveNotReady(SystemExit):
    """The worker does not start: its archive is unreachable or not migrated (one line)."""


def check_archive(settings: WorkerSettings) -> None:
    """Refuse to start on an archive the feed could not write (DESIGN §5).

    A production database (``SLA_ARCHIVE_URL``) must be at the program's
    schema revision (``sla archive migrate`` is a deployment step); the
    embedded SQLite default is migrated here, as ``sla dev`` needs.

    Raises:
        ArchiveNotReady: With the line to show (exit status 1).
    """
    try:
        if settings.archive_url:
            store = ArchiveStore.from_url(settings.archive)
            try:
                store.check_migrated()
            finally:
                store.close()
        else:
            embedded_store(settings.archive).close()
    except ArchiveError as error:
        log.error("worker not started: %s", error)
        raise ArchiveNotReady(f"worker not started: {error}") from None


async def _repair_loop(client: Client, every: float) -> None:
    """Reset workflows stuck on a replay divergence, at boot and every ``every`` seconds.

    The SDK can record an update's acceptance where a later replay does not
    put it (service/repair.py); such a workflow would wait for a person. Every
    worker runs this pass, so an incident goes on by itself after a crash.
    """
    while True:
        try:
            await repair_stuck(client, WORKFLOWS)
        except Exception as error:  # one failed pass (server restarting) must not stop the worker
            log.warning("automatic repair pass failed, next in %.0f s: %s", every, error)
        await asyncio.sleep(every)


def main(argv: Sequence[str] | None = None) -> None:
    """Script entry: ``python worker.py``."""
    configure_logging()
    asyncio.run(run())


if __name__ == "__main__":
    main()
