"""Finding where a stuck history diverges, by replaying it with the current code.

The three histories are real: kept from ``make chaos`` runs, each stuck on the
SDK's update/timer ordering (docs/RELIABILITY.md). Replaying them fails every
time, so they reproduce the divergence deterministically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from service.repair import first_divergence, reset_point
from worker import WORKFLOWS

DATA = Path(__file__).parent.parent / "cli" / "data"
HISTORIES = Path(__file__).parent.parent / "histories"


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))


@pytest.fixture(autouse=True)
def quiet_replays() -> Iterator[None]:
    # Each failing prefix replay logs its activation failure; expected here.
    logging.disable(logging.ERROR)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize(
    ("name", "task"),
    [
        # A timer fired and an update arrived while no worker ran; the task
        # recorded the timer's search attributes before the update's acceptance.
        ("diverged-incident.json", 26),
        ("chaos-update-after-timer.json", 24),
        # An update admitted with the very first task: the divergence lies in
        # that task, although the live worker failed only three tasks later
        # (it kept the workflow cached), and the failure names no event.
        ("chaos-update-in-first-task.json", 3),
    ],
)
async def test_the_first_diverging_task_is_found_by_replaying(name: str, task: int) -> None:
    stuck = history(DATA / name)
    assert await first_divergence(stuck, WORKFLOWS) == task


async def test_the_failure_message_alone_misses_a_divergence_before_the_failed_task() -> None:
    stuck = history(DATA / "chaos-update-in-first-task.json")
    # No event named: the message-based point falls back to the first task,
    # which here is right; the replay proves it instead of guessing.
    assert reset_point(stuck) == 3
    assert reset_point(history(DATA / "chaos-update-after-timer.json")) == 24


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(HISTORIES.glob("*incident.json"))],
    ids=lambda p: p.stem,
)
async def test_a_history_that_replays_has_no_divergence(path: Path) -> None:
    assert await first_divergence(history(path), WORKFLOWS) is None


def test_the_production_server_flags_stuck_workflows_like_the_dev_server() -> None:
    import yaml

    from service.connect import REPORTED_PROBLEMS_AFTER

    config = yaml.safe_load(
        (
            Path(__file__).parents[2] / "deploy/temporal/dynamicconfig/production-sql.yaml"
        ).read_text()
    )
    key = "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute"
    assert config[key] == [{"value": REPORTED_PROBLEMS_AFTER, "constraints": {}}]
