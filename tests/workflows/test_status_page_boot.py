"""Every worker starts the status page at boot, once: the site exists before any post."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from service.status_page import ensure_status_page
from tests.conftest import Stack
from tests.workflows.waiting import eventually


async def test_status_page_is_started_once_and_renders_an_empty_site(dev_stack: Stack) -> None:
    client = dev_stack.client
    for _ in range(2):  # two worker replicas booting
        await ensure_status_page(
            client, workflow_id=dev_stack.status_page_id, task_queue=dev_stack.task_queue
        )

    async def one_running_run() -> None:
        query = f"WorkflowId = '{dev_stack.status_page_id}'"
        runs = [w async for w in client.list_workflows(query)]
        assert [w.status for w in runs] == [WorkflowExecutionStatus.RUNNING], runs

    await eventually(one_running_run, seconds=20)

    async def rendered() -> str:
        page = dev_stack.status_dir / "index.html"
        assert page.exists()
        return page.read_text(encoding="utf-8")

    page = await eventually(rendered, seconds=20)
    assert "Störung" in page
    await client.get_workflow_handle(dev_stack.status_page_id).terminate("test over")
