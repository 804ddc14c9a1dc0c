"""SQL checks any bot can point at its own queries: which plan the database picks, which indexes it uses.

Engines are built by `pytest_oxbot.connections.make_engine`; the reference bot's tables live beside the
benchmarks (`benchmarks/reference_bot/`), not in the installed package.
"""

from pytest_oxbot.db.explain import QueryPlan, explain

__all__ = ["QueryPlan", "explain"]
