"""Chaos runs against real processes: ``python -m chaos.run`` (``make chaos``)."""
