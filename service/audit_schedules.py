"""The Temporal Schedules of the ticket monitoring: build, apply idempotently, describe, delete.

Two schedules start :class:`~workflows.audit.AuditWorkflow`: the daily audit of
support tickets (Mon–Fri 08:15) and the weekly audit of development tickets
(Mon 08:30), in the policy's time zone (Europe/Berlin) so that DST does not move
them. Times come from :data:`domain.audit.AUDIT_TIMINGS`.

:func:`apply_audit_schedules` creates what is missing and updates what differs,
never duplicating: a schedule ID is unique in a namespace, so creating first and
falling back to an update on "already exists" is safe even when two operators
run it at once. An update keeps the schedule's state (paused, note), so applying
again never resumes a schedule someone paused on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.audit import AUDIT_TIMINGS, AuditKind, AuditTiming
from domain.calendar import WEEKDAYS, Weekday, parse_clock
from domain.sla import SlaPolicy
from workflows.audit import AuditInput, AuditWorkflow
from workflows.names import TASK_QUEUE

DEFAULT_PREFIX = "sla-"
"""Schedule IDs are ``<prefix>audit-daily`` and ``<prefix>audit-weekly``."""

# A run that cannot finish within this time (e-mail down all day) gives way to
# the next one instead of blocking it (the overlap policy skips while one runs).
_RUN_TIMEOUT = timedelta(hours=12)
# After an outage of the Temporal server, a missed run is still worth doing the
# same working day; older ones are not (the next run covers them).
_CATCHUP = timedelta(hours=8)


class ScheduleChange(StrEnum):
    """What :func:`apply_audit_schedules` did to one schedule."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class AppliedSchedule(BaseModel):
    """One schedule after :func:`apply_audit_schedules`."""

    model_config = ConfigDict(frozen=True)

    schedule_id: str
    kind: AuditKind
    change: ScheduleChange


class ScheduleStatus(BaseModel):
    """One audit schedule as the server describes it (``sla schedules list``).

    Attributes:
        schedule_id: The schedule ID.
        kind: Which audit it starts.
        exists: Whether the server has it.
        when: The calendar spec in words, e.g. ``Mon–Fri 08:15``.
        timezone: The spec's time zone.
        paused: Whether it is paused.
        note: The schedule's note.
        next_runs: The next start times (UTC instants).
        last_run: When it last started an audit.
        last_workflow_id: The workflow ID of that audit.
    """

    model_config = ConfigDict(frozen=True)

    schedule_id: str
    kind: AuditKind
    exists: bool
    when: str | None = None
    timezone: str | None = None
    paused: bool = False
    note: str | None = None
    next_runs: tuple[datetime, ...] = ()
    last_run: datetime | None = None
    last_workflow_id: str | None = None


def schedule_id(kind: AuditKind, prefix: str = DEFAULT_PREFIX) -> str:
    """The schedule ID of ``kind``'s audit."""
    return f"{prefix}audit-{kind.value}"


def _weekday_number(day: Weekday) -> int:
    # Temporal counts 0 = Sunday … 6 = Saturday; WEEKDAYS starts on Monday.
    return (WEEKDAYS.index(day) + 1) % 7


def _day_ranges(days: Sequence[Weekday]) -> tuple[ScheduleRange, ...]:
    """Consecutive weekdays as ranges (``mon``–``fri`` → ``1-5``)."""
    numbers = sorted(_weekday_number(d) for d in days)
    ranges: list[ScheduleRange] = []
    for n in numbers:
        if ranges and ranges[-1].end == n - 1:
            ranges[-1] = ScheduleRange(ranges[-1].start, n)
        else:
            ranges.append(ScheduleRange(n))
    return tuple(ranges)


