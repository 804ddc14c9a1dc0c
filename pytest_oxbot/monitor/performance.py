"""A minimal performance monitor: per-model rolling latency and spend, and a latency alert.

Why per model: the LLM client falls back to a faster model while the alert is on; if latencies of the
fallback were mixed into the same window, the alert would clear itself and the client would flap back.
The monitor only observes and notifies; what to do about an alert is the subscriber's business.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean

__all__ = ["LatencyAlert", "PerformanceMonitor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LatencyAlert:
    """Raised (`active=True`) when a model's rolling mean latency passes the threshold, cleared after."""

    model: str
    active: bool
    mean_latency_s: float
    threshold_s: float
    samples: int


class PerformanceMonitor:
    """Records LLM call latencies (cache misses only: hits say nothing about the provider) and costs."""

    def __init__(self, latency_threshold_s: float = 2.0, *, window: int = 10, min_samples: int = 3) -> None:
        if latency_threshold_s <= 0 or window < 1 or not 1 <= min_samples <= window:
            raise ValueError("need latency_threshold_s > 0 and 1 <= min_samples <= window")
        self.latency_threshold_s = latency_threshold_s
        self.window = window
        self.min_samples = min_samples
        self._latencies: dict[str, deque[float]] = {}
        self._alerting: set[str] = set()
        self._costs: dict[str, Decimal] = {}
        self._calls: dict[str, int] = {}
        self._subscribers: list[Callable[[LatencyAlert], None]] = []

    def subscribe(self, callback: Callable[[LatencyAlert], None]) -> None:
        self._subscribers.append(callback)

    def record_llm_call(self, model: str, latency_s: float, cost: Decimal = Decimal(0)) -> None:
        window = self._latencies.setdefault(model, deque(maxlen=self.window))
        window.append(latency_s)
        self._costs[model] = self._costs.get(model, Decimal(0)) + cost
        self._calls[model] = self._calls.get(model, 0) + 1
        if len(window) < self.min_samples:
            return
        mean = fmean(window)
        over = mean > self.latency_threshold_s
        if over == (model in self._alerting):
            return
        (self._alerting.add if over else self._alerting.discard)(model)
        alert = LatencyAlert(model, over, mean, self.latency_threshold_s, len(window))
        log.warning(
            "latency alert %s for %s: mean %.3fs vs %.3fs",
            "ON" if over else "off",
            model,
            mean,
            self.latency_threshold_s,
        )
        for callback in list(self._subscribers):
            callback(alert)

    def is_alerting(self, model: str) -> bool:
        return model in self._alerting

    def snapshot(self) -> dict[str, dict[str, float | int | str | bool]]:
        """Per-model mean latency, calls and spend (spend as a string: exact Decimal)."""
        return {
            model: {
                "mean_latency_s": fmean(lat) if lat else 0.0,
                "calls": self._calls.get(model, 0),
                "spend_usd": str(self._costs.get(model, Decimal(0))),
                "alerting": model in self._alerting,
            }
            for model, lat in self._latencies.items()
        }
