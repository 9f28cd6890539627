"""Monthly export: CSV, JSON and Parquet with the SLA figures, no personal data, no formulas."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from datetime import UTC, datetime

import pytest

from archive.errors import ArchiveError, ExportUnavailable
from archive.export import FIELDS
from archive.store import ArchiveStore
from tests.archive.streams import incident_batches, synthetic_batch

pytestmark = pytest.mark.timeout(60)

TICKET = "INC-20261124-7QK2AB"


@pytest.fixture
def november(store: ArchiveStore) -> ArchiveStore:
    for batch in incident_batches(TICKET):
        store.append(batch)
    store.append(
        synthetic_batch(
            "INC-20261126-FORMUL",
            company='=HYPERLINK("http://evil")',
            opened_at=datetime(2026, 11, 26, 9, tzinfo=UTC),
        )
    )
    store.append(
        synthetic_batch("INC-20261203-DECEMB", opened_at=datetime(2026, 12, 3, tzinfo=UTC))
    )
    return store


def test_csv_has_one_row_per_stream_of_the_month_with_the_figures(november: ArchiveStore) -> None:
    data = november.export(2026, 11, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [r["stream_id"] for r in rows] == [TICKET, "INC-20261126-FORMUL"]
    first = rows[0]
    assert list(first) == [name for name, _ in FIELDS]
    assert first["severity"] == "critical"
    assert first["status"] == "resolved"
    assert first["reaction_breached"] == "false"
    assert datetime.fromisoformat(first["resolution_due"]).tzinfo is not None
    assert first["resolved_within_target"] in ("true", "false")
    assert "Mustermann" not in data.decode("utf-8")
    assert "Anmeldung" not in data.decode("utf-8")
    # A company that starts like a formula cannot run in a spreadsheet.
    assert rows[1]["company"].startswith("'=")


def test_json_export_is_an_array_of_objects(november: ArchiveStore) -> None:
    data = json.loads(november.export(2026, 11, "json"))
    assert [r["stream_id"] for r in data] == [TICKET, "INC-20261126-FORMUL"]
    assert data[0]["reaction_breached"] is False
    assert data[0]["escalation_stage"] == "1"  # the extension replaced a live estimate
    assert data[0]["erased"] is False
    assert data[1]["company"] == '=HYPERLINK("http://evil")'  # JSON is data, not a sheet


def test_parquet_export_is_typed(november: ArchiveStore) -> None:
    if importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow is not installed (the parquet extra)")
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(november.export(2026, 11, "parquet")))
    assert table.column("stream_id").to_pylist() == [TICKET, "INC-20261126-FORMUL"]
    assert str(table.schema.field("opened_at").type) == "timestamp[us, tz=UTC]"
    assert table.column("reaction_breached").to_pylist()[0] is False


def test_parquet_without_pyarrow_is_a_clear_refusal(
    november: ArchiveStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ExportUnavailable, match=r"needs pyarrow"):
        november.export(2026, 11, "parquet")


def test_an_empty_month_exports_a_header_only(november: ArchiveStore) -> None:
    assert november.export(2025, 1, "csv").decode().strip() == ",".join(n for n, _ in FIELDS)
    assert json.loads(november.export(2025, 1, "json")) == []


@pytest.mark.parametrize(("year", "month"), [(2026, 13), (2026, 0), (1, 1)])
def test_a_month_that_is_none_is_refused(november: ArchiveStore, year: int, month: int) -> None:
    with pytest.raises(ArchiveError, match="is not a month"):
        november.export(year, month, "csv")


def test_an_unknown_format_is_refused(november: ArchiveStore) -> None:
    with pytest.raises(ArchiveError, match="csv, json or parquet"):
        november.export(2026, 11, "xlsx")
