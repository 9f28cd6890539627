"""The HTTP intake API (DESIGN §5): FastAPI over :mod:`service`, nothing else."""
