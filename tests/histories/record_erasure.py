"""Record the automatic erasure's history for the replay tests (``make histories``).

``python -m tests.histories.record_erasure``, next to ``record.py``: one run of
:class:`~workflows.erasure.PersonalDataErasureWorkflow` over an embedded
archive with one stream due and one not, at a fixed instant (so re-recording
gives comparable histories). Run it after a deliberate change of the workflow
and commit the JSON file.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle

from archive.store import ArchiveStore
from tests.archive.streams import synthetic_batch
from tests.conftest import Stack, make_stack, start_time_skipping
from tests.histories.saving import save_history
from workflows.erasure import ErasureInput, PersonalDataErasureWorkflow

BERLIN = ZoneInfo("Europe/Berlin")
Scenario = Callable[[Stack], Awaitable[WorkflowHandle[Any, Any]]]

AT = datetime(2028, 12, 2, 3, 30, tzinfo=BERLIN)
DAYS = 730


async def erasure_run(stack: Stack) -> WorkflowHandle[Any, Any]:
    """A nightly run: one stream resolved over two years ago is erased, a newer one is kept."""
    store = ArchiveStore.from_url(f"sqlite:///{(stack.data_dir / 'archive.sqlite3').absolute()}")
    try:
        store.migrate()
        for stream_id, resolved_at in (
            ("INC-20261124-7QK2AB", AT - timedelta(days=DAYS + 8)),
            ("INC-20271124-NEWER0", AT - timedelta(days=DAYS - 365)),
        ):
            store.append(
                synthetic_batch(
                    stream_id,
                    status="resolved",
                    opened_at=resolved_at - timedelta(hours=4),
                    resolved_at=resolved_at,
                )
            )
    finally:
        store.close()
    handle = await stack.client.start_workflow(
        PersonalDataErasureWorkflow.run,
        ErasureInput(personal_data_days=DAYS, at=AT),
        id="sla-personal-data-erasure-recorded",
        task_queue=stack.task_queue,
    )
    await handle.result()
    return handle


SCENARIOS: dict[str, Scenario] = {"erasure_run": erasure_run}


async def record() -> None:
    """Run every scenario and write ``<scenario>-personal_data_erasure.json`` histories."""
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as data_dir:
                stack = make_stack(env.client, env, Path(data_dir))
                async with stack.worker:
                    handle = await scenario(stack)
                    await save_history(handle, name, "personal_data_erasure")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
