"""The ``sla`` command line (DESIGN §4), in process through typer's ``CliRunner``.

Commands run in a thread (the CLI calls ``asyncio.run`` itself) against the
time-skipping server; ``sla list`` needs visibility, so its tests use the dev
server. A worker for the CLI's task queue runs in this process (``tests/cli/conftest.py``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner, Result

from cli.main import app
from tests.cli.conftest import TICKET, CliStack, eventually
from tests.conftest import SHOW_KEYS, SUMMARY_KEYS, report
from tests.e2e.policies import write_round_the_clock_policy

BERLIN = ZoneInfo("Europe/Berlin")


runner = CliRunner()


async def sla(stack: CliStack, *args: str, **env: str | None) -> Result:
    """Run ``sla ARGS`` in a thread; remembers reported tickets for the teardown."""
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=stack.cli_env(**env))
    if args and args[0] == "report" and result.exit_code == 0:
        text = result.stdout.strip()
        stack.tickets.append(json.loads(text)["ticket_id"] if "--json" in args else text)
    return result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return result


def refused(result: Result, *fragments: str) -> str:
    """A refusal: exit 1, nothing on stdout, one ``error:`` line on stderr naming ``fragments``."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    # A SystemExit is how `fail` ends; anything else escaped the CLI's handling.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def loads(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


async def new_ticket(stack: CliStack, tmp_path: Path, **changes: Any) -> str:
    path = tmp_path / f"report-{len(stack.tickets)}.json"
    path.write_text(json.dumps(report(**changes)), "utf-8")
    ticket: str = loads(await sla(stack, "report", "--file", str(path), "--json"))["ticket_id"]
    return ticket


async def show(stack: CliStack, ticket: str) -> dict[str, Any]:
    view: dict[str, Any] = loads(await sla(stack, "show", ticket, "--json"))
    return view


async def acknowledged(stack: CliStack, tmp_path: Path, *extra: str, **changes: Any) -> str:
    """A reported and acknowledged (critical) incident with an estimate a day ahead."""
    ticket = await new_ticket(stack, tmp_path, **changes)
    estimate = iso(await stack.now() + timedelta(days=1))
    reason = ("--estimate-reason", "Ersatzteil wird geliefert")  # after the 4 h deadline
    ok(
        await sla(
            stack, "ack", ticket, "--severity", "critical", "--estimate", estimate, *reason, *extra
        )
    )
    return ticket


# -- report -----------------------------------------------------------------------


async def test_report_from_file_prints_the_ticket(ts_cli: CliStack, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report(request_id="cli-file-1")), "utf-8")

    result = ok(await sla(ts_cli, "report", "--file", str(path)))

    ticket = result.stdout.strip()
    assert result.stdout == f"{ticket}\n"
    assert TICKET.match(ticket), ticket
    view = await show(ts_cli, ticket)
    assert view["ticket_id"] == ticket
    assert view["status"] == "new"
    assert view["severity"] == "critical"  # login impossible: suggested critical
    # The same request again is the same ticket (idempotent intake).
    assert ok(await sla(ts_cli, "report", "--file", str(path))).stdout == f"{ticket}\n"


async def test_report_json_prints_the_ticket_object(ts_cli: CliStack, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report()), "utf-8")

    printed = loads(await sla(ts_cli, "report", "--file", str(path), "--json"))

    # DESIGN §4's {"ticket_id"}, with the HTTP API's answer beside it (§5).
    assert set(printed) == {"ticket_id", "reaction_due", "severity", "missing"}
    assert TICKET.match(printed["ticket_id"])
    assert printed["severity"] == "critical" and printed["missing"] == []
    assert datetime.fromisoformat(printed["reaction_due"]).tzinfo is not None


