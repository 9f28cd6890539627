"""Command groups that live in their own modules (``sla maintenance …``, ``sla oncall …``).

Each entry is ``(name, typer app)``; ``cli.main`` registers them all.
"""

from __future__ import annotations

import typer

GROUPS: list[tuple[str, typer.Typer]] = []
