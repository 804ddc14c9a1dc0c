"""Counters per tier and for the whole cache; the overall hit rate is the `cache_hit_rate` KPI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TierStats:
    """One tier's lookups (per key), faults and the latency of its round trips.

    `errors` counts failed round trips (the tier is then skipped for a while); `undecodable` counts
    entries it returned that could not be decoded (each one a miss, the tier stays in use).
    """

    name: str
    hits: int = 0
    misses: int = 0
    errors: int = 0
    undecodable: int = 0
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
    """A snapshot: overall lookups/hits plus one `TierStats` per configured tier.

    The degraded-mode events (each one safe, each one counted): `l1_flushes` (L1 dropped because the
    invalidation channel was lost or could not be proved alive), `heartbeat_misses` (the channel did
    not answer its liveness check in time), `stray_messages` (messages on the channel that were not
    ours, ignored), `lock_lost` (a single-flight lock expired or was evicted while its holder loaded:
    the loader may have run twice), `promotions_reverted` (an L3 value copied into L2 was deleted or
    replaced in L3 meanwhile, so the copy was removed). `eviction_policy` is the L2 server's
    `maxmemory-policy` as read at start (None: unknown); `eviction_warnings` is 1 when it is an
    `allkeys-*` policy, under which Redis may evict any key.
    """

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
    heartbeat_misses: int = 0
    stray_messages: int = 0
    lock_lost: int = 0
    promotions_reverted: int = 0
    eviction_policy: str | None = None
    eviction_warnings: int = 0
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

    @property
    def undecodable(self) -> int:
        return sum(t.undecodable for t in self.tiers.values())

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "tiers"}
        d["misses"] = self.misses
        d["hit_rate"] = self.hit_rate
        d["errors"] = self.errors
        d["undecodable"] = self.undecodable
        d["tiers"] = {name: t.as_dict() for name, t in self.tiers.items()}
        return d
