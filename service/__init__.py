"""The client side of the engine: intake, look-ups, queries and the connection to Temporal.

Everything that talks to Temporal *as a client* lives here (the service layer
of cosmicpython's ``service_layer/``); ``starter.py``, ``cli/``, ``reporting/``
and ``worker.py`` (which wires these adapters into activities) use it.
``workflows/`` and ``activities/`` never import it, so the dependency runs one
way: ``domain`` ← ``activities`` ← ``workflows`` ← ``service`` ← front ends.
"""
