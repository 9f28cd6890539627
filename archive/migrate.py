"""Apply and check the archive's Alembic migrations, programmatically (no ``alembic.ini``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from archive.errors import ArchiveNotMigrated

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision this program knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "archive/migrations has no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the schema to :func:`head_revision`; returns it. Idempotent."""
    config = _config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        revision = current_revision(connection)
    assert revision is not None
    return revision


def check(engine: Engine, where: str) -> str:
    """The database's revision, when it is the head.

    Args:
        engine: The archive's engine.
        where: The database as shown to people (password hidden).

    Raises:
        ArchiveNotMigrated: Never migrated, or at another revision than the head.
    """
    with engine.connect() as connection:
        revision = current_revision(connection)
    head = head_revision()
    if revision == head:
        return revision
    if revision is None:
        raise ArchiveNotMigrated(
            f"archive schema at {where} is not migrated: run `sla archive migrate`"
        )
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if revision not in known:
        raise ArchiveNotMigrated(
            f"archive schema at {where} is at revision {revision}, which this version of sla "
            f"does not know (newest known: {head}): upgrade sla"
        )
    raise ArchiveNotMigrated(
        f"archive schema at {where} is not migrated (at {revision}, needs {head}): "
        "run `sla archive migrate`"
    )
