"""``sla api`` refuses to serve without tokens, except as `sla dev` does on loopback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["api", "--port", "1"],
        ["api", "--host", "0.0.0.0", "--open-on-loopback", "--port", "1"],
    ],
)
def test_no_token_no_api(args: list[str]) -> None:
    result = runner.invoke(app, args, env={"SLA_API_TOKENS": "", "SLA_API_TOKENS_FILE": ""})
    assert result.exit_code == 1
    assert "no API token configured" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_token_configuration_is_one_line() -> None:
    result = runner.invoke(app, ["api"], env={"SLA_API_TOKENS": "chat:nothex"})
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "64 hex digits" in result.stderr and "nothex" not in result.stderr
