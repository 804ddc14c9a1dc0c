"""The pytest entry point: wiring only; every behaviour lives in the library or in `_plugin/*`."""

from __future__ import annotations

import pytest

# Each component brings its own options, fixtures and hooks in its own small module.
pytest_plugins = [
    "pytest_oxbot._plugin.backends",
    "pytest_oxbot._plugin.cache",
    "pytest_oxbot._plugin.exchange",
    "pytest_oxbot._plugin.compressor",
    "pytest_oxbot._plugin.llm",
    "pytest_oxbot._plugin.kpi",
]


def pytest_report_header(config: pytest.Config) -> str:
    """One line: the effective configuration, each component describing its own part."""
    from pytest_oxbot._plugin import backends, exchange, kpi, llm

    parts = (kpi.describe(config), backends.describe(config), llm.describe(config), exchange.describe(config))
    return "oxbot: " + "; ".join(part for part in parts if part)