async def test_report_by_field_options(ts_cli: CliStack) -> None:
    printed = loads(
        await sla(
            ts_cli,
            "report",
            "--company",
            "Beispiel Versand GmbH",
            "--name",
            "Erika Mustermann",
            "--phone",
            "+49 2131 123456",
            "--email",
            "erika.mustermann@beispiel-versand.de",
            "--description",
            "Etiketten werden nicht gedruckt.",
            "--first-noticed",
            "2026-11-24T09:12",  # naive: wall-clock time in Berlin
            "--scope",
            "some_workstations",
            "--not-reproducible",
            "--channel",
            "email",
            "--attachment",
            "https://files.example/a.png",
            "--attachment",
            "https://files.example/b.png",
            "--workaround-available",
            "--json",
        )
    )

    view = await show(ts_cli, printed["ticket_id"])
    assert view["severity"] == "minor"  # a workaround exists
    assert view["company"] == "Beispiel Versand GmbH"
    assert view["reporter"] == "Erika Mustermann"
    assert view["channel"] == "email"
    reported = view["events"][0]["report"]
    assert reported["scope"] == "some_workstations"
    assert reported["reproducible"] is False
    assert reported["attachments"] == ["https://files.example/a.png", "https://files.example/b.png"]
    assert datetime.fromisoformat(reported["first_noticed_at"]) == datetime(
        2026, 11, 24, 9, 12, tzinfo=BERLIN
    )


async def test_a_report_nobody_can_work_on_is_refused_naming_why(ts_cli: CliStack) -> None:
    result = await sla(ts_cli, "report", "--company", "Beispiel Versand GmbH")
    line = refused(result, "report refused")
    assert "description: required" in line
    assert "company" not in line.removeprefix("error: report refused")

    unreachable = await sla(ts_cli, "report", "--description", "Druck geht nicht")
    refused(unreachable, "email: give an e-mail address or a phone number")


async def test_an_incomplete_report_opens_a_ticket_and_names_what_is_missing(
    ts_cli: CliStack,
) -> None:
    result = ok(
        await sla(
            ts_cli,
            "report",
            "--email",
            "erika.mustermann@beispiel-versand.de",
            "--description",
            "Druck geht nicht",
            "--json",
        )
    )
    answer = json.loads(result.stdout)
    assert TICKET.match(answer["ticket_id"])
    assert answer["missing"] == [
        "company",
        "full_name",
        "phone",
        "first_noticed_at",
        "scope",
        "reproducible",
    ]
    assert answer["severity"] == "major"


async def test_report_with_malformed_fields_is_refused(ts_cli: CliStack, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report(email="not-an-address", phone="call me")), "utf-8")

    refused(await sla(ts_cli, "report", "--file", str(path)), "email", "phone")
    refused(await sla(ts_cli, "report", "--file", str(tmp_path / "missing.json")), "cannot read")


async def test_phone_report_needs_a_premium_plan(ts_cli: CliStack, tmp_path: Path) -> None:
    standard = tmp_path / "standard.json"
    standard.write_text(
        json.dumps(
            report(company="Kleinbetrieb KG", email="info@kleinbetrieb.example", channel="phone")
        ),
        "utf-8",
    )
    premium = tmp_path / "premium.json"
    premium.write_text(json.dumps(report(channel="phone")), "utf-8")  # the customer's domain

    refused(await sla(ts_cli, "report", "--file", str(standard)), "premium", "Kleinbetrieb KG")
    ticket = ok(await sla(ts_cli, "report", "--file", str(premium))).stdout.strip()
    assert TICKET.match(ticket)


async def test_a_typed_premium_company_name_alone_gets_no_phone_support(ts_cli: CliStack) -> None:
    by_name = (
        "report",
        "--company",
        "Beispiel Versand GmbH",
        "--email",
        "erika@privat.example",
        "--description",
        "Anmeldung nicht möglich.",
        "--channel",
        "phone",
    )
    refused(await sla(ts_cli, *by_name), "premium", "customer number", "privat.example")
    answer = loads(await sla(ts_cli, *by_name, "--customer-number", "K-10001", "--json"))
    ticket = answer["ticket_id"]
    assert TICKET.match(ticket)
    assert (await show(ts_cli, ticket))["report"]["customer_number"] == "K-10001"


# -- show ----------------------------------------------------------------------------


async def test_show_json_has_every_design_key_and_events_oldest_first(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)

    view = await show(ts_cli, ticket)

    assert set(view) >= SHOW_KEYS
    assert view["status"] == "acknowledged"
    assert view["escalation_stage"] == 0
    assert view["reaction_breached"] is False
    assert view["resolution_breached"] is False
    assert datetime.fromisoformat(view["reaction_due"]) > datetime.fromisoformat(
        view["received_at"]
    )
    types = [event["type"] for event in view["events"]]
    assert types[0] == "reported"
    assert "acknowledged" in types
    instants = [datetime.fromisoformat(event["at"]) for event in view["events"]]
    assert instants == sorted(instants)


