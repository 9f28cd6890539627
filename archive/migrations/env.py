"""Alembic environment of the archive: the connection comes from the caller.

:func:`archive.migrate.upgrade` passes an open connection in
``config.attributes["connection"]``; no ``alembic.ini`` and no URL in a file,
so the one place that decides where the archive lives is
:func:`archive.config.archive_url`. Run without a connection (the ``alembic``
command with ``-x url=…``), it opens one itself.
"""

from __future__ import annotations

from alembic import context

from archive.engine import create_engine
from archive.tables import metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batches.
        render_as_batch=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations on the caller's connection, or on ``-x url=…``."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the archive URL: alembic -x url=sqlite:///… upgrade head")
    engine = create_engine(url)
    try:
        with engine.connect() as opened:
            _run(opened)
    finally:
        engine.dispose()


main()
