"""``PersonalDataErasureWorkflow``: one run of the automatic erasure of personal data (GDPR).

Started every night by the Temporal Schedule of
:mod:`service.erasure_schedule` when the policy sets ``[archive]
personal_data_days``. Orchestration only: one activity, called by name
(:data:`domain.archive.ERASE_DUE_ACTIVITY`) so that this module never imports
the archive, erases the personal data of the streams resolved that many days
before the run's instant, at most ``limit`` of them (the next night continues).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import workflow

from workflows.options import RETRY

with workflow.unsafe.imports_passed_through():
    from domain.archive import (
        ERASE_DUE_ACTIVITY,
        ERASURE_BATCH_MAX,
        DueErasure,
        DueErasureResult,
    )
    from domain.sla import PERSONAL_DATA_DAYS_MAX

ERASURE_RUN_TIMEOUT = timedelta(hours=1)
"""Start-to-close of one attempt: a batch of erasures, each a transaction of its own."""

ERASURE_GIVE_UP = timedelta(hours=20)
"""All attempts of one run together: an archive down all day gives up before the next
night's run (the schedule skips overlaps), which erases what is due then."""

ERASURE_HEARTBEAT = timedelta(minutes=2)
"""The activity heartbeats after every erased stream; silence this long means a lost worker."""


class ErasureInput(BaseModel):
    """Start input of :class:`PersonalDataErasureWorkflow` (the schedule's argument).

    Attributes:
        personal_data_days: The policy's ``[archive] personal_data_days`` (1 or more:
            with 0 there is no schedule).
        limit: At most this many streams per run.
        at: The run's instant; ``None`` means when the workflow starts. Set it
            to erase "as of" another time (tests).
    """

    model_config = ConfigDict(frozen=True)

    personal_data_days: int = Field(ge=1, le=PERSONAL_DATA_DAYS_MAX)
    limit: int = Field(default=500, ge=1, le=ERASURE_BATCH_MAX)
    at: AwareDatetime | None = None


@workflow.defn
class PersonalDataErasureWorkflow:
    """One automatic erasure run; its workflow ID is recorded as who erased."""

    @workflow.run
    async def run(self, input: ErasureInput) -> DueErasureResult:
        """Erase what is due; returns the streams erased and whether more are due."""
        now: datetime = input.at or workflow.now()
        result: DueErasureResult = await workflow.execute_activity(
            ERASE_DUE_ACTIVITY,
            DueErasure(now=now, personal_data_days=input.personal_data_days, limit=input.limit),
            result_type=DueErasureResult,
            start_to_close_timeout=ERASURE_RUN_TIMEOUT,
            schedule_to_close_timeout=ERASURE_GIVE_UP,
            heartbeat_timeout=ERASURE_HEARTBEAT,
            retry_policy=RETRY,
            summary=f"erase personal data resolved over {input.personal_data_days} days ago",
        )
        workflow.logger.info(
            "automatic erasure: %d streams erased%s",
            len(result.erased),
            "; more are due (next run)" if result.more else "",
        )
        return result
