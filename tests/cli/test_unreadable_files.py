"""A report or policy file that is not UTF-8 is one clear line, not a traceback (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sla(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TEMPORAL_ADDRESS": "127.0.0.1:1"},
    )


@pytest.fixture
def latin1_report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    text = json.dumps({"company": "Müller GmbH"}, ensure_ascii=False)
    path.write_bytes(text.encode("latin-1"))
    return path


@pytest.mark.parametrize("command", [["report"], ["change-request", "submit"]])
def test_a_report_file_in_another_encoding_is_refused_in_one_line(
    latin1_report: Path, command: list[str]
) -> None:
    result = sla(*command, "--file", str(latin1_report))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_policy_file_in_another_encoding_is_refused_in_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_bytes('name = "Müller"\n'.encode("latin-1"))
    result = sla("list", "--policy", str(policy))
    assert result.returncode == 1
    assert "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_the_starter_script_refuses_it_in_one_line(latin1_report: Path) -> None:
    result = subprocess.run(
        [sys.executable, "starter.py", str(latin1_report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr
