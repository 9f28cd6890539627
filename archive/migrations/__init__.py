"""Alembic migrations of the archive (``sla archive migrate`` applies them)."""
