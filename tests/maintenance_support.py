"""Shared test data for planned maintenance: a policy with a larger customer directory."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.sla import SlaPolicy

BERLIN = ZoneInfo("Europe/Berlin")

CUSTOMERS: list[dict[str, Any]] = [
    {
        "company": "Beispiel Versand GmbH",
        "customer_number": "K-10001",
        "plan": "premium",
        "domains": ["beispiel-versand.de"],
        "contacts": ["it@beispiel-versand.de"],
        "roles": {
            "it": ["it@beispiel-versand.de"],
            "management": ["geschaeftsfuehrung@beispiel-versand.de"],
        },
    },
    {
        "company": "Nordlicht Handel KG",
        "contacts": ["edv@nordlicht-handel.de", "Versand@Nordlicht-Handel.de"],
    },
    {
        "company": "Alpen Logistik AG",
        "contacts": ["admin@alpen-logistik.at"],
        "roles": {"management": ["Vorstand@alpen-logistik.at"], "it": ["admin@alpen-logistik.at"]},
    },
    {"company": "Ohne Kontakt GmbH"},  # in the directory, but nobody to write to
]

EXPECTED_RECIPIENTS: set[frozenset[str]] = {
    frozenset({"it@beispiel-versand.de", "geschaeftsfuehrung@beispiel-versand.de"}),
    frozenset({"edv@nordlicht-handel.de", "versand@nordlicht-handel.de"}),
    frozenset({"admin@alpen-logistik.at", "vorstand@alpen-logistik.at"}),
}
"""One message per customer with contacts, role contacts included (addresses lower-cased)."""


def directory_policy() -> SlaPolicy:
    """The shipped policy with :data:`CUSTOMERS` as its customer directory."""
    data = SlaPolicy.default().model_dump(mode="json", by_alias=True)
    return SlaPolicy.from_mapping({**data, "customers": CUSTOMERS}, source="test policy")


def write_directory_policy(
    path: Path, *, unreachable: bool = True, closed_dates: tuple[date, ...] = ()
) -> Path:
    """:func:`directory_policy` as a TOML file (for ``--policy``).

    The shipped file already lists the first customer (the same entry).

    Args:
        path: Where to write it.
        unreachable: Keep the customer without a contact (planning warns about it).
        closed_dates: Extra closed days of the calendar (no business hours then).
    """
    shipped = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")
    if closed_dates:
        days = ", ".join(f'"{d.isoformat()}"' for d in closed_dates)
        shipped = shipped.replace("closed_dates = []", f"closed_dates = [{days}]", 1)
    extra = []
    for customer in CUSTOMERS[1:]:
        if not unreachable and not customer.get("contacts"):
            continue
        lines = ["", "[[customers]]", f'company = "{customer["company"]}"']
        contacts = ", ".join(f'"{c}"' for c in customer.get("contacts", []))
        lines.append(f"contacts = [{contacts}]")
        roles = customer.get("roles", {})
        if roles:
            lines.append("[customers.roles]")
            for role, addresses in roles.items():
                lines.append(f"{role} = {json.dumps(addresses)}")  # a TOML array too
        extra.append("\n".join(lines))
    path.write_text(shipped + "\n".join(extra) + "\n", "utf-8")
    SlaPolicy.from_file(path)  # fail here, not in the CLI, if the file is wrong
    return path


def next_weekday_at(after: datetime, weekday: int, clock: time, *, lead: timedelta) -> datetime:
    """The first ``weekday`` (0 = Monday) at ``clock`` in Berlin no sooner than ``after + lead``."""
    day: date = (after + lead).astimezone(BERLIN).date()
    while True:
        candidate = datetime.combine(day, clock, tzinfo=BERLIN)
        if candidate.weekday() == weekday and candidate >= after + lead:
            return candidate
        day += timedelta(days=1)


def write_policy_without_contacts(path: Path) -> Path:
    """The shipped policy whose only directory customer has no contact (nobody to tell)."""
    shipped = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")
    text = shipped.replace('contacts = ["it@beispiel-versand.de"]', "contacts = []", 1)
    # Contacts by role are addresses too: without them nobody is left.
    text = re.sub(r"\[customers\.roles\]\n(?:\w+ = \[.*\]\n)+", "", text)
    assert text != shipped, "the shipped policy's customer changed"
    path.write_text(text, "utf-8")
    SlaPolicy.from_file(path)
    return path
