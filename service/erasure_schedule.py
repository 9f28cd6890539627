"""The Temporal Schedule of the automatic erasure of personal data (``personal_data_days``).

Every night at 03:30 in the policy's time zone (Europe/Berlin) the schedule
starts :class:`~workflows.erasure.PersonalDataErasureWorkflow`, which erases
the personal data of the archived streams resolved more than
``personal_data_days`` calendar days before. 03:30, not 02:30: the spring DST
switch skips 02:00–03:00 and the autumn one repeats it; 03:30 happens exactly
once every night.

:func:`apply_erasure_schedule` works like
:func:`service.audit_schedules.apply_audit_schedules` (the worker at start,
``sla schedules apply`` and so ``sla dev`` call both): create what is missing,
update what differs, keep a pause, never duplicate. With
``personal_data_days = 0`` (or no ``[archive]`` section) the schedule is
deleted: the policy no longer wants automatic erasure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.sla import SlaPolicy
from service.audit_schedules import DEFAULT_PREFIX, describe_calendar, upsert_schedule
from workflows.erasure import ErasureInput, PersonalDataErasureWorkflow
from workflows.names import TASK_QUEUE

ERASURE_AT = (3, 30)
"""Hour and minute of the nightly run, policy time zone."""

ERASURE_LIMIT = 500
"""Streams one run erases at most; a backlog (a policy just shortened) drains over nights."""

# A run that is not done by the morning gives way to the next night's.
_RUN_TIMEOUT = timedelta(hours=12)
# After a Temporal outage a missed night is still worth running the same day;
# older ones are not (the next run takes everything due anyway).
_CATCHUP = timedelta(hours=12)


class ErasureScheduleChange(StrEnum):
    """What :func:`apply_erasure_schedule` did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    """``personal_data_days`` is 0 and the schedule existed."""
    OFF = "off"
    """``personal_data_days`` is 0 and there is no schedule."""


class AppliedErasureSchedule(BaseModel):
    """The erasure schedule after :func:`apply_erasure_schedule`."""

    model_config = ConfigDict(frozen=True)

    schedule_id: str
    kind: Literal["erasure"] = "erasure"
    personal_data_days: int
    change: ErasureScheduleChange


class ErasureScheduleStatus(BaseModel):
    """The erasure schedule as the server describes it (``sla schedules list``).

    Attributes:
        schedule_id: The schedule ID.
        kind: ``erasure`` (beside the audits' ``daily`` and ``weekly``).
        exists: Whether the server has it.
        when: The calendar spec in words, e.g. ``Sun–Sat 03:30``.
        timezone: The spec's time zone.
        paused: Whether it is paused.
        next_runs: The next start times (UTC instants).
        last_run: When it last started a run.
    """

    model_config = ConfigDict(frozen=True)

    schedule_id: str
    kind: Literal["erasure"] = "erasure"
    exists: bool
    when: str | None = None
    timezone: str | None = None
    paused: bool = False
    next_runs: tuple[datetime, ...] = ()
    last_run: datetime | None = None


def erasure_schedule_id(prefix: str = DEFAULT_PREFIX) -> str:
    """The erasure schedule's ID (``sla-personal-data-erasure``)."""
    return f"{prefix}personal-data-erasure"


def erasure_schedule(
    policy: SlaPolicy,
    *,
    prefix: str = DEFAULT_PREFIX,
    task_queue: str = TASK_QUEUE,
    limit: int = ERASURE_LIMIT,
) -> Schedule:
    """The nightly schedule for ``policy``'s ``personal_data_days`` (which must be at least 1).

    Args:
        policy: Its ``[archive] personal_data_days`` and time zone.
        prefix: Schedule ID prefix; the started workflows' IDs derive from it.
        task_queue: Where the runs go (a worker with archive access).
        limit: Streams per run.

    Raises:
        ValueError: ``personal_data_days`` is 0 (no automatic erasure).
    """
    days = policy.archive.personal_data_days
    if days < 1:
        raise ValueError("personal_data_days is 0: there is no automatic erasure to schedule")
    hour, minute = ERASURE_AT
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PersonalDataErasureWorkflow.run,
            ErasureInput(personal_data_days=days, limit=limit),
            # The server appends the scheduled time: one workflow ID per night.
            id=erasure_schedule_id(prefix),
            task_queue=task_queue,
            execution_timeout=_RUN_TIMEOUT,
            static_summary=f"erase personal data {days} days after resolution",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=(ScheduleRange(0),),
                    minute=(ScheduleRange(minute),),
                    hour=(ScheduleRange(hour),),
                    day_of_week=(ScheduleRange(0, 6),),
                    comment="personal data erasure",
                )
            ],
            time_zone_name=policy.calendar_spec.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=_CATCHUP),
        state=ScheduleState(
            note=f"GDPR: erase personal data {days} days after resolution (sla schedules apply)"
        ),
    )


async def apply_erasure_schedule(
    client: Client,
    policy: SlaPolicy,
    *,
    prefix: str = DEFAULT_PREFIX,
    task_queue: str = TASK_QUEUE,
    limit: int = ERASURE_LIMIT,
) -> AppliedErasureSchedule:
    """Create the erasure schedule, update it where it differs, or delete it when turned off.

    Args:
        client: The namespace to schedule in.
        policy: Its ``[archive] personal_data_days`` (0: no schedule) and time zone.
        prefix: Schedule ID prefix.
        task_queue: Where the runs go.
        limit: Streams per run.
    """
    sid = erasure_schedule_id(prefix)
    days = policy.archive.personal_data_days
    handle = client.get_schedule_handle(sid)
    if days < 1:
        try:
            await handle.delete()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return AppliedErasureSchedule(
                schedule_id=sid, personal_data_days=0, change=ErasureScheduleChange.OFF
            )
        return AppliedErasureSchedule(
            schedule_id=sid, personal_data_days=0, change=ErasureScheduleChange.DELETED
        )
    wanted = erasure_schedule(policy, prefix=prefix, task_queue=task_queue, limit=limit)
    change = await upsert_schedule(client, sid, wanted, ErasureInput)
    return AppliedErasureSchedule(
        schedule_id=sid, personal_data_days=days, change=ErasureScheduleChange(change.value)
    )


async def describe_erasure_schedule(
    client: Client, *, prefix: str = DEFAULT_PREFIX
) -> ErasureScheduleStatus:
    """The erasure schedule as the server has it (``exists=False`` when missing)."""
    sid = erasure_schedule_id(prefix)
    try:
        description = await client.get_schedule_handle(sid).describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return ErasureScheduleStatus(schedule_id=sid, exists=False)
    schedule, info = description.schedule, description.info
    return ErasureScheduleStatus(
        schedule_id=sid,
        exists=True,
        when=describe_calendar(schedule.spec),
        timezone=schedule.spec.time_zone_name,
        paused=schedule.state.paused,
        next_runs=tuple(info.next_action_times),
        last_run=info.recent_actions[-1].started_at if info.recent_actions else None,
    )


async def delete_erasure_schedule(client: Client, *, prefix: str = DEFAULT_PREFIX) -> bool:
    """Delete the erasure schedule; whether it existed (a running erasure finishes)."""
    try:
        await client.get_schedule_handle(erasure_schedule_id(prefix)).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True
