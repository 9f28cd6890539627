"""Determinism guard: recorded histories must replay against the current workflow code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker import WORKFLOWS
from workflows.converter import sla_data_converter
from workflows.sandbox import workflow_runner

HISTORIES = sorted(
    p
    for p in (Path(__file__).parent.parent / "histories").glob("*.json")
    if p.name != "fingerprint.json"
)


def test_every_workflow_has_a_recorded_history() -> None:
    recorded = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert {w.__name__ for w in WORKFLOWS} <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=sla_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)


def test_changed_workflow_code_comes_with_new_histories_or_a_patch() -> None:
    from tests.histories.fingerprint import problems

    assert problems() == []
