"""Debian's Chromium for the browser tests: where it is, why it is not, how it is started.

Chromium comes from ``make chromium`` (``tests/browser/ensure_chromium.sh``, a
step of ``make pytest``); Playwright's own browser download is not used.
Without a browser the tests skip with the reason the setup step recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
UNAVAILABLE = ARTIFACTS / "chromium-unavailable.txt"


def find_chromium() -> str | None:
    """``$SLA_CHROMIUM`` if set and executable, else Debian's ``/usr/bin/chromium``."""
    for candidate in (os.environ.get("SLA_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def skip_reason() -> str:
    """Why the browser tests skip: the setup step's recorded reason, or what to run."""
    why = (
        UNAVAILABLE.read_text(encoding="utf-8").strip()
        if UNAVAILABLE.exists()
        else "/usr/bin/chromium is missing; run `make chromium` (tests/browser/ensure_chromium.sh)"
    )
    return f"no Chromium for the browser test: {why}"


CHROMIUM = find_chromium()
"""The browser's executable, or ``None`` (the tests skip with :func:`skip_reason`)."""

# Without the background-networking flags Chromium keeps dialling Google services,
# which this network refuses noisily.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
