"""The FastAPI application: routes over :mod:`service`, errors as problem details.

Routes (DESIGN §5)::

    POST  /v1/reports                       201 new ticket, 200 the same ticket again
    GET   /v1/incidents/{ticket_id}         as `sla show --json`
    GET   /v1/incidents?status=&severity=&company=
    PATCH /v1/incidents/{ticket_id}/report  fill in missing report items
    POST  /v1/alerts/alertmanager           Alertmanager webhook (version 4)
    GET   /healthz  /openapi.json  /docs

Every route but ``/healthz`` and the documentation needs ``Authorization:
Bearer TOKEN``; the token's name is recorded as the report's intake source.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.guard import BodyGuard
from api.problems import ApiProblem, problem_response, request_errors
from api.tokens import ApiTokens
from domain.errors import IntakeError, error_items
from domain.incident import IncidentStatus
from domain.read_model import IncidentSummary
from domain.report import IncidentReport, ReportChanges
from domain.sla import Severity, SlaPolicy
from domain.values import NonEmptyLine
from service.alert_intake import receive_alertmanager
from service.alertmanager import AlertmanagerPayload
from service.archive import open_archive_if_any
from service.incident_source import (
    ArchiveOpener,
    IncidentNotFound,
    LocatedSummary,
    LocatedView,
    find_incident,
    list_incidents_anywhere,
)
from service.incident_updates import UpdateNotTaken, amend_report
from service.incidents import Targets, open_incident
from service.intake import IntakeConflict

__all__ = ["ApiConfig", "OpenedAnswer", "create_app"]

log = logging.getLogger("sla.api")

HEALTH_TIMEOUT = timedelta(seconds=3)
"""How long ``/healthz`` waits for Temporal."""

_TICKET = re.compile(r"^[A-Z]{2,4}-\d{8}-[A-Z2-7]{6}(?:-\d{1,3})?$")
_KEY = re.compile(r"^[\w.:@/-]{1,100}$")


@dataclass(frozen=True)
class ApiConfig:
    """What the API runs with.

    Attributes:
        client: Connects to Temporal (called once, then the client is kept;
            a failed connect is a 503 and tried again on the next request).
        policy: The policy incidents are opened under.
        tokens: The configured tokens; empty only for ``sla dev`` on loopback.
        open_access_name: The intake source recorded without tokens (``dev``).
        targets: The worker's task queue and status page workflow.
        archive: Opens the archive, where closed incidents are read once
            Temporal no longer has them (``None``: Temporal only).
    """

    client: Callable[[], Awaitable[Client]]
    policy: SlaPolicy
    tokens: ApiTokens
    open_access_name: str | None = None
    targets: Targets = field(default_factory=Targets)
    archive: ArchiveOpener | None = open_archive_if_any


class OpenedAnswer(BaseModel):
    """The answer to ``POST /v1/reports``."""

    ticket_id: str
    reaction_due: datetime
    severity: Severity
    missing: list[str]


class AlertAnswer(BaseModel):
    """The answer to ``POST /v1/alerts/alertmanager``."""

    ticket_id: str
    action: Literal["opened", "recorded", "closed"]


class Health(BaseModel):
    """The answer to ``GET /healthz``."""

    status: Literal["ok"]
    temporal: str


_PROBLEM = {"content": {"application/problem+json": {}}, "description": "Problem details"}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (401, 404, 409, 413, 415, 422, 503)
}


def _with_refusals(status: int, model: type[BaseModel], description: str) -> dict[int | str, Any]:
    """The documented responses: one more success, and every refusal."""
    return {status: {"model": model, "description": description}, **_REFUSALS}


async def _caller(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The name of the caller's token (the intake source); 401 without a valid one."""
    config: ApiConfig = request.app.state.config
    if not config.tokens:
        assert config.open_access_name is not None  # refused at start otherwise
        return config.open_access_name
    scheme, _, token = (authorization or "").partition(" ")
    name = config.tokens.name_of(token.strip()) if scheme.lower() == "bearer" else None
    if name is None:
        raise ApiProblem(
            401,
            "send a valid API token: Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": 'Bearer realm="sla"'},
        )
    return name


Caller = Annotated[str, Depends(_caller)]
"""A route parameter holding the caller's token name."""