def calendar_spec(kind: AuditKind, timing: AuditTiming) -> ScheduleCalendarSpec:
    """The calendar entry for ``timing`` (seconds 0; every day of month and month)."""
    seconds = parse_clock(timing.at)
    return ScheduleCalendarSpec(
        second=(ScheduleRange(0),),
        minute=(ScheduleRange(seconds % 3600 // 60),),
        hour=(ScheduleRange(seconds // 3600),),
        day_of_week=_day_ranges(timing.weekdays),
        comment=f"{kind.value} audit",
    )


def audit_schedule(
    kind: AuditKind,
    policy: SlaPolicy,
    *,
    prefix: str = DEFAULT_PREFIX,
    task_queue: str = TASK_QUEUE,
    audit_task_queue: str | None = None,
) -> Schedule:
    """The schedule that starts ``kind``'s audit.

    Args:
        kind: Daily or weekly.
        policy: The snapshot every run audits with; its zone is the schedule's.
        prefix: Schedule ID prefix; the started workflows' IDs derive from it.
        task_queue: Where the audits run.
        audit_task_queue: Only audit workflows on this task queue (tests).
    """
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AuditWorkflow.run,
            AuditInput(kind=kind, policy=policy, task_queue=audit_task_queue),
            # The server appends the scheduled time: one workflow ID per run.
            id=schedule_id(kind, prefix),
            task_queue=task_queue,
            execution_timeout=_RUN_TIMEOUT,
            static_summary=f"{kind.value} ticket audit",
        ),
        spec=ScheduleSpec(
            calendars=[calendar_spec(kind, AUDIT_TIMINGS[kind])],
            time_zone_name=policy.calendar_spec.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=_CATCHUP),
        state=ScheduleState(
            note=f"SLA ticket monitoring: {kind.value} audit (sla schedules apply)"
        ),
    )


# -- comparing -----------------------------------------------------------------------


def _ranges_key(ranges: Sequence[ScheduleRange]) -> tuple[tuple[int, int, int], ...]:
    # The server may store "end" and "step" as 0 for their defaults.
    return tuple((r.start, max(r.end, r.start), r.step or 1) for r in ranges)


def _calendar_key(c: ScheduleCalendarSpec) -> tuple[Any, ...]:
    return (
        _ranges_key(c.second),
        _ranges_key(c.minute),
        _ranges_key(c.hour),
        _ranges_key(c.day_of_month),
        _ranges_key(c.month),
        _ranges_key(c.year),
        _ranges_key(c.day_of_week),
        c.comment or None,
    )


def _spec_key(spec: ScheduleSpec) -> tuple[Any, ...]:
    return (
        tuple(_calendar_key(c) for c in spec.calendars),
        tuple((i.every, i.offset or timedelta(0)) for i in spec.intervals),
        tuple(spec.cron_expressions),
        tuple(_calendar_key(c) for c in spec.skip),
        spec.start_at,
        spec.end_at,
        spec.jitter or timedelta(0),
        spec.time_zone_name or None,
    )


async def schedule_matches(
    client: Client, current: Schedule, wanted: Schedule, arg_type: type[BaseModel]
) -> bool:
    """Whether ``current`` (as described) already does what ``wanted`` says.

    Args:
        client: Its data converter decodes the described schedule's argument.
        current: The schedule as the server describes it.
        wanted: The schedule as built now.
        arg_type: The model of the started workflow's one argument.
    """
    have, want = current.action, wanted.action
    if not (
        isinstance(have, ScheduleActionStartWorkflow)
        and isinstance(want, ScheduleActionStartWorkflow)
    ):
        return False
    if (have.workflow, have.id, have.task_queue, have.execution_timeout) != (
        want.workflow,
        want.id,
        want.task_queue,
        want.execution_timeout,
    ):
        return False
    if _spec_key(current.spec) != _spec_key(wanted.spec):
        return False
    if (current.policy.overlap, current.policy.catchup_window) != (
        wanted.policy.overlap,
        wanted.policy.catchup_window,
    ):
        return False
    # Compared decoded: encrypted payloads (SLA_CODEC_KEYS) differ on every encoding.
    try:
        (args,) = await client.data_converter.decode(list(have.args), [arg_type])
    except Exception:
        return False  # not our input any more (e.g. an older shape): replace it
    return bool(args == want.args[0])


# -- operations ----------------------------------------------------------------------


async def upsert_schedule(
    client: Client, sid: str, wanted: Schedule, arg_type: type[Any]
) -> ScheduleChange:
    """Create schedule ``sid`` as ``wanted``, or update it where it differs.

    The state (paused, note) of an existing schedule stays: applying again
    never resumes a schedule an operator paused.

    Args:
        client: The namespace to schedule in.
        sid: The schedule ID.
        wanted: The schedule as it should be.
        arg_type: The started workflow's input type (to compare the arguments).
    """
    try:
        await client.create_schedule(sid, wanted)
        return ScheduleChange.CREATED
    except ScheduleAlreadyRunningError:
        pass
    changed = False

    async def updater(update: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        current = update.description.schedule
        if await schedule_matches(client, current, wanted, arg_type):
            return None
        changed = True
        return ScheduleUpdate(
            schedule=Schedule(
                action=wanted.action, spec=wanted.spec, policy=wanted.policy, state=current.state
            )
        )

    await client.get_schedule_handle(sid).update(updater)
    return ScheduleChange.UPDATED if changed else ScheduleChange.UNCHANGED


async def apply_audit_schedules(
    client: Client,
    policy: SlaPolicy,
    *,
    prefix: str = DEFAULT_PREFIX,
    task_queue: str = TASK_QUEUE,
    audit_task_queue: str | None = None,
) -> list[AppliedSchedule]:
    """Create the daily and weekly audit schedules, or update them where they differ.

    Args:
        client: The namespace to schedule in.
        policy: The policy snapshot the audits run with.
        prefix: Schedule ID prefix.
        task_queue: Where the audits run.
        audit_task_queue: Only audit workflows on this task queue (tests).

    Returns:
        What happened to each schedule, daily first.
    """
    applied: list[AppliedSchedule] = []
    for kind in AuditKind:
        sid = schedule_id(kind, prefix)
        wanted = audit_schedule(
            kind,
            policy,
            prefix=prefix,
            task_queue=task_queue,
            audit_task_queue=audit_task_queue,
        )
        change = await upsert_schedule(client, sid, wanted, AuditInput)
        applied.append(AppliedSchedule(schedule_id=sid, kind=kind, change=change))
    return applied


def _describe_days(ranges: Sequence[ScheduleRange]) -> str:
    names = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
    parts = []
    for start, end, step in _ranges_key(ranges):
        if start == end:
            parts.append(names[start % 7])
        elif step == 1:
            parts.append(f"{names[start % 7]}–{names[end % 7]}")
        else:
            parts.append(",".join(names[d % 7] for d in range(start, end + 1, step)))
    return ", ".join(parts)


def describe_calendar(spec: ScheduleSpec) -> str:
    """The spec's calendars in words, e.g. ``Mon–Fri 08:15``."""
    texts = []
    for c in spec.calendars:
        hours = [h for s, e, st in _ranges_key(c.hour) for h in range(s, e + 1, st)]
        minutes = [m for s, e, st in _ranges_key(c.minute) for m in range(s, e + 1, st)]
        times = ", ".join(f"{h:02d}:{m:02d}" for h in hours for m in minutes)
        texts.append(f"{_describe_days(c.day_of_week)} {times}")
    texts.extend(spec.cron_expressions)
    return "; ".join(texts) or "–"


def _status(kind: AuditKind, description: ScheduleDescription) -> ScheduleStatus:
    schedule = description.schedule
    info = description.info
    last = info.recent_actions[-1] if info.recent_actions else None
    last_id = getattr(last.action, "workflow_id", None) if last else None
    return ScheduleStatus(
        schedule_id=description.id,
        kind=kind,
        exists=True,
        when=describe_calendar(schedule.spec),
        timezone=schedule.spec.time_zone_name,
        paused=schedule.state.paused,
        note=schedule.state.note,
        next_runs=tuple(info.next_action_times),
        last_run=last.started_at if last else None,
        last_workflow_id=last_id,
    )


async def describe_audit_schedules(
    client: Client, *, prefix: str = DEFAULT_PREFIX
) -> list[ScheduleStatus]:
    """Both audit schedules as the server has them (``exists=False`` when missing)."""
    statuses = []
    for kind in AuditKind:
        sid = schedule_id(kind, prefix)
        try:
            description = await client.get_schedule_handle(sid).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            statuses.append(ScheduleStatus(schedule_id=sid, kind=kind, exists=False))
            continue
        statuses.append(_status(kind, description))
    return statuses


async def delete_audit_schedules(
    client: Client, *, prefix: str = DEFAULT_PREFIX
) -> dict[str, bool]:
    """Delete both audit schedules; schedule ID → whether it existed.

    Audits already started keep running; only future runs are gone.
    """
    deleted: dict[str, bool] = {}
    for kind in AuditKind:
        sid = schedule_id(kind, prefix)
        try:
            await client.get_schedule_handle(sid).delete()
            deleted[sid] = True
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            deleted[sid] = False
    return deleted
