"""The minimal PerformanceMonitor: per-model rolling latency, alert on and off, spend."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pytest_oxbot.monitor import LatencyAlert, PerformanceMonitor


def test_alert_fires_once_when_the_rolling_mean_passes_the_threshold_and_clears_after() -> None:
    monitor = PerformanceMonitor(latency_threshold_s=1.0, window=3, min_samples=2)
    alerts: list[LatencyAlert] = []
    monitor.subscribe(alerts.append)
    monitor.record_llm_call("m", 0.5)
    monitor.record_llm_call("m", 2.0)  # mean 1.25 > 1.0
    monitor.record_llm_call("m", 2.0)  # still on: no second alert
    assert [a.active for a in alerts] == [True]
    assert alerts[0].mean_latency_s == pytest.approx(1.25)
    for _ in range(3):
        monitor.record_llm_call("m", 0.1)
    assert [a.active for a in alerts] == [True, False]
    assert not monitor.is_alerting("m")


def test_models_are_judged_separately_and_spend_is_exact() -> None:
    monitor = PerformanceMonitor(latency_threshold_s=1.0, window=2, min_samples=2)
    monitor.record_llm_call("slow", 3.0, Decimal("0.0001"))
    monitor.record_llm_call("fast", 0.1, Decimal("0.0002"))
    monitor.record_llm_call("slow", 3.0, Decimal("0.0001"))
    assert monitor.is_alerting("slow")
    assert not monitor.is_alerting("fast")
    snap = monitor.snapshot()
    assert snap["slow"]["spend_usd"] == "0.0002"
    assert snap["slow"]["calls"] == 2


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_samples"):
        PerformanceMonitor(window=2, min_samples=3)