async def test_show_prints_deadlines_and_business_time_left(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await new_ticket(ts_cli, tmp_path)

    out = ok(await sla(ts_cli, "show", ticket)).stdout

    assert ticket in out
    assert "Beispiel Versand GmbH" in out
    assert "reaction due" in out
    assert "resolution due" in out
    assert "business time left" in out
    assert "timeline" in out
    assert "Report received by chat from Erika Mustermann" in out


async def test_show_speaks_german_with_sla_lang_and_json_keeps_the_raw_events(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)

    out = ok(await sla(ts_cli, "show", ticket, SLA_LANG="de", COLUMNS="80")).stdout

    assert ticket in out
    assert "Verlauf" in out and "Meldung" in out
    assert "Bestätigt als kritisch, Schätzung" in out
    assert "Störungsmeldung eingegangen per Chat" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "received_at=" not in out  # the raw event is for --json only
    view = loads(await sla(ts_cli, "show", ticket, "--json", SLA_LANG="de"))
    (ack,) = [e for e in view["events"] if e["type"] == "acknowledged"]
    assert view["events"][0]["type"] == "reported"
    assert ack["severity"] == "critical" and "estimate" in ack
    refused(await sla(ts_cli, "show", ticket, SLA_LANG="fr"), "SLA_LANG must be de or en")


async def test_show_unknown_ticket(ts_cli: CliStack) -> None:
    assert refused(await sla(ts_cli, "show", "NOPE")) == "error: unknown ticket NOPE"


# -- ack -----------------------------------------------------------------------------


async def test_ack_with_naive_estimate_means_berlin_wall_time(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await new_ticket(ts_cli, tmp_path)
    wall = (
        (await ts_cli.now() + timedelta(days=2))
        .astimezone(BERLIN)
        .replace(tzinfo=None, second=0, microsecond=0)
    )

    result = ok(await sla(ts_cli, "ack", ticket, "--severity", "major", "--estimate", iso(wall)))

    assert result.stdout.startswith(f"{ticket}: acknowledged")
    view = await show(ts_cli, ticket)
    estimate = datetime.fromisoformat(view["estimate"])
    assert estimate.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert estimate.utcoffset() == wall.replace(tzinfo=BERLIN).utcoffset()
    assert estimate.replace(tzinfo=None) == wall
    assert view["severity"] == "major"
    assert view["status"] == "acknowledged"


async def test_ack_twice_is_refused_pointing_to_reclassify(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    estimate = iso(await ts_cli.now() + timedelta(days=2))

    line = refused(
        await sla(ts_cli, "ack", ticket, "--severity", "major", "--estimate", estimate),
        "already acknowledged",
    )
    assert "reclassify" in line
    assert (await show(ts_cli, ticket))["severity"] == "critical"


async def test_malformed_estimate_is_refused_in_one_line(ts_cli: CliStack, tmp_path: Path) -> None:
    ticket = await new_ticket(ts_cli, tmp_path)

    refused(
        await sla(ts_cli, "ack", ticket, "--severity", "major", "--estimate", "tomorrow"),
        "--estimate 'tomorrow' is not an ISO 8601 date-time",
    )
    past = iso(await ts_cli.now() - timedelta(hours=1))
    refused(
        await sla(ts_cli, "ack", ticket, "--severity", "major", "--estimate", past),
        "not in the future",
    )
    assert (await show(ts_cli, ticket))["status"] == "new"


# -- the operator's other commands ------------------------------------------------------


async def test_extend_reclassify_status_update_resolve_then_nothing_changes(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    later = iso(await ts_cli.now() + timedelta(days=2))

    view = loads(
        await sla(ts_cli, "extend", ticket, "--until", later, "--reason", "Ersatzteil", "--json")
    )
    assert datetime.fromisoformat(view["estimate"]) == datetime.fromisoformat(later)
    assert view["escalation_stage"] == 1  # a live estimate was replaced

    view = loads(
        await sla(
            ts_cli, "reclassify", ticket, "--severity", "major", "--reason", "Umgehung", "--json"
        )
    )
    assert view["severity"] == "major"

    refused(
        await sla(ts_cli, "status-update", ticket, "--message", "Wir arbeiten daran."),
        "not on the status page",
    )
    out = ok(
        await sla(
            ts_cli, "status-update", ticket, "--message", "Wir arbeiten daran.", "--all-users"
        )
    ).stdout
    assert out.startswith(f"{ticket}: status page updated")

    view = loads(
        await sla(ts_cli, "resolve", ticket, "--summary", "Dienst neu gestartet", "--json")
    )
    assert view["status"] == "resolved"
    assert view["resolution_summary"] == "Dienst neu gestartet"
    types = [event["type"] for event in (await show(ts_cli, ticket))["events"]]
    assert types.count("resolved") == 1
    assert "status_published" in types
    assert "status_resolved" in types

    # A signal is checked against the state first: refused, naming the reason.
    refused(
        await sla(ts_cli, "escalate", ticket, "--stage", "3", "--reason", "zu spät"),
        "is resolved; nothing can change after resolution",
    )
    assert (await show(ts_cli, ticket))["status"] == "resolved"


async def test_updates_on_a_resolved_ticket_say_it_is_resolved(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    ok(await sla(ts_cli, "resolve", ticket, "--summary", "Dienst neu gestartet"))
    even_later = iso(await ts_cli.now() + timedelta(days=3))

    for args in (
        ("ack", ticket, "--severity", "major", "--estimate", even_later),
        ("extend", ticket, "--until", even_later, "--reason", "noch einmal"),
        ("reclassify", ticket, "--severity", "minor", "--reason", "doch harmlos"),
        ("status-update", ticket, "--message", "Nachtrag", "--all-users"),
        ("resolve", ticket, "--summary", "nochmal"),
    ):
        line = refused(await sla(ts_cli, *args))
        assert "unknown ticket" not in line
        assert "resolved" in line


async def test_escalate_to_management_and_decide(ts_cli: CliStack, tmp_path: Path) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)

    refused(
        await sla(ts_cli, "decide", ticket, "--decision", "zwei Entwickler"),
        "not escalated to management",
    )
    out = ok(await sla(ts_cli, "escalate", ticket, "--stage", "3", "--reason", "keine Lösung"))
    assert out.stdout == f"{ticket}: escalated to stage 3\n"

    async def at_stage_3() -> bool:
        return bool((await show(ts_cli, ticket))["escalation_stage"] == 3)

    await eventually(at_stage_3, seconds=10)
    refused(
        await sla(ts_cli, "escalate", ticket, "--stage", "2", "--reason", "x"),
        "--stage must be 3 or extended",
    )
    refused(
        await sla(ts_cli, "escalate", ticket, "--stage", "3", "--reason", "nochmal"),
        "already at escalation stage 3",
    )

    printed = loads(await sla(ts_cli, "decide", ticket, "--decision", "zwei Entwickler", "--json"))
    assert printed == {"ticket_id": ticket, "signalled": "decide_resources"}

    async def decided() -> bool:
        return bool((await show(ts_cli, ticket))["management_decision"] == "zwei Entwickler")

    await eventually(decided, seconds=10)
    view = await show(ts_cli, ticket)
    assert view["escalation_stage"] == 3
    assert [e["type"] for e in view["events"]].count("resources_decided") == 1
    assert "management" in ok(await sla(ts_cli, "show", ticket)).stdout


async def test_extended_escalation_needs_an_earlier_escalation(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)

    refused(
        await sla(ts_cli, "escalate", ticket, "--stage", "extended", "--reason", "Kunde drängt"),
        "has not been escalated yet",
    )
    refused(
        await sla(ts_cli, "escalate", ticket, "--stage", "3", "--reason", "  "),
        "reason",
    )
    view = await show(ts_cli, ticket)
    assert view["escalation_stage"] == 0
    assert "escalated" not in [e["type"] for e in view["events"]]


async def test_unreachable_server_is_one_clear_line(ts_cli: CliStack, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report()), "utf-8")

    for args in (("show", "INC-20261124-AAAAAA"), ("report", "--file", str(path))):
        result = await sla(ts_cli, *args, TEMPORAL_ADDRESS="127.0.0.1:1")
        refused(result, "cannot connect to Temporal at 127.0.0.1:1", "sla dev")


# -- list (visibility: dev server) -------------------------------------------------------


async def listed(stack: CliStack, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = loads(await sla(stack, "list", *args, "--json"))
    return rows


async def test_list_json_has_summaries_without_events(dev_cli: CliStack, tmp_path: Path) -> None:
    company = f"Listen GmbH {tmp_path.name}"
    ticket = await new_ticket(dev_cli, tmp_path, company=company)

    async def visible() -> bool:
        return [r["ticket_id"] for r in await listed(dev_cli, "--company", company)] == [ticket]

    await eventually(visible)
    (row,) = await listed(dev_cli, "--company", company)
    assert set(row) >= SUMMARY_KEYS
    assert "events" not in row
    assert row["status"] == "new"
    assert row["company"] == company

    table = ok(await sla(dev_cli, "list", "--company", company)).stdout
    assert ticket in table
    assert "reaction" in table
    # An 80- and a 60-column terminal: the ticket ID stays whole, on one line.
    for columns in ("80", "60"):
        narrow = ok(await sla(dev_cli, "list", "--company", company, COLUMNS=columns)).stdout
        assert any(ticket in line for line in narrow.splitlines()), narrow
        assert max(len(line) for line in narrow.splitlines()) <= int(columns)
    wide = ok(await sla(dev_cli, "list", "--company", company, "--wide", COLUMNS="60")).stdout
    assert wide.split()[:8] == [
        "ticket",
        "left",
        "severity",
        "next",
        "stage",
        "missing",
        "company",
        "status",
    ]
    assert company in wide
    nobody = ok(await sla(dev_cli, "list", "--company", f"Niemand {tmp_path.name}")).stdout
    assert nobody == "no incidents\n"


async def test_list_filters(dev_cli: CliStack, tmp_path: Path) -> None:
    company = f"Filter GmbH {tmp_path.name}"
    critical = await new_ticket(dev_cli, tmp_path, company=company)
    major = await new_ticket(dev_cli, tmp_path, company=company, login_impossible=False)
    minor = await new_ticket(
        dev_cli, tmp_path, company=company, login_impossible=False, workaround_available=True
    )
    estimate = iso(await dev_cli.now() + timedelta(days=1))
    ok(await sla(dev_cli, "ack", major, "--severity", "major", "--estimate", estimate))
    ok(await sla(dev_cli, "resolve", minor, "--summary", "Umgehung genügt"))
    # A 24/7 policy snapshot with a two-second reaction time: breached at once.
    policy = write_round_the_clock_policy(tmp_path / "fast.toml", critical=("PT2S", "PT1H"))
    path = tmp_path / "breach.json"
    path.write_text(json.dumps(report(company=company)), "utf-8")
    breached = loads(
        await sla(dev_cli, "report", "--file", str(path), "--policy", str(policy), "--json")
    )["ticket_id"]

    async def ids(*args: str) -> set[str]:
        return {r["ticket_id"] for r in await listed(dev_cli, "--company", company, *args)}

    expectations: list[tuple[tuple[str, ...], set[str]]] = [
        ((), {critical, major, breached}),
        (("--all",), {critical, major, minor, breached}),
        (("--severity", "critical"), {critical, breached}),
        (("--severity", "minor", "--all"), {minor}),
        (("--status", "acknowledged"), {major}),
        (("--status", "resolved"), {minor}),
        (("--status", "new"), {critical, breached}),
        (("--breached",), {breached}),
    ]

    async def all_match() -> bool:
        return all([await ids(*args) == expected for args, expected in expectations])

    await eventually(all_match, seconds=20)
    rows = await listed(dev_cli, "--company", company, "--breached")
    assert rows[0]["reaction_breached"] is True
    # Open incidents first, next deadline first; resolved ones last.
    everything = await listed(dev_cli, "--company", company, "--all")
    assert everything[-1]["ticket_id"] == minor


async def test_doctor_checks_the_setup_and_says_what_to_fix(dev_cli: CliStack) -> None:
    result = await sla(dev_cli, "doctor", "--json")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["temporal"]["ok"] is True
    assert checks["search attributes"]["ok"] is True  # registered by the test environment
    schedules = checks["audit schedules"]
    assert schedules["ok"] or "sla schedules apply" in schedules["detail"]
    erasure = checks["erasure schedule"]
    assert erasure["ok"] or "sla schedules apply" in erasure["detail"]
    assert result.exit_code == (0 if report["ok"] else 1)
    # No SMTP server configured: mails go to the outbox, nothing to reach.
    assert checks["smtp"]["ok"] is True
    assert "not configured" in checks["smtp"]["detail"]
    plain = await sla(dev_cli, "doctor")
    assert "search attributes: 12 registered" in plain.stdout

    # The archive of a fresh data dir is not migrated yet: doctor says what to run ...
    archive = f"sqlite:///{dev_cli.data_dir / 'doctor-archive.sqlite3'}"
    result = await sla(dev_cli, "doctor", "--json", SLA_ARCHIVE_URL=archive)
    assert result.exit_code == 1
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["archive"]
    assert check["ok"] is False and "run `sla archive migrate`" in check["detail"]
    # ... and once it ran, the check passes.
    ok(await sla(dev_cli, "archive", "migrate", SLA_ARCHIVE_URL=archive))
    result = await sla(dev_cli, "doctor", "--json", SLA_ARCHIVE_URL=archive)
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["archive"]
    assert check["ok"] is True, check


async def test_doctor_without_a_server_is_one_line(dev_cli: CliStack) -> None:
    result = await sla(dev_cli, "doctor", TEMPORAL_ADDRESS="127.0.0.1:1")
    assert result.exit_code == 1
    assert "is `sla dev` running?" in result.stderr


async def test_amend_fills_in_what_was_missing_and_show_prints_the_whole_report(
    ts_cli: CliStack,
) -> None:
    answer = loads(
        await sla(
            ts_cli,
            "report",
            "--email",
            "erika.mustermann@beispiel-versand.de",
            "--description",
            "Druck geht nicht",
            "--json",
        )
    )
    ticket = answer["ticket_id"]
    text = ok(await sla(ts_cli, "show", ticket)).stdout
    assert "Druck geht nicht" in text
    assert "missing" in text and "company, name, phone" in text

    amended = loads(
        await sla(
            ts_cli,
            "amend",
            ticket,
            "--name",
            "Erika Mustermann",
            "--phone",
            "+49 2131 123456",
            "--scope",
            "some_workstations",
            "--json",
        )
    )
    assert amended["missing"] == ["company", "first_noticed_at", "reproducible"]
    view = loads(await sla(ts_cli, "show", ticket, "--json"))
    assert view["report"]["phone"] == "+49 2131 123456"
    assert view["reporter"] == "Erika Mustermann"
    amendment = [e for e in view["events"] if e["type"] == "report_amended"]
    assert len(amendment) == 1 and amendment[0]["source"] == "cli"

    refused(await sla(ts_cli, "amend", ticket, "--phone", "call me"), "phone")
    refused(await sla(ts_cli, "amend", ticket), "at least one report item")
    refused(await sla(ts_cli, "amend", ticket, "--scope", "some_workstations"), "already says so")


async def test_show_tells_the_sla_s_word_beside_the_resolution_target(
    ts_cli: CliStack, tmp_path: Path
) -> None:
    ticket = await acknowledged(ts_cli, tmp_path)
    before = loads(await sla(ts_cli, "show", ticket, "--json"))
    # Still open with the deadline ahead, but the acknowledgement already told the
    # customer a later time with a reason: the SLA's word is kept (rules 3).
    assert before["resolution_communicated_in_time"] is True
    assert before["resolved_within_target"] is None
    ok(await sla(ts_cli, "resolve", ticket, "--summary", "Index neu aufgebaut"))
    view = loads(await sla(ts_cli, "show", ticket, "--json"))
    assert view["resolution_communicated_in_time"] is True
    assert view["resolved_within_target"] is True
    out = ok(await sla(ts_cli, "show", ticket)).stdout
    assert "resolution promise" in out and "kept" in out
