"""The ``sla`` command line."""
