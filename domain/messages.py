"""E-mails other than incident notifications (maintenance, on-call, change requests, audits).

The sending workflow builds an :class:`OutgoingMessage` from its own typed
models (``context`` is their JSON form) and the notification activity renders
``activities/templates/email/<template>.txt.j2`` with it. The Message-ID is
chosen by the caller and must be deterministic, so a retried activity sends
the same message again rather than a second one.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class OutgoingMessage(BaseModel):
    """One templated e-mail."""

    model_config = ConfigDict(frozen=True)

    template: str = Field(pattern=r"^[a-z0-9_]+$", description="file stem under email/")
    message_id: str = Field(pattern=r"^<[^<>@\s]+@[^<>@\s]+>$")
    to: tuple[str, ...] = Field(min_length=1)
    date: datetime
    timezone: str = "Europe/Berlin"
    context: dict[str, JsonValue] = {}
    kind: str = Field(default="", description="X-SLA-Kind header (defaults to the template)")
    # Default: recorded payloads from before threading still render (unthreaded).
    thread_root: str | None = Field(
        default=None,
        pattern=r"^<[^<>@\s]+@[^<>@\s]+>$",
        description="Message-ID of the first mail of this booking, change request or "
        "maintenance; the mail refers to it (In-Reply-To, References) unless it is that mail",
    )


def make_message_id(*parts: str, domain: str = "sla.myconvento.com") -> str:
    """``<part1.part2…@domain>`` with unsafe characters replaced."""
    safe = ".".join("".join(c if c.isalnum() or c in "-_" else "-" for c in p) for p in parts)
    return f"<{safe}@{domain}>"
