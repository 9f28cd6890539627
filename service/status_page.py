"""The status page workflow from the client side: starting it, and handing it posts.

The status page workflow is the single writer of the public site. It is
started at boot (worker, ``sla dev``) and by the first post if it is not
running; posts arrive as signals. :class:`TemporalStatusPoster` is what the
incident and maintenance workflows' post activities use (``worker.py`` wires it).
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from activities.status_page import MaintenancePostRequest, StatusPostRequest
from workflows.names import STATUS_PAGE_WORKFLOW_ID, TASK_QUEUE
from workflows.status_page import StatusPageInput, StatusPageWorkflow


async def ensure_status_page(
    client: Client,
    *,
    workflow_id: str = STATUS_PAGE_WORKFLOW_ID,
    task_queue: str = TASK_QUEUE,
) -> WorkflowHandle[StatusPageWorkflow, None]:
    """Start the status page workflow unless it runs already (idempotent); returns its handle.

    Its first task renders the site, so a web server in front of the status
    directory has a page to serve before the first disturbance is posted.
    """
    return await client.start_workflow(
        StatusPageWorkflow.run,
        StatusPageInput(),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


class TemporalStatusPoster:
    """Signals posts to the status page workflow, starting it if it is not running."""

    def __init__(self, client: Client) -> None:
        """Reach the status page workflow through ``client``."""
        self._client = client

    async def post_status(self, request: StatusPostRequest) -> None:
        """Signal an incident's post."""
        handle = await ensure_status_page(
            self._client, workflow_id=request.workflow_id, task_queue=request.task_queue
        )
        await handle.signal(StatusPageWorkflow.post, request.post)

    async def post_maintenance(self, request: MaintenancePostRequest) -> None:
        """Signal a maintenance post."""
        handle = await ensure_status_page(
            self._client, workflow_id=request.workflow_id, task_queue=request.task_queue
        )
        await handle.signal(StatusPageWorkflow.post_maintenance, request.post)
