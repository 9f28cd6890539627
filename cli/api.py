"""``sla api``: the HTTP intake API (FastAPI under uvicorn) in the foreground."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
import uvicorn

from activities.mail import is_loopback_host
from api.app import ApiConfig, create_app
from api.tokens import ApiTokens, TokenConfigError
from cli.common import PolicyOption, fail, policy_or_fail
from service.connect import connect

OPEN_ACCESS_NAME = "dev"
"""The intake source recorded when ``sla dev`` runs the API without tokens."""


def api(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    policy: PolicyOption = None,
    open_on_loopback: Annotated[
        bool,
        typer.Option(
            "--open-on-loopback",
            hidden=True,
            help="Without tokens, serve anyone on this machine (what `sla dev` does).",
        ),
    ] = False,
) -> None:
    """Serve the HTTP intake API (reports, incidents, Alertmanager webhooks).

    Tokens come from ``SLA_API_TOKENS`` (``name:sha256hex,…``) or the file named
    by ``SLA_API_TOKENS_FILE``; a request's token name is recorded as the
    report's intake source. Without tokens the API does not start.
    """
    sla_policy = policy_or_fail(policy)
    try:
        tokens = ApiTokens.from_env(os.environ)
    except TokenConfigError as error:
        fail(str(error))
    if not tokens:
        if not (open_on_loopback and is_loopback_host(host)):
            fail(
                "no API token configured: set SLA_API_TOKENS=name:SHA256HEX (the SHA-256 of "
                "the token, e.g. `printf %s TOKEN | sha256sum`) or SLA_API_TOKENS_FILE"
            )
        print(
            f"API on http://{host}:{port} without tokens: open to anyone on this machine "
            "(set SLA_API_TOKENS to require them)",
            file=sys.stderr,
        )
    config = ApiConfig(
        client=connect,
        policy=sla_policy,
        tokens=tokens,
        open_access_name=None if tokens else OPEN_ACCESS_NAME,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            log_level="warning",
            server_header=False,
            # Slow or idle clients do not hold connections open for long.
            timeout_keep_alive=5,
            limit_concurrency=200,
        )
    )
    try:
        server.run()
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")
    if not server.started:
        fail(f"the API did not start on {host}:{port} (is the port in use?)")
