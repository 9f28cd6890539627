"""The workflow sandbox configuration shared by the worker and the replayer."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Decoding a policy snapshot validates its holiday source, which imports
# ``holidays`` (and ``dateutil``, which reads the clock at import). They are
# passed through so that the import happens once, outside the sandbox; no
# workflow code calls them (calendar arithmetic runs in local activities).
PASSTHROUGH_MODULES = ("holidays", "dateutil", "pydantic")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandboxed runner with our pass-through modules."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
