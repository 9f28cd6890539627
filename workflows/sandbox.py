"""The workflow sandbox configuration shared by the worker and the replayer."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Decoding a policy snapshot validates its holiday source, which imports
# ``holidays`` (and ``dateutil``, which reads the clock at import). They are
# passed through so that the import happens once, outside the sandbox; no
# workflow code calls them (calendar arithmetic runs in local activities).
#
# Our own pure modules are passed through too: the sandbox re-executes every
# module it does not pass through for each new workflow run, which made
# creating an incident's sandbox a quarter of the worker's CPU (py-spy, make
# bench). They hold no mutable module state (constants and functions only), and
# deterministic code stays deterministic outside the sandbox; the workflow
# modules themselves (the ones defining workflow classes) stay sandboxed.
PASSTHROUGH_MODULES = (
    "holidays",
    "dateutil",
    "pydantic",
    "domain",
    "activities",
    "jinja2",
    "workflows.names",
    "workflows.archive_feed",
    "workflows.converter",
    "workflows.delivery",
    "workflows.effect_queue",
    "workflows.incident_input",
    "workflows.metrics",
    "workflows.options",
    "workflows.timers",
    "workflows.visibility",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandboxed runner with our pass-through modules."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
