"""The monitor's derived metrics: one name, unit and meaning each, shared by alerts, history and the page.

Every metric is computed from the components' own counters over a window (rates, ratios, percentiles)
or read as a gauge (memory, today's spend); see `aggregate.py`. Names with a `.tier` suffix are per
cache tier (`cache_hit_rate.l1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LATENCY_BUCKETS_S", "METRICS", "TIERS", "MetricSpec", "is_known_metric"]

# Prometheus-style upper bounds (seconds) of the LLM latency histogram; +Inf is implicit.
LATENCY_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
TIERS: tuple[str, ...] = ("l1", "l2", "l3")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    unit: str
    description: str


METRICS: Mapping[str, MetricSpec] = {
    "cache_hit_rate": MetricSpec("ratio", "cache hits / lookups over the window, every tier"),
    **{
        f"cache_hit_rate.{t}": MetricSpec("ratio", f"{t.upper()} hits / {t.upper()} lookups over the window")
        for t in TIERS
    },
    "llm_response_time": MetricSpec(
        "s", "mean latency of the LLM provider calls (cache misses) in the window"
    ),
    "llm_latency_p50": MetricSpec("s", "median provider-call latency (histogram estimate)"),
    "llm_latency_p95": MetricSpec("s", "95th percentile provider-call latency (histogram estimate)"),
    "llm_latency_p99": MetricSpec("s", "99th percentile provider-call latency (histogram estimate)"),
    "cost_per_decision_usd": MetricSpec("USD", "LLM spend / decisions (cache hits included) in the window"),
    "cost_today_usd": MetricSpec("USD", "LLM spend of the current UTC day, summed over processes"),
    "budget_daily_usd": MetricSpec("USD", "the daily budget limit (largest configured)"),
    "tokens_per_call": MetricSpec("tokens", "prompt tokens per provider call in the window"),
    "api_calls_per_cycle": MetricSpec("calls", "exchange HTTP requests / bot cycles in the window"),
    "memory_mb": MetricSpec("MB", "resident memory of the largest process (per process in its series)"),
    "compression_ratio": MetricSpec("ratio", "compressed / original prompt tokens in the window"),
    "decisions_per_min": MetricSpec("1/min", "LLM requests (decisions) per minute in the window"),
}


def is_known_metric(name: str) -> bool:
    return name in METRICS
