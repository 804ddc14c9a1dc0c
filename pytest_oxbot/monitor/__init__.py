"""The live performance monitor: metrics from running bots, alerts that act, history, HTTP service.

Light at import (the LLM client imports `PerformanceMonitor` from here): the reporter, the monitor
service and the web parts load on first use. The HTTP service, /metrics and YAML configuration need
the `monitor` extra (`pip install 'pytest-oxbot[monitor]'`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_oxbot.monitor.performance import LatencyAlert, PerformanceMonitor

if TYPE_CHECKING:
    from pytest_oxbot.monitor.actions import ActionBoard, ActionOrder
    from pytest_oxbot.monitor.app import create_app, serve
    from pytest_oxbot.monitor.config import AlertRule, MonitorConfig, default_config, load_config
    from pytest_oxbot.monitor.fleet import RedisFleet, RedisReporterLink
    from pytest_oxbot.monitor.history import HistoryStore
    from pytest_oxbot.monitor.reporter import MetricsReporter
    from pytest_oxbot.monitor.service import Monitor

__all__ = [
    "ActionBoard",
    "ActionOrder",
    "AlertRule",
    "HistoryStore",
    "LatencyAlert",
    "MetricsReporter",
    "Monitor",
    "MonitorConfig",
    "PerformanceMonitor",
    "RedisFleet",
    "RedisReporterLink",
    "create_app",
    "default_config",
    "load_config",
    "serve",
]

_LAZY = {
    "ActionBoard": "actions",
    "ActionOrder": "actions",
    "AlertRule": "config",
    "MonitorConfig": "config",
    "default_config": "config",
    "load_config": "config",
    "RedisFleet": "fleet",
    "RedisReporterLink": "fleet",
    "HistoryStore": "history",
    "MetricsReporter": "reporter",
    "Monitor": "service",
    "create_app": "app",
    "serve": "app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_oxbot.monitor' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"pytest_oxbot.monitor.{module}"), name)
