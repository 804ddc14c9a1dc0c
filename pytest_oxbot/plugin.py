"""The pytest entry point: wiring only; every behaviour lives in the library or in `_plugin/*`.

Each component brings its own options, fixtures and hooks in its own small module, registered here when
pytest asks for options. Not through `pytest_plugins`: pytest resolves every name listed there against
the entry points of every installed distribution first, which cost more than the six modules themselves
(measured: about 9 million instructions per name, in every run).
"""

from __future__ import annotations

import pytest

COMPONENTS = ("backends", "cache", "exchange", "compressor", "llm", "kpi", "monitor")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the component modules; pytest then calls their own `pytest_addoption` (a historic hook)."""
    from importlib import import_module

    for component in COMPONENTS:
        name = f"pytest_oxbot._plugin.{component}"
        if pluginmanager.get_plugin(name) is None and not pluginmanager.is_blocked(name):
            pluginmanager.register(import_module(name), name)


def pytest_report_header(config: pytest.Config) -> str:
    """One line: the effective configuration, each component describing its own part."""
    from pytest_oxbot._plugin import backends, exchange, kpi, llm

    parts = (kpi.describe(config), backends.describe(config), llm.describe(config), exchange.describe(config))
    return "oxbot: " + "; ".join(part for part in parts if part)
