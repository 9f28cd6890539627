"""A round-the-clock policy with deadlines in seconds, for tests on the real clock."""

from __future__ import annotations

from pathlib import Path

_TEMPLATE = """\
# The shipped myconvento policy, open 24/7 and with deadlines in seconds.
name = "myconvento-24x7-test"

[calendar]
timezone = "Europe/Berlin"
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = "00:00"
closes = "24:00"
closed_dates = []

[severity.critical]
reaction = "{critical_reaction}"
resolution = "{critical_resolution}"

[severity.major]
reaction = "{major_reaction}"
resolution = "{major_resolution}"

[severity.minor]
reaction = "{minor_reaction}"
resolution = "{minor_resolution}"

[alerts]
warn_at = 0.75
critical_reminder_every = "PT30S"
critical_late_cutoff = "PT1S"

[contacts]
support_lead = "support@myconvento.com"
on_duty = "bereitschaft@myconvento.com"
experts = "experten@myconvento.com"
management = "geschaeftsfuehrung@convento.de"

[support]
hotline = "+49 (0)2131-200900"
[[customers]]
company = "Beispiel Versand GmbH"
customer_number = "K-10001"
plan = "premium"
domains = ["beispiel-versand.de"]
contacts = ["it@beispiel-versand.de"]
[customers.roles]
it = ["it@beispiel-versand.de"]
management = ["geschaeftsfuehrung@beispiel-versand.de"]
"""


def write_round_the_clock_policy(
    path: Path,
    *,
    critical: tuple[str, str] = ("PT20S", "PT60S"),
    major: tuple[str, str] = ("PT20S", "PT90S"),
    minor: tuple[str, str] = ("PT30S", "PT120S"),
) -> Path:
    """Write the 24/7 test policy (reaction, resolution per severity) to ``path``."""
    path.write_text(
        _TEMPLATE.format(
            critical_reaction=critical[0],
            critical_resolution=critical[1],
            major_reaction=major[0],
            major_resolution=major[1],
            minor_reaction=minor[0],
            minor_resolution=minor[1],
        ),
        "utf-8",
    )
    return path
