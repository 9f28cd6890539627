"""The HTTP intake API against the real dev server (DESIGN §5): answers, refusals, problems."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from openapi_spec_validator import validate

from domain.sla import SlaPolicy
from tests.api.support import TOKEN_NAME, Api, api_on
from tests.conftest import EXAMPLE_REPORT, Stack, text_of
from tests.workflows.waiting import eventually

PROBLEM = "application/problem+json"


@pytest.fixture
async def api(dev_stack: Stack) -> Any:
    async with api_on(dev_stack) as on:
        yield on


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


async def started(api: Api) -> int:
    """How many incidents this stack's task queue has (a refused request starts none)."""
    count = await api.stack.client.count_workflows(f"TaskQueue = '{api.stack.task_queue}'")
    return count.count


def fresh_report(**changes: Any) -> dict[str, Any]:
    """The example report of a company of its own (lists filter on it), no request ID."""
    return {
        **EXAMPLE_REPORT,
        "company": f"Testfirma {uuid.uuid4().hex[:8]} GmbH",
        "request_id": None,
        **changes,
    }


async def test_a_report_opens_a_ticket_and_a_retry_gets_the_same_one(api: Api) -> None:
    report = fresh_report()
    first = await api.http.post("/v1/reports", json=report, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == 201, first.text
    answer = first.json()
    assert set(answer) == {"ticket_id", "reaction_due", "severity", "missing"}
    assert answer["severity"] == "critical" and answer["missing"] == []

    again = await api.http.post("/v1/reports", json=report, headers={"Idempotency-Key": "c-1"})
    assert again.status_code == 200
    assert again.json() == answer

    shown = await api.http.get(f"/v1/incidents/{answer['ticket_id']}")
    assert shown.status_code == 200
    view = shown.json()
    assert view["report"]["source"] == TOKEN_NAME  # the token's name, not the sender's claim
    assert view["report"]["request_id"] == f"{TOKEN_NAME}:c-1"
    assert view["events"][0]["type"] == "reported"


async def test_the_same_key_for_another_report_is_a_conflict_not_the_other_ticket(
    api: Api,
) -> None:
    first = await api.http.post("/v1/reports", json=fresh_report(request_id="same-key"))
    assert first.status_code == 201
    other = fresh_report(request_id="same-key")
    body = problem_of(await api.http.post("/v1/reports", json=other), 409)
    assert first.json()["ticket_id"] not in json.dumps(body)


async def test_an_incomplete_report_opens_and_the_reporter_is_asked_for_the_rest(
    api: Api,
) -> None:
    thin = {
        "email": "erika.mustermann@beispiel-versand.de",
        "description": "Druck geht nicht",
        "channel": "chat",
    }
    response = await api.http.post("/v1/reports", json=thin)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["missing"] == [
        "company",
        "full_name",
        "phone",
        "first_noticed_at",
        "scope",
        "reproducible",
    ]

    async def asked() -> None:
        receipts = api.stack.emails_of_kind("receipt")
        assert receipts, "no receipt yet"
        body = text_of(receipts[0])
        assert "fehlen uns noch" in body and "Ihre Telefonnummer" in body

    await eventually(asked, seconds=15)

    patched = await api.http.patch(
        f"/v1/incidents/{answer['ticket_id']}/report",
        json={"phone": "+49 2131 123456", "company": "Beispiel Versand GmbH"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["missing"] == ["full_name", "first_noticed_at", "scope", "reproducible"]
    problem_of(await api.http.patch(f"/v1/incidents/{answer['ticket_id']}/report", json={}), 422)
    problem_of(
        await api.http.patch(
            f"/v1/incidents/{answer['ticket_id']}/report", json={"phone": "+49 2131 123456"}
        ),
        409,
    )


async def test_tokens_are_required_and_refusals_are_problem_details(api: Api) -> None:
    before = await started(api)
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic x"},
    ):
        response = await api.http.post("/v1/reports", json=EXAMPLE_REPORT, headers=headers)
        problem_of(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    problem_of(await api.http.get("/v1/incidents", headers={"Authorization": ""}), 401)
    assert await started(api) == before


async def test_every_bad_field_is_named_and_nothing_starts(api: Api) -> None:
    before = await started(api)
    bad = {**EXAMPLE_REPORT, "email": "erika@", "phone": "call me", "scope": "everywhere"}
    del bad["description"]
    body = problem_of(await api.http.post("/v1/reports", json=bad), 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) >= {"email", "phone", "scope", "description"}
    assert fields["description"] == "required"
    nobody = {"description": "x", "channel": "chat"}
    body = problem_of(await api.http.post("/v1/reports", json=nobody), 422)
    assert body["errors"][0]["field"] == "email"
    assert await started(api) == before


async def test_a_phone_report_needs_a_premium_customer_number_or_domain(api: Api) -> None:
    before = await started(api)
    by_name = fresh_report(
        company="Beispiel Versand GmbH", email="erika@privat.example", channel="phone"
    )
    body = problem_of(await api.http.post("/v1/reports", json=by_name), 422)
    assert "premium" in body["detail"] and "a company name alone is not checked" in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"customer_number", "email"}
    assert await started(api) == before

    numbered = await api.http.post("/v1/reports", json={**by_name, "customer_number": "K-10001"})
    assert numbered.status_code == 201, numbered.text
    shown = (await api.http.get(f"/v1/incidents/{numbered.json()['ticket_id']}")).json()
    assert shown["report"]["customer_number"] == "K-10001"


async def test_size_media_type_and_unknown_tickets(api: Api) -> None:
    before = await started(api)
    huge = {**EXAMPLE_REPORT, "description": "x" * (1024 * 1024)}
    problem_of(await api.http.post("/v1/reports", json=huge), 413)
    problem_of(await api.http.post("/v1/reports", content=b"company=x"), 415)
    problem_of(
        await api.http.post(
            "/v1/reports", content=b"company=x", headers={"Content-Type": "text/plain"}
        ),
        415,
    )
    problem_of(
        await api.http.post(
            "/v1/reports", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        415,
    )
    problem_of(await api.http.get("/v1/incidents/INC-20261124-AAAAAA"), 404)
    problem_of(await api.http.get("/v1/incidents/..%2f..%2fetc"), 404)
    problem_of(
        await api.http.patch(
            "/v1/incidents/INC-20261124-AAAAAA/report", json={"phone": "+49 2131 1234567"}
        ),
        404,
    )
    assert await started(api) == before


async def test_the_list_filters_like_sla_list(api: Api) -> None:
    report = fresh_report()
    company = report["company"]
    critical = (await api.http.post("/v1/reports", json=report)).json()["ticket_id"]
    minor = {**report, "login_impossible": False, "workaround_available": True}
    minor_ticket = (await api.http.post("/v1/reports", json=minor)).json()["ticket_id"]

    async def listed() -> None:
        response = await api.http.get(
            "/v1/incidents", params={"severity": "minor", "company": company}
        )
        tickets = [item["ticket_id"] for item in response.json()]
        assert tickets == [minor_ticket]
        both = await api.http.get("/v1/incidents", params={"company": company})
        assert {item["ticket_id"] for item in both.json()} == {critical, minor_ticket}

    await eventually(listed, seconds=15)
    problem_of(await api.http.get("/v1/incidents", params={"severity": "urgent"}), 422)
    # Found by fuzzing: a control character in a filter was a server error.
    for company in ("\x00", "a\nb", "x" * 201):
        body = problem_of(await api.http.get("/v1/incidents", params={"company": company}), 422)
        assert body["errors"][0]["field"] == "query.company"


async def test_health_and_a_valid_openapi_document(api: Api) -> None:
    health = await api.http.get("/healthz", headers={"Authorization": ""})
    assert health.status_code == 200 and health.json()["status"] == "ok"
    document = (await api.http.get("/openapi.json")).json()
    validate(document)
    assert {
        "/v1/reports",
        "/v1/incidents",
        "/v1/incidents/{ticket_id}",
        "/v1/incidents/{ticket_id}/report",
        "/v1/alerts/alertmanager",
    } <= set(document["paths"])
    docs = await api.http.get("/docs")
    assert docs.status_code == 200
    # Served from the API itself: the page works on a machine without internet.
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    script = await api.http.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_monitoring_reports_wait_for_an_operator_before_going_public(
    dev_stack: Stack,
) -> None:
    monitoring = {
        "description": "Alertmanager: HostDown",
        "email": "ops@myconvento.com",
        "channel": "monitoring",
    }
    async with api_on(dev_stack) as api:
        quiet = (await api.http.post("/v1/reports", json=monitoring)).json()["ticket_id"]
    trusting = SlaPolicy.default()
    trusting = trusting.model_copy(
        update={
            "intake": trusting.intake.model_copy(
                update={
                    "monitoring": trusting.intake.monitoring.model_copy(
                        update={"publish_unconfirmed": True}
                    )
                }
            )
        }
    )
    async with api_on(dev_stack, trusting) as api:
        public = (
            await api.http.post("/v1/reports", json={**monitoring, "description": "DiskFull"})
        ).json()["ticket_id"]

        async def views() -> tuple[dict[str, Any], dict[str, Any]]:
            a = (await api.http.get(f"/v1/incidents/{quiet}")).json()
            b = (await api.http.get(f"/v1/incidents/{public}")).json()
            assert "events" in a and "events" in b
            return a, b

        unconfirmed, published = await eventually(views, seconds=15)
    assert unconfirmed["all_users"] is False
    assert all(e["type"] != "status_published" for e in unconfirmed["events"])
    assert any(e["type"] == "status_published" for e in published["events"])
