"""``sla repair``: finds where a diverged incident must be reset, and refuses healthy ones."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory

from service.repair import reset_point
from tests.cli.conftest import CliStack
from tests.cli.test_cli import new_ticket, refused, sla
from tests.workflows.waiting import settled

DATA = Path(__file__).parent / "data"
HISTORIES = Path(__file__).parents[1] / "histories"


def test_reset_point_is_the_start_of_the_task_that_recorded_the_diverging_event() -> None:
    # A real history from `make chaos` (fictional report data): the task
    # started at event 26 recorded event 28, which replay no longer matched.
    history = WorkflowHistory.from_json(
        "INC-20261125-7MVDPF", (DATA / "diverged-incident.json").read_text("utf-8")
    )
    assert reset_point(history) == 26


def test_a_history_without_a_divergence_has_no_reset_point() -> None:
    path = HISTORIES / "pre_bugs_critical_escalated-incident.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))
    assert reset_point(history) is None


async def test_repair_refuses_an_incident_that_is_not_stuck(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await new_ticket(ts_cli, tmp_path)
    # Let the receipt e-mail finish: terminating the incident at module end
    # with an activity in flight would stall the module's time-skipping server.
    await settled(ts_cli.client.get_workflow_handle(ticket))
    result = await sla(ts_cli, "repair", ticket)
    refused(result, ticket, "not stuck on a replay divergence")
