"""Performance monitoring: latency and spend per model, and alerts other components subscribe to."""

from pytest_oxbot.monitor.performance import LatencyAlert, PerformanceMonitor

__all__ = ["LatencyAlert", "PerformanceMonitor"]
