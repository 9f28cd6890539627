"""Where the archive lives: ``SLA_ARCHIVE_URL``, else a SQLite file in the data dir."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$SLA_DATA_DIR``, default ``.sla`` (as the worker and ``sla dev`` read it)."""
    source = os.environ if env is None else env
    return Path(source.get("SLA_DATA_DIR") or ".sla")


def archive_url(env: Mapping[str, str] | None = None) -> str:
    """The archive's SQLAlchemy URL.

    ``SLA_ARCHIVE_URL`` when set (production: ``postgresql+psycopg://…``), else
    ``sqlite:///$SLA_DATA_DIR/archive.sqlite3``, the embedded default.

    Args:
        env: The environment to read (default: ``os.environ``).
    """
    source = os.environ if env is None else env
    configured = (source.get("SLA_ARCHIVE_URL") or "").strip()
    if configured:
        return configured
    return f"sqlite:///{(data_dir(source) / 'archive.sqlite3').absolute()}"
