"""What every history recorder shares: where a recorded history goes, and how."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

HERE = Path(__file__).parent
"""Recorded histories live beside the recorders (``tests/histories/*.json``)."""


async def save_history(handle: WorkflowHandle[Any, Any], scenario: str, kind: str) -> None:
    """Write ``handle``'s history to ``<scenario>-<kind>.json`` and say so."""
    history = await handle.fetch_history()
    path = HERE / f"{scenario}-{kind}.json"
    path.write_text(history.to_json(), "utf-8")
    print(f"recorded {path.name}: {len(history.events)} events")
