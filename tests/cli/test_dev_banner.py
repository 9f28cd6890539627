"""What ``sla dev`` prints once the stack runs: the URLs and the two commands to try next."""

from __future__ import annotations

from pathlib import Path

from cli.dev import EXAMPLE_REPORT, DevConfig, banner
from service.intake import parse_report

REPO = Path(__file__).resolve().parents[2]


def config(policy: Path | None = None) -> DevConfig:
    return DevConfig(data_dir=Path("/srv/sla"), policy=policy, port=7233, ui_port=8233)


def test_sla_dev_names_its_urls_and_the_two_commands_to_try_next() -> None:
    lines = banner(config(), cwd=REPO)
    assert "  Temporal UI   http://127.0.0.1:8233" in lines
    assert "  in another terminal: export TEMPORAL_ADDRESS=127.0.0.1:7233" in lines
    try_next = lines[lines.index("  then try:") + 1 :]
    assert try_next[:2] == ["    sla report --file examples/report.json", "    sla watch"]


def test_the_policy_of_sla_dev_is_exported_for_the_commands_to_try(tmp_path: Path) -> None:
    policy = tmp_path / "my policy.toml"
    lines = banner(config(policy), cwd=REPO)
    assert (
        f"  in another terminal: export TEMPORAL_ADDRESS=127.0.0.1:7233 SLA_POLICY='{policy}'"
        in lines
    )


def test_outside_the_repository_the_example_is_named_by_its_full_path(tmp_path: Path) -> None:
    lines = banner(config(), cwd=tmp_path)
    assert f"    sla report --file {EXAMPLE_REPORT}" in lines


def test_the_suggested_example_is_a_valid_report() -> None:
    parse_report((REPO / "examples" / "report.json").read_text("utf-8"))
