"""Benchmarks of the SLA engine (not tests); run them with ``python -m bench.run``."""
