"""The cost ledger behind `get_comprehensive_cost_report()`: every figure comes from recorded calls.

Why a ledger and not counters: 0xBot's report showed placeholder savings. Here each request (cache
hit or provider call) is one record with its real usage-priced cost, so hit rate, spend by model and by
day, savings and the monthly projection can be recomputed and checked in a test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean
from typing import Any

__all__ = ["CallRecord", "CostLedger"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request to the client: a cache hit costs nothing and saves what the original call cost."""

    timestamp: float
    model: str
    cache_hit: bool
    cost: Decimal
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    latency_s: float
    saved_by_cache: Decimal = ZERO
    saved_by_compression: Decimal = ZERO
    estimated: bool = False  # cost charged at the reserved maximum (e.g. a timed-out attempt)

    @property
    def day(self) -> str:
        return dt.datetime.fromtimestamp(self.timestamp, tz=dt.UTC).date().isoformat()


class CostLedger:
    """Append-only list of `CallRecord`s with the report computed from them."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def add(self, record: CallRecord) -> None:
        self.records.append(record)

    def report(self) -> dict[str, Any]:
        """Hit rate, spend by model and day, savings, projected monthly cost (USD as exact strings)."""
        recs = self.records
        requests = [r for r in recs if not r.estimated]
        hits = sum(1 for r in requests if r.cache_hit)
        total = sum((r.cost for r in recs), ZERO)
        by_model: dict[str, Decimal] = {}
        by_day: dict[str, Decimal] = {}
        for r in recs:
            by_model[r.model] = by_model.get(r.model, ZERO) + r.cost
            by_day[r.day] = by_day.get(r.day, ZERO) + r.cost
        saved_cache = sum((r.saved_by_cache for r in recs), ZERO)
        saved_compression = sum((r.saved_by_compression for r in recs), ZERO)
        # Mean spend of the days with activity x 30: a plain, checkable projection (no extrapolation
        # from a few minutes of one day, which would explode).
        projected = (total / len(by_day) * 30) if by_day else ZERO
        misses = [r for r in requests if not r.cache_hit]
        return {
            "requests": len(requests),
            "llm_calls": len(misses),
            "cache_hits": hits,
            "cache_hit_rate": hits / len(requests) if requests else 0.0,
            "total_cost_usd": str(total),
            "cost_per_request_usd": str(total / len(requests)) if requests else "0",
            "spend_by_model_usd": {m: str(v) for m, v in sorted(by_model.items())},
            "spend_by_day_usd": {d: str(v) for d, v in sorted(by_day.items())},
            "savings_usd": {
                "cache": str(saved_cache),
                "compression": str(saved_compression),
                "total": str(saved_cache + saved_compression),
            },
            "projected_monthly_cost_usd": str(projected),
            "tokens": {
                "prompt": sum(r.prompt_tokens for r in misses),
                "cached_prompt": sum(r.cached_prompt_tokens for r in misses),
                "completion": sum(r.completion_tokens for r in misses),
            },
            "mean_latency_s": fmean(r.latency_s for r in requests) if requests else 0.0,
            "estimated_charges": sum(1 for r in recs if r.estimated),
            "cost_optimization": _optimization(total, saved_cache, saved_compression, hits, len(requests)),
        }


def _optimization(
    spent: Decimal, by_cache: Decimal, by_compression: Decimal, hits: int, requests: int
) -> dict[str, Any]:
    """What the optimisations saved, from the same records: the guide's `cost_optimization` section."""
    saved = by_cache + by_compression
    without = spent + saved
    return {
        "calls_avoided_by_cache": hits,
        "requests": requests,
        "saved_by_cache_usd": str(by_cache),
        "saved_by_compression_usd": str(by_compression),
        "saved_total_usd": str(saved),
        "cost_without_optimizations_usd": str(without),
        "cost_with_optimizations_usd": str(spent),
        "savings_ratio": float(saved / without) if without else 0.0,
    }
