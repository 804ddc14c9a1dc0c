"""From process snapshots to fleet metrics: counters flattened, differenced over a window, then derived.

Counters are cumulative per process (like Prometheus): a window's value is `now - then` per process,
summed over the fleet. A counter that went down was reset (the process restarted or reset its stats):
its window value is then what it counted since. A process that started inside the window counts from
zero; one whose earlier point is unknown contributes nothing to that window (it is not guessed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_oxbot.monitor.metrics import LATENCY_BUCKETS_S, TIERS

__all__ = ["FlatPoint", "WindowMetrics", "derive", "flatten", "quantile", "window_delta"]

Flat = dict[str, float]


@dataclass(frozen=True, slots=True)
class FlatPoint:
    """One process at one time: cumulative counters and current gauges."""

    t: float
    started: float
    counters: Flat
    gauges: Flat


def _f(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else 0.0
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except (InvalidOperation, ValueError):
            return 0.0
    return 0.0


def _add(d: Flat, key: str, value: Any) -> None:
    d[key] = d.get(key, 0.0) + _f(value)


def flatten(snap: Mapping[str, Any], now: float) -> FlatPoint:
    """Sum a snapshot's components of each kind into one set of counters and gauges."""
    c: Flat = {}
    g: Flat = {}
    for cache in (snap.get("caches") or {}).values():
        _add(c, "cache.lookups", cache.get("lookups"))
        _add(c, "cache.hits", cache.get("hits"))
        _add(g, "l1.entries", cache.get("l1_entries"))
        _add(g, "l1.bytes", cache.get("l1_bytes"))
        for tier, ts in (cache.get("tiers") or {}).items():
            if tier in TIERS:
                _add(c, f"tier.{tier}.hits", ts.get("hits"))
                _add(c, f"tier.{tier}.misses", ts.get("misses"))
                _add(c, f"tier.{tier}.errors", ts.get("errors"))
    for llm in (snap.get("llm") or {}).values():
        for m in (llm.get("models") or {}).values():
            for key in (
                "requests",
                "hits",
                "calls",
                "estimated",
                "prompt_tokens",
                "completion_tokens",
                "lat_sum",
                "lat_n",
            ):
                _add(c, f"llm.{key}", m.get(key))
            _add(c, "llm.cost", m.get("cost"))
            for i, n in enumerate(m.get("buckets") or []):
                _add(c, f"llm.bucket.{i}", n)
        _add(g, "llm.cost_today", llm.get("cost_today"))
        limit = llm.get("budget_limit")
        if limit is not None:
            g["llm.budget"] = max(g.get("llm.budget", 0.0), _f(limit))
        if llm.get("stopped"):
            g["llm.stopped"] = 1.0
    for market in (snap.get("markets") or {}).values():
        _add(c, "market.requests", sum(_f(v) for v in (market.get("requests") or {}).values()))
    comp = snap.get("compressor") or {}
    _add(c, "comp.prompts", comp.get("prompts"))
    _add(c, "comp.original", comp.get("original_tokens"))
    _add(c, "comp.compressed", comp.get("compressed_tokens"))
    _add(c, "cycles", snap.get("cycles"))
    mem = snap.get("memory") or {}
    _add(g, "memory.rss", mem.get("rss_bytes"))
    return FlatPoint(t=now, started=_f(snap.get("started")), counters=c, gauges=g)


def window_delta(then: FlatPoint | None, now: FlatPoint, since: float) -> Flat | None:
    """Counters counted by one process between `then` and `now` (None: no basis for this window)."""
    if then is None or then.started != now.started:
        if now.started >= since:  # started (or restarted) inside the window: everything is new
            return dict(now.counters)
        return None
    out: Flat = {}
    for key, value in now.counters.items():
        before = then.counters.get(key, 0.0)
        out[key] = value - before if value >= before else value
    return out


def quantile(q: float, buckets: list[float]) -> float | None:
    """histogram_quantile over per-bucket counts (last bucket +Inf), linear within a bucket."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(buckets):
        if seen + count >= rank and count > 0:
            if i >= len(LATENCY_BUCKETS_S):
                return LATENCY_BUCKETS_S[-1]
            lower = LATENCY_BUCKETS_S[i - 1] if i > 0 else 0.0
            upper = LATENCY_BUCKETS_S[i]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return LATENCY_BUCKETS_S[-1]


@dataclass
class WindowMetrics:
    """Derived metrics and how many events each one rests on (for `min_samples`)."""

    values: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, float] = field(default_factory=dict)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def derive(deltas: Iterable[Flat], gauges: Iterable[Flat], seconds: float) -> WindowMetrics:
    """The named metrics of `metrics.py` from summed window counters and current gauges."""
    d: Flat = {}
    for delta in deltas:
        for key, value in delta.items():
            d[key] = d.get(key, 0.0) + value
    gauge_list = list(gauges)
    out = WindowMetrics()
    v, n = out.values, out.samples
    lookups = d.get("cache.lookups", 0.0)
    v["cache_hit_rate"], n["cache_hit_rate"] = _ratio(d.get("cache.hits", 0.0), lookups), lookups
    for tier in TIERS:
        hits, misses = d.get(f"tier.{tier}.hits", 0.0), d.get(f"tier.{tier}.misses", 0.0)
        v[f"cache_hit_rate.{tier}"], n[f"cache_hit_rate.{tier}"] = _ratio(hits, hits + misses), hits + misses
    calls = d.get("llm.lat_n", 0.0)
    v["llm_response_time"], n["llm_response_time"] = _ratio(d.get("llm.lat_sum", 0.0), calls), calls
    buckets = [d.get(f"llm.bucket.{i}", 0.0) for i in range(len(LATENCY_BUCKETS_S) + 1)]
    for q, name in ((0.5, "llm_latency_p50"), (0.95, "llm_latency_p95"), (0.99, "llm_latency_p99")):
        v[name], n[name] = quantile(q, buckets), calls
    requests = d.get("llm.requests", 0.0)
    v["cost_per_decision_usd"] = _ratio(d.get("llm.cost", 0.0), requests)
    n["cost_per_decision_usd"] = requests
    provider_calls = d.get("llm.calls", 0.0)
    v["tokens_per_call"] = _ratio(d.get("llm.prompt_tokens", 0.0), provider_calls)
    n["tokens_per_call"] = provider_calls
    cycles = d.get("cycles", 0.0)
    v["api_calls_per_cycle"], n["api_calls_per_cycle"] = _ratio(d.get("market.requests", 0.0), cycles), cycles
    prompts = d.get("comp.prompts", 0.0)
    v["compression_ratio"] = _ratio(d.get("comp.compressed", 0.0), d.get("comp.original", 0.0))
    n["compression_ratio"] = prompts
    v["decisions_per_min"] = requests * 60.0 / seconds if seconds > 0 else None
    n["decisions_per_min"] = requests
    if gauge_list:
        v["cost_today_usd"] = sum(g.get("llm.cost_today", 0.0) for g in gauge_list)
        budgets = [g["llm.budget"] for g in gauge_list if "llm.budget" in g]
        v["budget_daily_usd"] = max(budgets) if budgets else None
        v["memory_mb"] = max(g.get("memory.rss", 0.0) for g in gauge_list) / 2**20
        n["cost_today_usd"] = n["budget_daily_usd"] = n["memory_mb"] = float(len(gauge_list))
    else:
        for name in ("cost_today_usd", "budget_daily_usd", "memory_mb"):
            v[name], n[name] = None, 0.0
    return out
