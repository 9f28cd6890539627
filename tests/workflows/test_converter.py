"""Recorded data reads back even when today's input checks would refuse it (issue 14).

Tightening a check must never make a workflow's recorded input, events or state
fail to decode: the workflow would be stuck on replay ("Failed decoding
arguments"). The data converter reads payloads as recorded data; input checks
apply to fresh input (intake, commands, update validators) only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from domain.commands import Acknowledge
from domain.report import IncidentReport
from domain.sla import Severity
from domain.values import check_fresh
from tests.conftest import report
from workflows.converter import sla_data_converter


def _legacy_report() -> dict[str, object]:
    # What intake accepted before the bounds: a line break in the company, a
    # long description, a poison address, a first-noticed time far out.
    return report(
        company="ACME\n---\nGmbH",
        description="x" * 30_000,
        email="=?utf-8?q?x=0D=0A?=@example.de",
        first_noticed_at="9999-12-31T23:59:00-05:00",
    )


def test_fresh_input_is_refused_by_the_checks() -> None:
    with pytest.raises(ValidationError) as info:
        IncidentReport.model_validate(_legacy_report())
    fields = {str(e["loc"][0]) for e in info.value.errors()}
    assert {"company", "description", "email", "first_noticed_at"} <= fields


def test_recorded_data_reads_back_unchanged_through_the_converter() -> None:
    converter = sla_data_converter.payload_converter
    # The payload as an older worker wrote it: plain JSON, no checks applied.
    payload = Payload(
        metadata={"encoding": b"json/plain"}, data=json.dumps(_legacy_report()).encode()
    )
    (decoded,) = converter.from_payloads([payload], [IncidentReport])
    assert isinstance(decoded, IncidentReport)
    assert decoded.company == "ACME\n---\nGmbH"
    assert len(decoded.description) == 30_000
    assert decoded.first_noticed_at is not None and decoded.first_noticed_at.year == 9999


def test_an_update_argument_read_back_is_checked_again_as_fresh_input() -> None:
    converter = sla_data_converter.payload_converter
    far = Acknowledge.model_construct(
        severity=Severity.CRITICAL,
        estimate=datetime(9999, 1, 1, tzinfo=UTC),
        all_users=False,
        status_message=None,
    )
    (payload,) = converter.to_payloads([far])
    (read,) = converter.from_payloads([payload], [Acknowledge])
    assert read.estimate.year == 9999  # the converter reads it back ...
    with pytest.raises(ValidationError, match="estimate"):
        check_fresh(read)  # ... and the update validator refuses it
