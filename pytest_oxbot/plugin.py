"""The pytest entry point: wiring only; every behaviour lives in the library or in `_plugin/*`."""

from __future__ import annotations

# Each component brings its own options, fixtures and hooks in its own small module.
pytest_plugins = [
    "pytest_oxbot._plugin.backends",
    "pytest_oxbot._plugin.cache",
    "pytest_oxbot._plugin.exchange",
    "pytest_oxbot._plugin.compressor",
    "pytest_oxbot._plugin.llm",
    "pytest_oxbot._plugin.kpi",
    "pytest_oxbot._plugin.monitor",
]
