"""Determinism guard for workflow changes: ``python -m tests.histories.fingerprint``.

The replay tests prove that recorded histories still replay, but only for the
paths they recorded. This guard catches the rest: it remembers a hash of every
module that defines a workflow, taken when the histories were recorded. A
workflow module that changed since then fails ``make test`` until either

* its histories are re-recorded (``make histories``, which also refreshes this
  fingerprint), or
* the change is guarded with ``workflow.patched(...)`` (more calls than
  recorded), so that running workflows keep their old path.

``--update`` writes the fingerprint; ``--check`` (the default) reports.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
FINGERPRINT = HERE / "fingerprint.json"


def workflow_modules() -> list[Path]:
    """Every module under ``workflows/`` that defines a workflow."""
    return sorted(
        p for p in (ROOT / "workflows").glob("*.py") if "@workflow.defn" in p.read_text("utf-8")
    )


def current() -> dict[str, dict[str, object]]:
    """Hash and ``workflow.patched`` count of each workflow module."""
    result: dict[str, dict[str, object]] = {}
    for path in workflow_modules():
        text = path.read_text("utf-8")
        result[path.relative_to(ROOT).as_posix()] = {
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "patched": text.count("workflow.patched("),
        }
    return result


def problems() -> list[str]:
    """Workflow modules changed since the histories were recorded, without a patch guard."""
    if not FINGERPRINT.exists():
        return [f"{FINGERPRINT.name} is missing: run `make histories`"]
    recorded = json.loads(FINGERPRINT.read_text("utf-8"))
    found = []
    for name, now in current().items():
        before = recorded.get(name)
        if before is None:
            found.append(f"{name} defines a workflow without recorded histories")
        elif now["sha256"] != before["sha256"] and int(str(now["patched"])) <= int(
            str(before["patched"])
        ):
            found.append(
                f"{name} changed since its histories were recorded: re-record them "
                "(`make histories`) or guard the change with workflow.patched()"
            )
    return found


def update() -> None:
    """Write the fingerprint of the current workflow modules."""
    FINGERPRINT.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n", "utf-8")


def main(argv: list[str]) -> int:
    """``--update`` or ``--check``; returns the exit code."""
    if "--update" in argv:
        update()
        print(f"wrote {FINGERPRINT}")
        return 0
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
