"""A month's streams as CSV, JSON or Parquet for controlling and BI tools.

One row per stream with the SLA figures, and no personal data: exports leave
the system and end up in spreadsheets, so the reporter is left out by design.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from archive.errors import ExportUnavailable
from archive.records import StreamRecord


class ExportFormat(StrEnum):
    """The formats ``sla export`` writes."""

    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


FIELDS: tuple[tuple[str, str], ...] = (
    ("stream_id", "str"),
    ("kind", "str"),
    ("company", "str"),
    ("status", "str"),
    ("severity", "str"),
    ("channel", "str"),
    ("opened_at", "time"),
    ("acknowledged_at", "time"),
    ("resolved_at", "time"),
    ("reaction_due", "time"),
    ("resolution_due", "time"),
    ("escalation_stage", "str"),
    ("reaction_breached", "bool"),
    ("resolution_breached", "bool"),
    ("resolution_communicated_in_time", "bool"),
    ("resolved_within_target", "bool"),
    ("erased", "bool"),
)
"""Export columns and their types; figures a stream's kind has not are empty."""

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows(records: Sequence[StreamRecord]) -> list[dict[str, Any]]:
    """The export rows of ``records`` (Python values: str, bool, aware datetime or None)."""
    result = []
    for record in records:
        summary = record.summary
        row: dict[str, Any] = {}
        for name, kind in FIELDS:
            if name == "erased":
                value: Any = record.erased_at is not None
            elif name in ("stream_id", "kind", "company", "status", "severity", "opened_at"):
                value = getattr(record, name)
            elif name == "resolved_at":
                value = record.resolved_at
            else:
                value = summary.get(name)
            row[name] = _typed(value, kind)
        result.append(row)
    return result


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "time":
        return value if isinstance(value, datetime) else _instant(value)
    if kind == "bool":
        return value if isinstance(value, bool) else None
    return str(value.value if isinstance(value, StrEnum) else value)


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(records: Sequence[StreamRecord]) -> bytes:
    """UTF-8 CSV with a header row (BOM-less; ISO 8601 instants; ``true``/``false``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in FIELDS])
    for row in rows(records):
        writer.writerow([_text(row[name]) for name, _ in FIELDS])
    return buffer.getvalue().encode("utf-8")


def to_json(records: Sequence[StreamRecord]) -> bytes:
    """A JSON array of objects (instants as ISO 8601 strings)."""
    data = [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
        for row in rows(records)
    ]
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def to_parquet(records: Sequence[StreamRecord]) -> bytes:
    """A Parquet file (typed columns: strings, booleans, UTC timestamps).

    Raises:
        ExportUnavailable: pyarrow is not installed (the ``parquet`` extra).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportUnavailable(
            "parquet export needs pyarrow: pip install 'sla-engine[parquet]' "
            "(or export --format csv or json)"
        ) from None
    types = {"str": pa.string(), "bool": pa.bool_(), "time": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([(name, types[kind]) for name, kind in FIELDS])
    table = pa.Table.from_pylist(rows(records), schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def export(records: Sequence[StreamRecord], fmt: ExportFormat) -> bytes:
    """``records`` in ``fmt``."""
    if fmt is ExportFormat.CSV:
        return to_csv(records)
    if fmt is ExportFormat.JSON:
        return to_json(records)
    return to_parquet(records)
