"""End to end: one incident in through each door of a running ``sla dev`` (issue 15).

HTTP with ``curl`` (a client no one here wrote), the real Prometheus
Alertmanager posting its webhook, the real Dovecot IMAP server read by
``sla mail-intake``, and the CLI — with duplicates, replies and refusals. The
same running API is then fuzzed from its own OpenAPI document (schemathesis):
no request may end in a server error.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from api.tokens import token_digest
from tests.conftest import report
from tests.e2e.policies import write_round_the_clock_policy
from tests.e2e.test_sla_dev import Dev, emails_by_kind, free_ports, sla_dev
from tests.realservers.alertmanager import running_alertmanager
from tests.realservers.dovecot import dovecot_or_skip, running_dovecot

TOKEN = "e2e-" + uuid.uuid4().hex
TOKEN_NAME = "helpdesk"


@pytest.fixture(scope="module")
async def dev(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Dev]:
    root = tmp_path_factory.mktemp("intake")
    running = Dev(
        data_dir=root / "data",
        # Long deadlines: nothing fires while the doors are tried.
        policy=write_round_the_clock_policy(
            root / "policy.toml",
            critical=("PT1H", "PT4H"),
            major=("PT1H", "PT8H"),
            minor=("PT2H", "PT24H"),
        ),
        ports=free_ports(4),
        log=root / "sla-dev.log",
        extra_env={"SLA_API_TOKENS": f"{TOKEN_NAME}:{token_digest(TOKEN)}"},
    )
    async with sla_dev(running):
        await running.until("the API answers", lambda: _healthy(running), seconds=60)
        yield running


def api_url(dev: Dev) -> str:
    return f"http://127.0.0.1:{dev.ports[3]}"


async def _healthy(dev: Dev) -> bool:
    status, _ = await curl(dev, "GET", "/healthz")
    return status == 200


async def curl(
    dev: Dev,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """``curl`` the API; returns the status and the parsed JSON body (or the text)."""
    args = ["curl", "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}"]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        if raw is None:
            args += ["-H", "Content-Type: application/json"]
        args += ["--data-binary", "@-"]
    args.append(api_url(dev) + path)
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(data), 30)
    text, _, status = out.decode().rpartition("\n")
    assert status.isdigit(), (out, err)
    try:
        return int(status), json.loads(text)
    except json.JSONDecodeError:
        return int(status), text


async def count_incidents(dev: Dev) -> int:
    listed = (await dev.sla("list", "--all", "--json")).json()
    return len(listed)


pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.mark.timeout(240)
async def test_the_http_door_with_curl(dev: Dev) -> None:
    request = report(request_id=None, company="Curl & Co. KG")
    status, opened = await curl(
        dev, "POST", "/v1/reports", request, headers={"Idempotency-Key": "t-1"}
    )
    assert status == 201, opened
    status, again = await curl(
        dev, "POST", "/v1/reports", request, headers={"Idempotency-Key": "t-1"}
    )
    assert (status, again) == (200, opened)

    before = await count_incidents(dev)
    status, problem = await curl(dev, "POST", "/v1/reports", request, token=None)
    assert status == 401 and problem["status"] == 401
    status, problem = await curl(dev, "POST", "/v1/reports", {**request, "email": "x@"})
    assert status == 422 and problem["errors"][0]["field"] == "email"
    status, problem = await curl(dev, "POST", "/v1/reports", raw=b"company=ACME")
    assert status == 415
    assert await count_incidents(dev) == before  # nothing started by a refusal

    status, view = await curl(dev, "GET", f"/v1/incidents/{opened['ticket_id']}")
    assert status == 200
    assert view["report"]["source"] == TOKEN_NAME
    shown = await dev.show(opened["ticket_id"])
    assert shown["report"] == view["report"]  # the API shows what `sla show --json` shows


@pytest.mark.timeout(240)
async def test_the_cli_door_still_opens_tickets(dev: Dev, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report(request_id="cli-door-1")), "utf-8")
    first = await dev.sla("report", "--file", str(path))
    second = await dev.sla("report", "--file", str(path))
    assert first.code == 0 and first.stdout == second.stdout
    view = await dev.show(first.stdout.strip())
    assert view["report"]["source"] == "cli"


@pytest.mark.timeout(240)
async def test_the_monitoring_door_with_the_real_alertmanager(dev: Dev) -> None:
    alertname = f"DiskFull{uuid.uuid4().hex[:6]}"
    async with running_alertmanager(
        webhook_url=api_url(dev) + "/v1/alerts/alertmanager", bearer_token=TOKEN
    ) as alertmanager:
        first = alertmanager.alert(
            alertname,
            labels={"severity": "critical", "instance": "db-1"},
            annotations={"summary": "Datenbank-Platte voll"},
        )
        await alertmanager.post_alerts([first])

        async def monitoring_incidents() -> list[dict[str, Any]]:
            listed = (await dev.sla("list", "--all", "--json")).json()
            return [
                s for s in listed if s["channel"] == "monitoring" and s["severity"] == "critical"
            ]

        (incident,) = await dev.until("the alert opened an incident", monitoring_incidents, 30)
        ticket = incident["ticket_id"]
        view = await dev.show(ticket)
        assert alertname in view["report"]["description"]
        assert view["all_users"] is False  # not public before an operator confirms

        second = alertmanager.alert(alertname, labels={"severity": "critical", "instance": "db-2"})
        await alertmanager.post_alerts([first, second])

        async def timeline(kind: str) -> list[dict[str, Any]]:
            events = (await dev.show(ticket))["events"]
            return [e for e in events if e["type"] == "alert_notified" and e["status"] == kind]

        await dev.until("the second alert joined the timeline", lambda: timeline("firing"), 30)
        await alertmanager.resolve([first, second])
        await dev.until("the resolution was recorded", lambda: timeline("resolved"), 30)
        assert len(await monitoring_incidents()) == 1  # one group, one incident
        assert (await dev.show(ticket))["status"] == "new"  # a person confirms the resolution

        async def operator_told() -> bool:
            mails = emails_by_kind(dev.data_dir / "outbox").get("alert_resolved", [])
            return any(str(m["X-SLA-Ticket"]) == ticket for m in mails)

        await dev.until("the operator was told", operator_told, 30)


def mail(
    subject: str, body: str, *, sender: str = "Erika Mustermann <erika@beispiel-versand.de>"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@myconvento.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="beispiel-versand.de")
    message.set_content(body)
    return message


@pytest.mark.timeout(240)
async def test_the_mailbox_door_with_the_real_dovecot(dev: Dev) -> None:
    binary = dovecot_or_skip()
    with running_dovecot(binary) as server:
        imap = {
            "SLA_IMAP_HOST": server.host,
            "SLA_IMAP_PORT": str(server.port),
            "SLA_IMAP_USER": server.user,
            "SLA_IMAP_PASSWORD": server.password,
            "SLA_IMAP_TLS": "false",
        }
        dev.extra_env.update(imap)
        try:
            new = mail("Versand hängt", "Seit 9 Uhr werden keine Etiketten gedruckt.")
            new.add_attachment(
                b"\x89PNG fake", maintype="image", subtype="png", filename="bild.png"
            )
            server.append(bytes(new))
            server.append(bytes(new))  # the same mail twice (a client that sent it again)
            auto = mail("Abwesenheitsnotiz", "Ich bin bis Montag nicht im Büro.")
            auto["Auto-Submitted"] = "auto-replied"
            server.append(bytes(auto))

            first = (await dev.sla("mail-intake", "--once", "--json", timeout=60)).json()
            assert first["ignored"] == 1, first
            (ticket,) = set(first["tickets"])  # both copies: one ticket
            view = await dev.show(ticket)
            assert view["channel"] == "email" and view["report"]["source"] == "mailbox"
            assert view["report"]["attachments"] == ["bild.png"]
            assert (dev.data_dir / "attachments" / ticket / "bild.png").is_file()
            assert "full_name" not in view["missing"]  # from the display name

            async def receipt_id() -> str | None:
                for m in emails_by_kind(dev.data_dir / "outbox").get("receipt", []):
                    if str(m["X-SLA-Ticket"]) == ticket:
                        return str(m["Message-ID"])
                return None

            ours = await dev.until("the receipt went out", receipt_id, 30)
            reply = mail(
                f"AW: Ihre Störungsmeldung [{ticket}]", "Alle Arbeitsplätze, reproduzierbar."
            )
            reply["In-Reply-To"] = ours
            reply["References"] = ours
            server.append(bytes(reply))
            second = (await dev.sla("mail-intake", "--once", "--json", timeout=60)).json()
            assert second["replies"] == 1 and second["opened"] == 0, second
            events = (await dev.show(ticket))["events"]
            messages = [e for e in events if e["type"] == "customer_message"]
            assert len(messages) == 1 and "reproduzierbar" in messages[0]["text"]
            third = (await dev.sla("mail-intake", "--once", "--json", timeout=60)).json()
            assert third["opened"] == third["replies"] == 0  # nothing twice
        finally:
            for name in imap:
                dev.extra_env.pop(name, None)


# -- fuzzing the running API from its own OpenAPI document --------------------------------


@pytest.mark.timeout(300)
def test_fuzzed_requests_never_meet_a_server_error(dev: Dev) -> None:
    schema = schemathesis.openapi.from_url(api_url(dev) + "/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document is valid: every operation loads
        operations.append(result.ok())
    assert len(operations) >= 6
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same cases every run: a failure reproduces
        )
        def never_a_server_error(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            statuses.append(response.status_code)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.query,
                response.status_code,
                response.text,
                dev.log_tail(),
            )
            if response.status_code >= 400:
                (content_type,) = response.headers["content-type"]  # schemathesis: lists
                assert content_type == "application/problem+json", response.text
                assert "Traceback" not in response.text

        never_a_server_error()
    # Fuzzing that reached the routes: accepted requests as well as refusals.
    assert len(statuses) >= 60, len(statuses)
    assert {200, 201} & set(statuses) and 422 in statuses, sorted(set(statuses))
