"""Counters per tier and for the whole cache; the overall hit rate is the `cache_hit_rate` KPI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TierStats:
    """One tier's lookups (per key), faults and the latency of its round trips."""

    name: str
    hits: int = 0
    misses: int = 0
    errors: int = 0
    up: bool = True
    latency_total_s: float = 0.0
    latency_count: int = 0
    latency_max_s: float = 0.0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def latency_mean_s(self) -> float:
        return self.latency_total_s / self.latency_count if self.latency_count else 0.0

    def observe(self, seconds: float) -> None:
        self.latency_total_s += seconds
        self.latency_count += 1
        if seconds > self.latency_max_s:
            self.latency_max_s = seconds

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hit_rate"] = self.hit_rate
        d["latency_mean_s"] = self.latency_mean_s
        return d


@dataclass
class CacheStats:
    """A snapshot: overall lookups/hits plus one `TierStats` per configured tier."""

    lookups: int = 0
    hits: int = 0
    loads: int = 0
    load_errors: int = 0
    coalesced: int = 0
    invalidations_received: int = 0
    l1_flushes: int = 0
    l1_entries: int = 0
    l1_bytes: int = 0
    l1_evictions: int = 0
    tiers: dict[str, TierStats] = field(default_factory=dict)

    @property
    def misses(self) -> int:
        return self.lookups - self.hits

    @property
    def hit_rate(self) -> float:
        """Hits at any tier / lookups; waiters coalesced onto another caller's load count as misses."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.tiers.values())

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "tiers"}
        d["misses"] = self.misses
        d["hit_rate"] = self.hit_rate
        d["tiers"] = {name: t.as_dict() for name, t in self.tiers.items()}
        return d