Ticket = Annotated[str, Path(max_length=40, description="e.g. INC-20261124-7QK2AB")]


def create_app(config: ApiConfig) -> FastAPI:
    """The API over ``config`` (routes, auth, guards, problem details)."""
    app = FastAPI(
        title="SLA incident engine",
        version="1",
        # /docs below serves Swagger UI's own files: nothing is fetched from a CDN.
        docs_url=None,
        redoc_url=None,
        description=(
            "Intake and incident lookup of the myconvento support SLA. "
            "Authenticate with `Authorization: Bearer TOKEN`."
        ),
    )
    app.state.config = config
    connection: dict[str, Client] = {}

    async def temporal() -> Client:
        if "client" not in connection:
            try:
                connection["client"] = await config.client()
            except Exception as error:
                log.warning("Temporal unreachable: %s", error)
                raise ApiProblem(503, "the incident engine is unreachable; retry later") from None
        return connection["client"]

    def known_ticket(ticket_id: str) -> str:
        if not _TICKET.match(ticket_id):
            raise ApiProblem(404, f"no incident {ticket_id[:40]!r}")
        return ticket_id

    # -- intake ---------------------------------------------------------------

    @app.post(
        "/v1/reports",
        status_code=201,
        response_model=OpenedAnswer,
        responses=_with_refusals(200, OpenedAnswer, "The same ticket again"),
        summary="Report a disturbance",
    )
    async def post_report(
        report: IncidentReport,
        response: Response,
        source: Caller,
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=100,
                description="The sender's request ID: a retry gets the same ticket (200).",
            ),
        ] = None,
    ) -> OpenedAnswer:
        """Open an incident; items the SLA asks for that are missing are listed."""
        key = idempotency_key.strip() if idempotency_key else report.request_id
        if key is not None and not _KEY.match(key):
            raise ApiProblem(
                422,
                "Idempotency-Key: letters, digits and . _ : @ / - only (at most 100)",
                errors=[("Idempotency-Key", "letters, digits and . _ : @ / - only")],
            )
        # One intake system's IDs never meet another's.
        request_id = None if key is None else f"{source}:{key}"
        opened = await open_incident(
            await temporal(),
            report.model_copy(update={"request_id": request_id}),
            policy=config.policy,
            source=source,
            task_queue=config.targets.task_queue,
            status_page_id=config.targets.status_page_id,
        )
        response.status_code = 201 if opened.created else 200
        return OpenedAnswer(
            ticket_id=opened.ticket_id,
            reaction_due=opened.reaction_due,
            severity=opened.severity,
            missing=list(opened.missing),
        )

    @app.patch(
        "/v1/incidents/{ticket_id}/report",
        response_model=IncidentSummary,
        responses=_REFUSALS,
        summary="Fill in missing report items",
    )
    async def patch_report(
        ticket_id: Ticket, changes: ReportChanges, source: Caller
    ) -> IncidentSummary:
        """Fill in (or correct) report items; recorded on the incident's timeline."""
        return await amend_report(await temporal(), known_ticket(ticket_id), changes, source=source)

    @app.post(
        "/v1/alerts/alertmanager",
        response_model=AlertAnswer,
        responses=_with_refusals(201, AlertAnswer, "A new incident"),
        summary="Prometheus Alertmanager webhook (version 4)",
    )
    async def post_alertmanager(
        payload: AlertmanagerPayload, response: Response, source: Caller
    ) -> AlertAnswer:
        """One incident per alert group; later notifications join its timeline."""
        receipt = await receive_alertmanager(
            await temporal(),
            payload,
            policy=config.policy,
            source=source,
            task_queue=config.targets.task_queue,
            status_page_id=config.targets.status_page_id,
        )
        response.status_code = 201 if receipt.action == "opened" else 200
        return AlertAnswer(ticket_id=receipt.ticket_id, action=receipt.action)

    # -- reading --------------------------------------------------------------

    @app.get(
        "/v1/incidents/{ticket_id}",
        response_model=LocatedView,
        responses=_REFUSALS,
        summary="One incident, as `sla show --json`",
    )
    async def get_incident(ticket_id: Ticket, _: Caller) -> LocatedView:
        """The incident's state, deadlines, whole report and timeline.

        ``source`` says where it was read: ``temporal``, or ``archive`` once
        Temporal no longer holds the closed incident.
        """
        try:
            return await find_incident(
                await temporal(), known_ticket(ticket_id), archive=config.archive
            )
        except IncidentNotFound as error:
            if error.archive_error is not None:
                log.warning("archive not read for %s: %s", ticket_id, error.archive_error)
            raise ApiProblem(404, "no such incident") from None

    @app.get(
        "/v1/incidents",
        response_model=list[LocatedSummary],
        responses=_REFUSALS,
        summary="Incidents, next deadline first",
    )
    async def get_incidents(
        _: Caller,
        status: IncidentStatus | None = None,
        severity: Severity | None = None,
        company: Annotated[NonEmptyLine | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[LocatedSummary]:
        """Open incidents (or those of ``status``), filtered like `sla list`.

        ``status=resolved`` also lists resolved incidents only the archive
        still has (``source``: ``archive``), after Temporal's.
        """
        summaries, skipped, archive_error = await list_incidents_anywhere(
            await temporal(),
            status=status,
            severity=severity,
            company=company,
            limit=limit,
            archive=config.archive,
        )
        for item in skipped:
            log.warning("incident %s skipped: %s", item.workflow_id, item.reason)
        if archive_error is not None:
            log.warning("archive not read for the incident list: %s", archive_error)
        return summaries

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="SLA incident engine — API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    @app.get("/healthz", response_model=Health, responses={503: _PROBLEM})
    async def healthz() -> Health:
        """Whether Temporal answers (no token needed)."""
        client = await temporal()
        try:
            await client.service_client.check_health(timeout=HEALTH_TIMEOUT)
        except Exception as error:
            log.warning("health check failed: %s", error)
            raise ApiProblem(503, "Temporal does not answer") from None
        return Health(status="ok", temporal=client.service_client.config.target_host)

    _install_error_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=config.policy.intake.max_body_bytes)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every failure as problem details; the rules' refusals in their own words."""

    @app.exception_handler(ApiProblem)
    async def on_problem(request: Request, error: ApiProblem) -> Response:
        return problem_response(
            error.status, error.detail, errors=error.errors, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        errors = request_errors(error.errors())
        if any(message == "not valid JSON" for _, message in errors):
            return problem_response(415, "the body is not valid JSON")
        fields = "; ".join(f"{field}: {message}" for field, message in errors)
        return problem_response(422, f"refused: {fields}", errors=errors)

    @app.exception_handler(ValidationError)
    async def on_model_error(request: Request, error: ValidationError) -> Response:
        errors = error_items(error.errors())
        fields = "; ".join(f"{field}: {message}" for field, message in errors)
        return problem_response(422, f"refused: {fields}", errors=errors)

    @app.exception_handler(IntakeConflict)
    async def on_conflict(request: Request, error: IntakeConflict) -> Response:
        # Not the other report's ticket: a reused key must not reveal it.
        return problem_response(
            409,
            "this Idempotency-Key (request_id) was already used for a different report; "
            "send a new key for a new report",
        )

    @app.exception_handler(IntakeError)
    async def on_intake(request: Request, error: IntakeError) -> Response:
        return problem_response(422, str(error), errors=error.errors)

    @app.exception_handler(UpdateNotTaken)
    async def on_not_taken(request: Request, error: UpdateNotTaken) -> Response:
        return problem_response(409 if error.closed else 503, str(error))

    @app.exception_handler(WorkflowUpdateFailedError)
    async def on_refused(request: Request, error: WorkflowUpdateFailedError) -> Response:
        cause = error.cause
        if isinstance(cause, ApplicationError):
            status = 422 if cause.type == "InvalidInput" else 409
            return problem_response(status, cause.message)
        log.error("update failed: %r", error)
        return problem_response(500, "the command failed; see the server log")

    @app.exception_handler(RPCError)
    async def on_rpc(request: Request, error: RPCError) -> Response:
        if error.status == RPCStatusCode.NOT_FOUND:
            return problem_response(404, "no such incident")
        log.warning("Temporal: %s", error)
        return problem_response(503, "the incident engine is unavailable; retry later")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        return problem_response(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error; the server log has the details")
